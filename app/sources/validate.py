"""Validation of contract tables: typing, row rules, references, and the problem report.

The input is one DataFrame per table as read from a file (every cell a string, empty = null) or as
produced by an importer (already typed). :func:`validate_tables` coerces each column to its
contract type, collects *every* problem (it never stops at the first), and either accepts the
tables whole, or, in quarantine mode, sets aside the rows that broke a row-level rule.

How the checks run. Type coercion, references and the bookkeeping are vectorised pandas. The
column rules (nullability, enums, unique ids, ranges) run through a pandera schema built from
:mod:`app.sources.contract` for tables up to ``pandera_row_limit`` rows (default 500,000). Larger
tables (10M activity events) get the same column rules as vectorised pandas checks after pandera
has checked only the schema (columns and dtypes): pandera's lazy per-check bookkeeping measured
~40 s on 10M rows against ~6 s for the equivalent pandas masks, and the two paths produce the
same problems (``tests/sources/test_sources_validate.py`` asserts it).

Row numbers count like a CSV file: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa_schema
import pyarrow as pa
import pyarrow.compute as pc
from pandera.errors import SchemaErrors

from app.sources.contract import FALSE_WORDS, TABLES, TRUE_WORDS, Column, Table

ProgressCallback = Callable[[int, int, str], None]

PANDERA_ROW_LIMIT = 500_000

# Rules a problem can break. Table-level rules fail the whole import even in quarantine mode.
TABLE_RULES: dict[str, str] = {
    "missing_table": "a required table is absent",
    "missing_column": "a required column is absent",
    "duplicate_table": "a table is given by more than one file",
    "empty_file": "the file is empty (not even a header row)",
    "not_utf8": "a CSV file must be UTF-8",
    "not_gzip": "a .gz file must be gzip-compressed",
    "bad_csv": "the file is not well-formed CSV",
    "bad_parquet": "the file is not a readable Parquet file",
    "bad_snapshot_toml": "snapshot.toml is not valid",
    "no_as_of": "without as_of in snapshot.toml the snapshot needs at least one timestamp",
}
ROW_RULES: dict[str, str] = {
    "wrong_type": "the value is not of the column's type",
    "missing_value": "the column may not be empty",
    "unknown_enum": "the value is not one the column allows",
    "out_of_range": "the number is outside the allowed range",
    "duplicate_id": "the identifier appears more than once",
    "dangling_reference": "the value names a row that does not exist",
    "nul_character": "the text holds a NUL character, which the database cannot store",
}
RULES = {**TABLE_RULES, **ROW_RULES}

PROBLEM_COLUMNS = ["file", "table", "row", "column", "value", "rule", "message"]

_TYPE_WORDS = {
    "timestamp": "an ISO 8601 timestamp",
    "date": "a date YYYY-MM-DD",
    "bool": "a boolean (true/false, 1/0, yes/no)",
    "int": "a whole number",
    "float": "a number",
    "str": "text",
}


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (file, row, column), what (value) and which rule."""

    file: str
    rule: str
    message: str
    table: str = ""
    row: int | None = None
    column: str | None = None
    value: str | None = None

    @property
    def table_level(self) -> bool:
        """Whether this problem fails the whole import even in quarantine mode."""
        return self.rule in TABLE_RULES

    def __str__(self) -> str:
        where = [self.file or self.table or "snapshot"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        value = f" value {self.value!r}:" if self.value is not None else ""
        return f"{', '.join(where)}:{value} {self.message} [{self.rule}]"


def _problem_frame(rows: Iterable[Problem]) -> pd.DataFrame:
    records = [
        {
            "file": p.file,
            "table": p.table,
            "row": p.row,
            "column": p.column,
            "value": p.value,
            "rule": p.rule,
            "message": p.message,
        }
        for p in rows
    ]
    return pd.DataFrame(records, columns=PROBLEM_COLUMNS)


@dataclass
class ValidationReport:
    """All problems found, row counts and warnings; renders the first 50 in full, then counts."""

    problems: pd.DataFrame = field(default_factory=lambda: _problem_frame([]))
    row_counts: dict[str, int] = field(default_factory=dict)
    quarantined_counts: dict[str, int] = field(default_factory=dict)
    skipped_tables: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    accepted: bool = False

    @property
    def table_problems(self) -> pd.DataFrame:
        """The problems that fail the whole import whatever the mode."""
        return self.problems[self.problems["rule"].isin(list(TABLE_RULES))]

    def counts_by_rule(self) -> dict[str, int]:
        """How many problems broke each rule, most frequent first."""
        counts = self.problems["rule"].value_counts()
        return {str(k): int(v) for k, v in counts.items()}

    def iter_problems(self, limit: int | None = None) -> list[Problem]:
        """The problems as :class:`Problem` records, in the order found (first ``limit``)."""
        frame = self.problems if limit is None else self.problems.head(limit)
        out = []
        for rec in frame.to_dict("records"):
            row = rec["row"]
            out.append(
                Problem(
                    file=str(rec["file"]),
                    rule=str(rec["rule"]),
                    message=str(rec["message"]),
                    table=str(rec["table"]),
                    row=None if pd.isna(row) else int(row),
                    column=None if pd.isna(rec["column"]) else str(rec["column"]),
                    value=None if pd.isna(rec["value"]) else str(rec["value"]),
                )
            )
        return out

    def render(self, limit: int = 50) -> str:
        """A person-readable report: verdict, the first ``limit`` problems, counts per rule."""
        total = len(self.problems)
        lines = []
        if self.accepted:
            held = sum(self.quarantined_counts.values())
            verdict = "accepted" + (f" with {held} row(s) in quarantine" if held else "")
        else:
            verdict = f"rejected: {total} problem(s); nothing was imported"
        lines.append(f"Snapshot {verdict}.")
        for name, count in self.row_counts.items():
            held = self.quarantined_counts.get(name, 0)
            lines.append(f"  {name}: {count} row(s)" + (f", {held} quarantined" if held else ""))
        for name, why in self.skipped_tables.items():
            lines.append(f"  {name}: absent ({why})")
        lines.extend(f"Warning: {w}" for w in self.warnings)
        if total:
            lines.append(f"Problems (first {min(limit, total)} of {total}):")
            lines.extend(f"  {p}" for p in self.iter_problems(limit))
            lines.append("Problems per rule:")
            lines.extend(
                f"  {rule}: {count} ({RULES.get(rule, '')})"
                for rule, count in self.counts_by_rule().items()
            )
        return "\n".join(lines)


@dataclass
class ValidatedTables:
    """The outcome of :func:`validate_tables`: typed tables, quarantined rows and the report."""

    tables: dict[str, pd.DataFrame]
    quarantined: dict[str, pd.DataFrame]
    report: ValidationReport


# --------------------------------------------------------------------------- type coercion


def _blank_to_na(raw: pd.Series) -> pd.Series:
    """Strings with only whitespace count as empty cells."""
    if not (pd.api.types.is_string_dtype(raw) or raw.dtype == object):
        return raw
    text = raw.astype("str")
    blank = text.str.strip() == ""
    # Whitespace-only cells are rare; skipping the masked copy saves a column's worth of memory.
    return text.mask(blank) if blank.any() else text


def _to_utc(values: pd.Series) -> pd.Series:
    if getattr(values.dt, "tz", None) is None:
        return values.dt.tz_localize("UTC")
    return values.dt.tz_convert("UTC")


def coerce_column(raw: pd.Series, column: Column, fmt: str | None = None) -> pd.Series:
    """``raw`` as the contract type of ``column``; values that do not parse become null.

    ``fmt`` is a strptime format for date and timestamp columns (from a mapping file); without it
    timestamps are ISO 8601 (no offset = UTC) and dates ``YYYY-MM-DD``.
    """
    return _coerce(_blank_to_na(raw), column, fmt)


def _coerce(values: pd.Series, column: Column, fmt: str | None) -> pd.Series:
    kind = column.type
    if kind == "str":
        if pd.api.types.is_float_dtype(values):
            # Parquet stores integer ids with holes as floats; 7.0 is the id "7".
            whole = values.dropna()
            if (whole == np.floor(whole)).all():
                return values.astype("Int64").astype("str").mask(values.isna())
        text = values.astype("str")
        if column.enum is not None:
            # Enum spellings are forgiving about case and surrounding blanks.
            text = text.str.strip().str.lower()
        return text
    if kind in ("timestamp", "date"):
        if pd.api.types.is_datetime64_any_dtype(values):
            parsed = values
        elif values.dtype == object and not values.dropna().map(type).eq(str).all():
            parsed = pd.to_datetime(values, errors="coerce", utc=True)
        else:
            text = values.astype("str").str.strip()
            if fmt is not None:
                parsed = pd.to_datetime(text, format=fmt, errors="coerce")
            elif kind == "date":
                parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
            else:
                parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        parsed = _to_utc(parsed)
        if kind == "date":
            parsed = parsed.dt.normalize()
        return parsed.astype("datetime64[us, UTC]")
    if kind == "bool":
        if pd.api.types.is_bool_dtype(values):
            return values.astype("boolean")
        if pd.api.types.is_numeric_dtype(values):
            return values.map({1: True, 0: False}).astype("boolean")
        text = values.astype("str").str.strip().str.lower()
        out = pd.Series(pd.NA, index=values.index, dtype="boolean")
        out[text.isin(TRUE_WORDS)] = True
        out[text.isin(FALSE_WORDS)] = False
        return out
    # int and float
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
    else:
        text = values.astype("str")
        try:
            # The direct cast is twice as fast as to_numeric, and fails on any bad value.
            numbers = text.astype("float64")
        except (ValueError, TypeError, pa.ArrowException):
            numbers = pd.to_numeric(text.str.strip(), errors="coerce").astype("float64")
    numbers = numbers.where(np.isfinite(numbers))
    if kind == "int":
        numbers = numbers.where(numbers == np.floor(numbers))
        return numbers.astype("Int64")
    return numbers


# --------------------------------------------------------------------------- row rules


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


def _rows_frame(
    raw: pd.Series, mask: pd.Series | np.ndarray, *, file: str, table: str, column: str, rule: str
) -> pd.DataFrame:
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
        pandera_schema(table).validate(typed, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna() & cases["column"].isin(table.column_names)]
        out = []
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            rule = _rule_of_pandera_check(str(check))
            mask = pd.Series(False, index=raw.index)
            mask.loc[group["index"].astype("int64").to_numpy()] = True
            out.append(
                _rows_frame(
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


# --------------------------------------------------------------------------- the validator


def validate_tables(
    raw_tables: Mapping[str, pd.DataFrame],
    *,
    files: Mapping[str, str] | None = None,
    quarantine: bool = False,
    formats: Mapping[str, Mapping[str, str]] | None = None,
    table_problems: Iterable[Problem] = (),
    pandera_row_limit: int = PANDERA_ROW_LIMIT,
    progress: ProgressCallback | None = None,
) -> ValidatedTables:
    """Type and check contract tables; accept them whole, or (quarantine) set bad rows aside.

    ``raw_tables`` maps table names to frames (strings as read, or typed). ``files`` names the
    file each table came from, for messages. ``table_problems`` are problems found while reading
    (missing or unreadable files); any of them, or any problem at all without ``quarantine``,
    rejects the snapshot: the result then holds no tables.
    """
    files = dict(files or {})
    formats = formats or {}
    found: list[pd.DataFrame] = [_problem_frame(table_problems)]
    report = ValidationReport()
    typed_tables: dict[str, pd.DataFrame] = {}
    raw_kept: dict[str, pd.DataFrame] = {}
    names = [n for n in TABLES if n in raw_tables]
    total = len(names) + 1
    for step, name in enumerate(names, start=1):
        table = TABLES[name]
        raw = raw_tables[name].reset_index(drop=True)
        file = files.setdefault(name, f"{name}.csv")
        if progress:
            progress(step - 1, total, f"validating {name} ({len(raw):,} rows)")
        missing = [c for c in table.column_names if c not in raw.columns]
        if missing:
            found.append(
                _problem_frame(
                    Problem(
                        file=file,
                        table=name,
                        column=c,
                        rule="missing_column",
                        message=f"required column {c!r} is absent "
                        f"(columns found: {', '.join(map(str, raw.columns)) or 'none'})",
                    )
                    for c in missing
                )
            )
            continue
        typed, table_found = _check_table(
            raw, table, file, formats.get(name, {}), pandera_row_limit
        )
        found.extend(table_found)
        typed_tables[name] = typed
        raw_kept[name] = raw
    for name, table in TABLES.items():
        if name not in raw_tables and not table.required:
            report.skipped_tables[name] = "optional table not in the snapshot"

    problems = pd.concat(found, ignore_index=True)
    # A value that did not parse is also null after coercion; report it once, as wrong_type.
    problems = problems.drop_duplicates(["table", "row", "column", "rule"])
    row_level = problems[problems["row"].notna()]
    problems = problems[
        ~(problems["row"].notna() & problems.duplicated(["table", "row", "column"], keep="first"))
    ]

    # References are checked against the rows that will be kept, so that quarantining a user
    # also sets aside the enrolments that would point at nothing.
    bad_rows = {
        name: set(group["row"].astype("int64")) for name, group in row_level.groupby("table")
    }
    kept_ids: dict[tuple[str, str], pd.Series] = {}
    ref_found: list[pd.DataFrame] = []
    if progress:
        progress(total - 1, total, "checking references between tables")
    for name in names:
        if name not in typed_tables:
            continue
        for ref in TABLES[name].references:
            if not ref.enforced:
                continue
            key = (ref.target_table, ref.target_column)
            if key not in kept_ids:
                target = typed_tables.get(ref.target_table)
                if target is None:
                    continue  # the target table's own problem is already reported
                drop = bad_rows.get(ref.target_table, set()) if quarantine else set()
                keep = ~pd.Series(target.index + 2).isin(drop).to_numpy()
                kept_ids[key] = target[ref.target_column][keep].dropna()
            typed = typed_tables[name][ref.column]
            mask = typed.notna() & ~typed.isin(kept_ids[key])
            if mask.any():
                frame = _rows_frame(
                    raw_kept[name][ref.column],
                    mask,
                    file=files[name],
                    table=name,
                    column=ref.column,
                    rule="dangling_reference",
                )
                frame["message"] = (
                    f"names no row of {ref.target_table} ({ref.target_table}.{ref.target_column})"
                )
                ref_found.append(frame)
    if ref_found:
        problems = pd.concat([problems, *ref_found], ignore_index=True)
    # Table-level problems first, then by table in contract order, row, column.
    order = {n: i for i, n in enumerate(TABLES)}
    problems = problems.assign(
        _level=problems["row"].notna(), _table=problems["table"].map(order).fillna(-1)
    )
    problems = problems.sort_values(["_level", "_table", "row"], kind="stable")
    problems = problems.drop(columns=["_level", "_table"]).reset_index(drop=True)
    problems["row"] = problems["row"].astype("Int64")

    report.problems = problems
    report.warnings.extend(
        f"{files.get(n, n)}: extra columns kept as evidence: {', '.join(extra)}"
        for n, frame in raw_tables.items()
        if n in TABLES and (extra := [c for c in frame.columns if c not in TABLES[n].column_names])
    )
    has_table_problems = problems["rule"].isin(list(TABLE_RULES)).any()
    accepted = not has_table_problems and (quarantine or problems.empty)
    report.accepted = bool(accepted)
    if progress:
        progress(total, total, "validated")
    if not accepted:
        return ValidatedTables({}, {}, report)

    tables: dict[str, pd.DataFrame] = {}
    quarantined: dict[str, pd.DataFrame] = {}
    by_table = {str(n): g for n, g in problems.groupby("table")}
    for name in names:
        typed = typed_tables[name]
        group = by_table.get(name)
        if group is not None and not group.empty:
            rows = group["row"].astype("int64")
            reasons = (
                group.assign(
                    reason=group["rule"]
                    + ": "
                    + group["column"].astype("str")
                    + "="
                    + group["value"].astype("str").fillna("").str.slice(0, 80)
                )
                .groupby(rows)["reason"]
                .agg("; ".join)
            )
            bad = pd.Series(typed.index + 2, index=typed.index).isin(reasons.index)
            held = raw_kept[name][bad.to_numpy()].copy()
            held.insert(0, "_row", held.index + 2)
            held["_reasons"] = reasons.reindex(held["_row"]).to_numpy()
            quarantined[name] = held.reset_index(drop=True)
            typed = typed[~bad.to_numpy()].reset_index(drop=True)
            report.quarantined_counts[name] = len(held)
        tables[name] = _final_dtypes(typed, TABLES[name])
        report.row_counts[name] = len(tables[name])
    return ValidatedTables(tables, quarantined, report)


def _check_table(
    raw: pd.DataFrame, table: Table, file: str, formats: Mapping[str, str], pandera_row_limit: int
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    found: list[pd.DataFrame] = []
    typed_cols: dict[str, pd.Series] = {}
    for col in table.columns:
        source = raw[col.name]
        blanked = _blank_to_na(source)
        typed = _coerce(blanked, col, formats.get(col.name))
        wrong = typed.isna() & blanked.notna()
        if wrong.any():
            found.append(
                _rows_frame(
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
        pandera_schema(table, checks=False).validate(typed_frame, lazy=True)
        for col in table.columns:
            for rule, mask in _column_rules_pandas(typed_cols[col.name], col).items():
                if mask.any():
                    found.append(
                        _rows_frame(
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
        if values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
            continue
        try:
            hits = pc.match_substring(pa.array(values, type=pa.string(), from_pandas=True), "\x00")
        except (pa.ArrowException, TypeError):
            continue  # not all text: a typed column from an importer
        mask = hits.fill_null(False).to_numpy(zero_copy_only=False)
        if mask.any():
            frame = _rows_frame(
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


def _final_dtypes(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Required bool and int columns lose their nullable wrapper once they are known complete."""
    out = frame.copy()
    for col in table.columns:
        if col.nullable:
            continue
        if col.type == "bool":
            out[col.name] = out[col.name].astype(bool)
        elif col.type == "int":
            out[col.name] = out[col.name].astype("int64")
    return out


def latest_timestamp(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp | None:
    """The latest timestamp in any timestamp column of the contract tables, or None."""
    latest: Any = None
    for name, frame in tables.items():
        if name not in TABLES:
            continue
        for col in TABLES[name].columns:
            if col.type == "timestamp" and col.name in frame:
                value = frame[col.name].max()
                if pd.notna(value) and (latest is None or value > latest):
                    latest = value
    return latest
