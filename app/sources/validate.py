"""Validation of contract tables: every table's checks, references between them, quarantine.

The input is one DataFrame per table as read from a file (every cell a string, empty = null) or as
produced by an importer (already typed). :func:`validate_tables` coerces each column to its
contract type (:mod:`app.sources.coercion`), checks each table (:mod:`app.sources.table_checks`),
then the references between tables; it collects *every* problem (it never stops at the first) into
a :class:`~app.sources.validation_report.ValidationReport`, and either accepts the tables whole,
or, in quarantine mode, sets aside the rows that broke a row-level rule together with the rows
that cannot be attributed without them (``reference_set_aside``), and nothing else: quarantine
never turns into rejecting the snapshot.

A nullable column the source left out is not an error (absent is not empty, contract version 2):
the accepted tables lack it too, and ``report.absent_columns`` names it.

Row numbers count like a CSV file: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from app.sources.contract import TABLES, Table
from app.sources.stream_validate import ChunkSource, StreamCheck, StreamedTable, validate_stream
from app.sources.table_checks import check_table, row_problems
from app.sources.validation_report import TABLE_RULES, Problem, ValidationReport, problem_frame

ProgressCallback = Callable[[int, int, str], None]

PANDERA_ROW_LIMIT = 500_000


@dataclass
class ValidatedTables:
    """The outcome of :func:`validate_tables`: typed tables, quarantined rows and the report."""

    tables: dict[str, pd.DataFrame]
    quarantined: dict[str, pd.DataFrame]
    report: ValidationReport
    # Tables validated a chunk at a time and written to Parquet (``streams``), not held.
    streamed: dict[str, StreamedTable] = field(default_factory=dict)


def validate_tables(
    raw_tables: Mapping[str, pd.DataFrame],
    *,
    files: Mapping[str, str] | None = None,
    quarantine: bool = False,
    formats: Mapping[str, Mapping[str, str]] | None = None,
    table_problems: Iterable[Problem] = (),
    pandera_row_limit: int = PANDERA_ROW_LIMIT,
    progress: ProgressCallback | None = None,
    streams: Mapping[str, ChunkSource] | None = None,
    stream_folder: Path | None = None,
) -> ValidatedTables:
    """Type and check contract tables; accept them whole, or (quarantine) set bad rows aside.

    ``raw_tables`` maps table names to frames (strings as read, or typed). ``files`` names the
    file each table came from, for messages. ``table_problems`` are problems found while reading
    (missing or unreadable files); any of them, or any problem at all without ``quarantine``,
    rejects the snapshot: the result then holds no tables. ``streams`` are tables given as
    chunks instead (a large log's activity), checked a chunk at a time and written to Parquet in
    ``stream_folder`` (:mod:`app.sources.stream_validate`), never held whole.
    """
    streams = streams or {}
    checks: dict[str, StreamCheck] = {}
    files = dict(files or {})
    formats = formats or {}
    found: list[pd.DataFrame] = [problem_frame(table_problems)]
    report = ValidationReport()
    typed_tables: dict[str, pd.DataFrame] = {}
    raw_kept: dict[str, pd.DataFrame] = {}
    names = [n for n in TABLES if n in raw_tables or n in streams]
    total = len(names) + 1
    for step, name in enumerate(names, start=1):
        table = TABLES[name]
        if name in streams:
            assert stream_folder is not None
            file = files.setdefault(name, f"{name}.parquet")
            if progress:
                progress(step - 1, total, f"validating {name} a chunk at a time")
            found.extend(_missing(table, streams[name].columns, file))
            if not table.missing_columns(streams[name].columns):
                if absent := table.absent_columns(streams[name].columns):
                    report.absent_columns[name] = absent
                so_far = pd.concat(found, ignore_index=True)
                so_far = so_far[so_far["row"].notna()]
                bad = {str(n): set(g["row"].astype("int64")) for n, g in so_far.groupby("table")}
                checks[name] = check = validate_stream(
                    name, streams[name], columns=streams[name].columns, file=file,
                    folder=stream_folder, targets=typed_tables, target_bad_rows=bad,
                    quarantine=quarantine, formats=formats.get(name, {}),
                )  # fmt: skip
                found.extend(check.found)
            continue
        raw = raw_tables[name].reset_index(drop=True)
        file = files.setdefault(name, f"{name}.csv")
        if progress:
            progress(step - 1, total, f"validating {name} ({len(raw):,} rows)")
        if table.missing_columns(raw.columns):
            found.extend(_missing(table, list(raw.columns), file))
            continue
        # A nullable column the source left out stays out: absent is not empty.
        if absent := table.absent_columns(raw.columns):
            report.absent_columns[name] = absent
        carried = table.carried(raw.columns)
        typed, table_found = check_table(
            raw, carried, file, formats.get(name, {}), pandera_row_limit
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

    if progress:
        progress(total - 1, total, "checking references between tables")
    bad_rows = {str(n): set(g["row"].astype("int64")) for n, g in row_level.groupby("table")}
    ref_found = reference_problems(typed_tables, raw_kept, files, bad_rows, quarantine)
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
        for n, frame in [
            *raw_tables.items(),
            *((n, pd.DataFrame(columns=c.columns)) for n, c in streams.items()),
        ]
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
    streamed: dict[str, StreamedTable] = {}
    for name in names:
        if name in checks:
            check = checks[name]
            assert check.table is not None
            streamed[name] = check.table
            if check.quarantined is not None and len(check.quarantined):
                quarantined[name] = check.quarantined
                report.quarantined_counts[name] = len(check.quarantined)
                if check.followed:
                    report.followed_counts[name] = check.followed
            report.row_counts[name] = check.table.rows
            continue
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
            only_followed = group.groupby(rows)["rule"].agg(
                lambda r: bool((r == "reference_set_aside").all())
            )
            if followed := int(only_followed.sum()):
                report.followed_counts[name] = followed
        tables[name] = final_dtypes(typed, TABLES[name])
        report.row_counts[name] = len(tables[name])
    report.warnings.extend(_quarantine_warnings(report, files))
    return ValidatedTables(tables, quarantined, report, streamed)


def _missing(table: Table, columns: list[str], file: str) -> list[pd.DataFrame]:
    """A missing_column problem per required column ``columns`` lack."""
    missing = table.missing_columns(columns)
    if not missing:
        return []
    found = ", ".join(map(str, columns)) or "none"
    return [problem_frame(
        Problem(file=file, table=table.name, column=c, rule="missing_column",
                message=f"required column {c!r} is absent (columns found: {found})")
        for c in missing
    )]  # fmt: skip


def reference_problems(
    typed_tables: Mapping[str, pd.DataFrame],
    raw_kept: Mapping[str, pd.DataFrame],
    files: Mapping[str, str],
    bad_rows: Mapping[str, set[int]],
    quarantine: bool,
    only: str | None = None,
) -> list[pd.DataFrame]:
    """Rows whose enforced reference names no row (``dangling_reference``) and, in quarantine,
    rows whose reference names a row that is being set aside (``reference_set_aside``).

    The second kind is how a set-aside row takes along exactly the rows that cannot be attributed
    without it, and no more: references point only at lms_users and courses, whose own references
    are not enforced, so the set-aside never travels further than one step. ``bad_rows`` maps a
    table to its rows (numbers) that broke a row-level rule; ``only`` checks that table alone.
    """
    found: list[pd.DataFrame] = []
    for name, typed_frame in typed_tables.items():
        if only is not None and name != only:
            continue
        for ref in TABLES[name].references:
            target = typed_tables.get(ref.target_table)
            if not ref.enforced or ref.column not in typed_frame or target is None:
                continue  # an absent column refers to nothing; an unread target is reported
            ids = target[ref.target_column]
            typed = typed_frame[ref.column]
            known = typed.isin(ids.dropna())
            masks = {"dangling_reference": typed.notna() & ~known}
            drop = bad_rows.get(ref.target_table, set()) if quarantine else set()
            if drop:
                set_aside = ids[pd.Series(target.index + 2).isin(drop).to_numpy()].dropna()
                kept = ids.drop(set_aside.index).dropna()
                # A duplicated id whose every row is set aside leaves nothing to attribute to.
                masks["reference_set_aside"] = known & typed.isin(set_aside) & ~typed.isin(kept)
            where = f"{ref.target_table} ({ref.target_table}.{ref.target_column})"
            messages = {
                "dangling_reference": f"names no row of {where}",
                "reference_set_aside": f"names a row of {where} that was set aside; "
                "this row cannot be attributed without it",
            }
            for rule, mask in masks.items():
                if mask.any():
                    frame = row_problems(
                        raw_kept[name][ref.column],
                        mask,
                        file=files[name],
                        table=name,
                        column=ref.column,
                        rule=rule,
                    )
                    frame["message"] = messages[rule]
                    found.append(frame)
    return found


def _quarantine_warnings(report: ValidationReport, files: Mapping[str, str]) -> list[str]:
    """What a person must know about the rows quarantine set aside: how many went along with a
    row they name, and tables of which most was set aside."""
    out = []
    for name, held in report.quarantined_counts.items():
        file = files.get(name, name)
        if followed := report.followed_counts.get(name, 0):
            out.append(
                f"{file}: {followed:,} of the {held:,} row(s) set aside went only because the "
                "user or course they name was set aside"
            )
        total = held + report.row_counts.get(name, 0)
        if held * 2 > total:
            out.append(
                f"{file}: quarantine set aside {held:,} of {total:,} rows; "
                "read the problems before relying on this snapshot"
            )
    return out


def final_dtypes(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Required bool and int columns lose their nullable wrapper once they are known complete."""
    out = frame.copy(deep=False)  # pandas copies on write: the columns are not duplicated
    for col in table.columns:
        if col.nullable or col.name not in out:
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
