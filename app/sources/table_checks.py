"""The checks within one table: types, nullability, enums, unique ids, ranges, NUL characters.

How the checks run. Type coercion and the bookkeeping are vectorised pandas. The column rules
(nullability, enums, unique ids, ranges) run through a pandera schema built from
:mod:`app.sources.contract` for tables up to ``pandera_row_limit`` rows (default 500,000). Larger
tables (10M activity events) get the same column rules as vectorised pandas checks after pandera
has checked only the schema (columns and dtypes): pandera's lazy per-check bookkeeping measured
~40 s on 10M rows against ~6 s for the equivalent pandas masks, and the two paths produce the
same problems (``tests/app/sources/test_row_problems.py`` asserts it).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pandera.pandas as pa_schema
import pyarrow as pa
import pyarrow.compute as pc
from pandera.errors import SchemaErrors

from app.sources.coercion import blank_to_na, coerce_values
from app.sources.contract import TABLES, Column, Table
from app.sources.validation_report import PROBLEM_COLUMNS, ROW_RULES

_TYPE_WORDS = {
    "timestamp": "an ISO 8601 timestamp",
    "date": "a date YYYY-MM-DD",
    "bool": "a boolean (true/false, 1/0, yes/no)",
    "int": "a whole number",
    "float": "a number",
    "str": "text",
}


def pandera_schema(table: Table, *, checks: bool = True) -> pa_schema.DataFrameSchema:
    """A pandera schema for the typed form of ``table``.

    With ``checks=False`` only columns and dtypes are checked (everything nullable, no uniqueness):
    the form used on tables too large for pandera's per-check bookkeeping.
    """
    dtypes = {
        "str": "str",
        "timestamp": pd.DatetimeTZDtype("us", "UTC"),
        "date": pd.DatetimeTZDtype("us", "UTC"),
        "bool": "boolean",
        "int": "Int64",
        "float": "float64",
    }
    columns: dict[str, pa_schema.Column] = {}
    for col in table.columns:
        col_checks: list[pa_schema.Check] = []
        if checks and col.enum is not None:
            col_checks.append(pa_schema.Check.isin(list(col.enum)))
        if checks and col.minimum is not None:
            col_checks.append(pa_schema.Check.ge(col.minimum))
        if checks and col.maximum is not None:
            col_checks.append(pa_schema.Check.le(col.maximum))
        columns[col.name] = pa_schema.Column(
            dtypes[col.type],
            checks=col_checks,
            nullable=col.nullable or not checks,
            unique=col.unique and checks,
            report_duplicates="all",
        )
    return pa_schema.DataFrameSchema(columns, strict=False, name=table.name)


def _rule_of_pandera_check(check: str) -> str:
    if check == "not_nullable":
        return "missing_value"
    if check.startswith("isin"):
        return "unknown_enum"
    if check == "field_uniqueness":
        return "duplicate_id"
    if check.startswith(("greater_than", "less_than", "in_range")):
        return "out_of_range"
    return "wrong_type"


def _row_message(rule: str, column: Column) -> str:
    if rule == "wrong_type":
        return f"is not {_TYPE_WORDS[column.type]}"
    if rule == "missing_value":
        return "is empty but the column is required"
    if rule == "unknown_enum":
        return f"is not one of {', '.join(column.enum or ())}"
    if rule == "duplicate_id":
        return f"{column.name} must be unique; this value appears more than once"
    if rule == "out_of_range":
        low = "" if column.minimum is None else f"≥ {column.minimum:g}"
        high = "" if column.maximum is None else f"≤ {column.maximum:g}"
        return "must be " + " and ".join(x for x in (low, high) if x)
    return ROW_RULES.get(rule, rule)


def row_problems(
    raw: pd.Series, mask: pd.Series | np.ndarray, *, file: str, table: str, column: str, rule: str
) -> pd.DataFrame:
    """One ``rule`` problem per row of ``raw`` where ``mask`` is true, numbered like a CSV file."""
    picked = raw[np.asarray(mask, dtype=bool)]
    return pd.DataFrame(
        {
            "file": file,
            "table": table,
            "row": picked.index.to_numpy() + 2,
            "column": column,
            "value": picked.astype("str").to_numpy(dtype=object),
            "rule": rule,
            "message": _row_message(rule, TABLES[table].column(column))
            if column in TABLES[table].column_names
            else ROW_RULES.get(rule, rule),
        },
        columns=PROBLEM_COLUMNS,
    )


def _duplicated(values: pd.Series) -> pd.Series:
    """All occurrences of values that appear more than once (pyarrow's hash count is faster)."""
    try:
        counts = pc.value_counts(pa.array(values.dropna(), from_pandas=True))
    except (pa.ArrowException, TypeError):
        return values.duplicated(keep=False)
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    if len(repeated) == 0:
        return pd.Series(False, index=values.index)
    return values.isin(repeated.to_pylist())


def _column_rules_pandas(typed: pd.Series, col: Column) -> dict[str, pd.Series]:
    """Masks of rows breaking ``col``'s nullability, enum, uniqueness and range rules."""
    masks: dict[str, pd.Series] = {}
    present = typed.notna()
    if not col.nullable:
        masks["missing_value"] = ~present
    if col.enum is not None:
        masks["unknown_enum"] = present & ~typed.isin(col.enum)
    if col.unique:
        masks["duplicate_id"] = present & _duplicated(typed)
    if col.minimum is not None or col.maximum is not None:
        out = pd.Series(False, index=typed.index)
        if col.minimum is not None:
            out |= (typed < col.minimum).fillna(False).astype(bool)
        if col.maximum is not None:
            out |= (typed > col.maximum).fillna(False).astype(bool)
        masks["out_of_range"] = present & out
    return masks


def _column_rules_pandera(
    typed: pd.DataFrame, table: Table, raw: pd.DataFrame, file: str
) -> list[pd.DataFrame]:
    try:
        pandera_schema(table).validate(typed, lazy=True, inplace=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna() & cases["column"].isin(table.column_names)]
        out = []
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            rule = _rule_of_pandera_check(str(check))
            mask = pd.Series(False, index=raw.index)
            mask.loc[group["index"].astype("int64").to_numpy()] = True
            out.append(
                row_problems(
                    raw[str(column)],
                    mask,
                    file=file,
                    table=table.name,
                    column=str(column),
                    rule=rule,
                )
            )
        return out
    return []


def check_table(
    raw: pd.DataFrame, table: Table, file: str, formats: Mapping[str, str], pandera_row_limit: int
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """``raw`` typed as ``table`` and the frames of the row problems found in it."""
    found: list[pd.DataFrame] = []
    typed_cols: dict[str, pd.Series] = {}
    for col in table.columns:
        source = raw[col.name]
        blanked = blank_to_na(source)
        typed = coerce_values(blanked, col, formats.get(col.name))
        wrong = typed.isna() & blanked.notna()
        if wrong.any():
            found.append(
                row_problems(
                    source, wrong, file=file, table=table.name, column=col.name, rule="wrong_type"
                )
            )
        typed_cols[col.name] = typed
    extras = {c: raw[c] for c in raw.columns if c not in typed_cols}
    typed_frame = pd.DataFrame({**typed_cols, **extras}, index=raw.index)
    if len(raw) <= pandera_row_limit:
        found.extend(_column_rules_pandera(typed_frame, table, raw, file))
    else:
        # Schema (columns, dtypes) through pandera; the row rules as vectorised masks.
        pandera_schema(table, checks=False).validate(typed_frame, lazy=True, inplace=True)
        for col in table.columns:
            for rule, mask in _column_rules_pandas(typed_cols[col.name], col).items():
                if mask.any():
                    found.append(
                        row_problems(
                            raw[col.name],
                            mask,
                            file=file,
                            table=table.name,
                            column=col.name,
                            rule=rule,
                        )
                    )
    found.extend(_nul_characters(raw, table.name, file))
    return typed_frame, found


def _nul_characters(raw: pd.DataFrame, table: str, file: str) -> list[pd.DataFrame]:
    """Rows whose text (in any column, evidence columns too) holds a NUL character: PostgreSQL
    refuses it in text and JSON, so it would fail a detection run long after the import."""
    out = []
    for column in raw.columns:
        values = raw[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            # Evidence columns of few distinct texts: look at each text once.
            categories = pd.Series(values.cat.categories)
            if not categories.astype("str").str.contains("\x00", regex=False).any():
                continue
            values = values.astype("str")
        elif values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
            continue
        try:
            hits = pc.match_substring(pa.array(values, type=pa.string(), from_pandas=True), "\x00")
        except (pa.ArrowException, TypeError):
            continue  # not all text: a typed column from an importer
        mask = hits.fill_null(False).to_numpy(zero_copy_only=False)
        if mask.any():
            frame = row_problems(
                values.astype("str").str.replace("\x00", "\u2400", regex=False),  # shown as ␀
                mask,
                file=file,
                table=table,
                column=str(column),
                rule="nul_character",
            )
            frame["message"] = "holds a NUL character (\\x00); remove it from the source"
            out.append(frame)
    return out
