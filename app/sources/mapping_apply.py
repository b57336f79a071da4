"""A mapping applied to one source file: read it (with or without a header), blank its null
tokens, keep the rows its filters pass, fill templates and day offsets, rename, respell, add
constants, and say what it did in words (warnings) and where it could not (problems).

Row numbers in the problems count like validation's (the first data row is 2) over the rows the
filters kept; :attr:`MappedTable.file_rows` turns them back into the file's own row numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from app.core.errors import UserError
from app.sources.contract import TABLES
from app.sources.files import read_table_file
from app.sources.mapping_files import redact_read_problem, renumber_rows
from app.sources.mapping_format import TableMapping, load_mapping
from app.sources.mapping_join import apply_join, fold_repeats
from app.sources.mapping_parts import (
    apply_day_offset,
    blank_null_tokens,
    filter_mask,
    render_template,
)
from app.sources.result import ImportReport, ImportResult
from app.sources.validation_report import Problem

if TYPE_CHECKING:
    from app.sources.validation_report import ValidationReport


@dataclass
class MappedTable:
    """The mapped frame, what the mapping could not do, and notes for the report."""

    frame: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The file's row number of each mapped row (header = row 1, when the file has one).
    file_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))


def read_mapped_file(
    path: Path, mapping: TableMapping, *, named: bool = False, notes: list[str] | None = None
) -> tuple[pd.DataFrame | None, Problem | None]:
    """The file's rows as text; a headerless file gets the mapping's ``column_names``, and the
    mapping's joins bring in columns of other files of the same folder.

    ``named``: the mapping named this file, so a problem reading it quotes nothing of it.
    ``notes`` receives a line per join saying how many rows found their partner.
    """
    notes = [] if notes is None else notes
    frame, problem = read_table_file(
        path,
        table=mapping.table,
        delimiter=mapping.delimiter,
        encoding=mapping.encoding,
        header=not mapping.column_names,
    )
    if problem is not None and named:
        problem = redact_read_problem(problem)
    if frame is None:
        return frame, problem
    if mapping.column_names:
        frame, problem = _name_columns(frame, path, mapping)
    for join in mapping.joins:
        if frame is None:
            break
        frame, problem, note = apply_join(
            frame, join, folder=path.parent, file=path.name, table=mapping.table
        )
        if note:
            notes.append(note)
    return frame, problem


def _name_columns(
    frame: pd.DataFrame, path: Path, mapping: TableMapping
) -> tuple[pd.DataFrame | None, Problem | None]:
    names = mapping.column_names
    if path.name.endswith(".parquet"):
        return None, Problem(
            file=path.name,
            table=mapping.table,
            rule="bad_csv",
            message="is Parquet, which names its columns; column_names is for CSV files "
            "without a header row, so remove it",
        )
    if len(frame.columns) != len(names):
        return None, Problem(
            file=path.name,
            table=mapping.table,
            rule="bad_csv",
            message=f"has {len(frame.columns)} column(s) but column_names lists {len(names)}; "
            "list one name per column, in the file's order (check the delimiter too)",
        )
    frame.columns = list(names)
    return frame, None


def _missing(file: str, table: str, column: str, message: str) -> Problem:
    return Problem(file=file, table=table, column=column, rule="missing_column", message=message)


def _row_problems(
    mask: pd.Series, *, file: str, table: str, column: str, rule: str, message: str,
    values: pd.Series,
) -> list[Problem]:  # fmt: skip
    hits = np.flatnonzero(mask.to_numpy())
    return [
        Problem(
            file=file, table=table, row=int(pos) + 2, column=column, rule=rule,
            value=None if pd.isna(values.iloc[pos]) else str(values.iloc[pos])[:200],
            message=message,
        )
        for pos in hits
    ]  # fmt: skip


def map_table(
    frame: pd.DataFrame, mapping: TableMapping, *, file: str | None = None
) -> MappedTable:
    """``frame`` through ``mapping`` (vectorised); unmapped source columns are kept as extras.

    A source column the mapping reads but the file lacks is a ``missing_column`` problem naming
    the contract column it was to fill; a day offset that is not a whole number of days, or
    whose anchor is unknown, is a row problem.
    """
    table, file = mapping.table, file or mapping.file or f"{mapping.table}.csv"
    contract = TABLES[table]
    first_row = 1 if mapping.column_names else 2
    out = blank_null_tokens(frame.reset_index(drop=True), mapping.nulls, mapping.column_nulls)
    result = MappedTable(frame=out, file_rows=np.arange(len(out), dtype="int64") + first_row)

    absent_filters = [f for f in mapping.filters if f.column not in out.columns]
    for row_filter in absent_filters:
        result.problems.append(
            _missing(file, table, row_filter.column,
                     f"the filter on source column {row_filter.column!r} cannot run: the file "
                     "has no such column")
        )  # fmt: skip
    if mapping.filters and not absent_filters:
        keep = pd.Series(True, index=out.index)
        for row_filter in mapping.filters:
            keep &= filter_mask(out[row_filter.column], row_filter)
        kept = int(keep.sum())
        shown = "; ".join(f.describe() for f in mapping.filters)
        result.warnings.append(
            f"{file}: the mapping's filters ({shown}) kept {kept:,} of {len(out):,} row(s)"
            + ("; check the filter values" if kept == 0 and len(out) else "")
        )
        result.file_rows = result.file_rows[keep.to_numpy()]
        out = out[keep.to_numpy()].reset_index(drop=True)

    derived: dict[str, pd.Series] = {}
    for column, template in mapping.templates.items():
        if lacking := [c for c in template.columns if c not in out.columns]:
            result.problems.append(
                _missing(file, table, column,
                         f"the template {template.text!r} needs source column {lacking[0]!r}, "
                         "which the file does not have")
            )  # fmt: skip
            continue
        derived[column] = render_template(out, template)
    for column, offset in mapping.day_offsets.items():
        if lacking := [c for c in offset.source_columns if c not in out.columns]:
            result.problems.append(
                _missing(file, table, column,
                         f"the day offset needs source column {lacking[0]!r}, which the file "
                         "does not have")
            )  # fmt: skip
            continue
        dated = apply_day_offset(out, offset, as_date=contract.column(column).type == "date")
        days = out[offset.column] if offset.column else pd.Series(pd.NA, index=out.index)
        result.problems += _row_problems(
            dated.not_whole_days, file=file, table=table, column=column, rule="wrong_type",
            message=f"{offset.column} is not a whole number of days", values=days,
        )  # fmt: skip
        if offset.by:
            result.problems += _row_problems(
                dated.no_anchor, file=file, table=table, column=column, rule="unknown_enum",
                message=f"no anchor date for this {offset.by}; add it under anchors",
                values=out[offset.by],
            )  # fmt: skip
        derived[column] = dated.values

    renames = {src: dst for src, dst in mapping.columns.items() if src in out.columns}
    # A source column already called like a mapped target would collide; the mapping wins.
    filled = {*renames.values(), *derived}
    replaced = [c for c in filled if c in out.columns and renames.get(c) != c]
    result.warnings += [
        f"{file}: the source column {c} is replaced by what the mapping fills into {c}"
        for c in replaced
        if c not in renames  # a source column renamed away is not replaced
    ]
    out = out.drop(columns=[c for c in replaced if c not in renames]).rename(columns=renames)
    for column, values in derived.items():
        out[column] = values.to_numpy()
    for column, spellings in mapping.values.items():
        if column not in out.columns or not spellings:
            continue
        text = out[column].astype("str")
        stripped = text.str.strip()
        known = stripped.isin(list(spellings))
        mapped = stripped.map(spellings).replace("", pd.NA)
        out[column] = text.where(~known, mapped)
    for column, value in mapping.constants.items():
        if column not in out.columns:
            out[column] = pd.Series(value, index=out.index, dtype="str")
            continue
        cells = out[column].astype("str").str.strip()
        empty = int((cells.isna() | (cells == "")).sum())
        result.warnings.append(
            f"{file}: the constant {column} = {value!r} is not used: the source has a column "
            f"{column} ({empty:,} of {len(out):,} cells empty), whose values are used instead; "
            "remove the constant, or take the column out of the export"
        )
    if mapping.unique:
        folded = fold_repeats(
            out, contract.id_column, mapping.unique, file=file,
            contract_columns=set(contract.column_names),
        )  # fmt: skip
        result.warnings.append(folded.note)
        result.file_rows = result.file_rows[folded.keep]
        out = out[folded.keep].drop(columns=folded.drop_columns).reset_index(drop=True)
    result.frame = out
    return result


def apply_table_mapping(frame: pd.DataFrame, mapping: TableMapping) -> pd.DataFrame:
    """``frame`` through ``mapping``: the mapped frame alone (see :func:`map_table`)."""
    return map_table(frame, mapping).frame


def import_mapped_csv(
    path: Path, mapping: TableMapping | Path, *, table: str | None = None
) -> ImportResult:
    """Read one CSV through a mapping into contract column names (not yet validated).

    ``mapping`` is a :class:`TableMapping` or a TOML file; with a file holding several tables,
    ``table`` says which one applies.
    """
    if not isinstance(mapping, TableMapping):
        loaded = load_mapping(Path(mapping))
        if table is None and len(loaded.tables) == 1:
            table = next(iter(loaded.tables))
        if table is None or table not in loaded.tables:
            raise UserError(
                f"mapping file {mapping} has no [{table}] section; "
                f"it maps {', '.join(loaded.tables) or 'nothing'}"
            )
        mapping = loaded.tables[table]
    notes: list[str] = []
    frame, problem = read_mapped_file(Path(path), mapping, notes=notes)
    if problem is not None:
        raise UserError(str(problem))
    assert frame is not None
    mapped = map_table(frame, mapping, file=Path(path).name)
    if table_level := [p for p in mapped.problems if p.row is None]:
        raise UserError(str(table_level[0]))
    report = ImportReport(
        source=Path(path).name, counts={f"{mapping.table} rows": len(mapped.frame)}
    )
    report.warnings += notes + mapped.warnings
    report.warnings += [str(p) for p in mapped.problems[:20]]
    absent = [c for c in mapping.columns if c not in frame.columns]
    if absent:
        report.warnings.append(f"source columns named in the mapping but absent: {absent}")
    contract = TABLES[mapping.table]
    if missing := contract.missing_columns(mapped.frame.columns):
        report.warnings.append(f"contract columns still missing: {', '.join(missing)}")
    if left_out := [c for c in contract.absent_columns(mapped.frame.columns) if c not in missing]:
        report.notes.append(f"left out, so unknown rather than empty: {', '.join(left_out)}")
    return ImportResult(tables={mapping.table: mapped.frame}, report=report)


def preview_mapping(
    frame: pd.DataFrame, mapping: TableMapping, *, rows: int = 20
) -> tuple[pd.DataFrame, ValidationReport]:
    """The first ``rows`` mapped rows, and the validation report of the whole mapped table.

    Only this table's own rules are checked (references to other tables need the whole
    snapshot), which is what the Data page shows while a mapping is being built. Row numbers
    are the sample file's.
    """
    from app.sources.validate import validate_tables

    mapped = map_table(frame, mapping)
    file = mapping.file or f"{mapping.table}.csv"
    checked = validate_tables(
        {mapping.table: mapped.frame},
        files={mapping.table: file},
        formats={mapping.table: mapping.formats},
        table_problems=mapped.problems,
    )
    renumber_rows(checked.report, checked.quarantined, {mapping.table: mapped.file_rows})
    checked.report.warnings[:0] = mapped.warnings
    return mapped.frame.head(rows), checked.report
