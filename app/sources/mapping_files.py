"""The files a mapping names: only inside the snapshot folder, and never quoted in a report.

A mapping's ``file`` is how a person points Gapdesk at a file that is not named like a table.
That is also how a mapping could point at ``/etc/passwd`` or the app's own secrets (security
issue 15, item 1), so the name must be a plain file inside the folder (a symbolic link may not
lead out of it), and the report on such a file says where a problem is (row, column, rule), never
what the file holds (no cell values, no header names, no parser excerpts).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from app.core.errors import UserError
from app.sources.mapping_format import check_file_name
from app.sources.validation_report import Problem, ValidationReport

_LINE = re.compile(r"\bline (\d+)")
_READ_MESSAGES = {
    "bad_csv": "is not well-formed CSV with the mapping's delimiter and encoding",
    "not_utf8": "is not text in the mapping's encoding",
    "not_gzip": "ends in .gz but is not a readable gzip file",
    "bad_parquet": "is not a readable Parquet file",
    "empty_file": "is empty; a table needs at least its header row",
}


def resolve_mapped_file(folder: Path, name: str, *, table: str) -> Path:
    """``folder / name`` if it stays inside ``folder`` once links are followed; else UserError."""
    check_file_name(name, f"mapping: [{table}]")
    path = folder / name
    inside = folder.resolve()
    try:
        target = path.resolve(strict=False)
    except (OSError, RuntimeError):  # a symbolic link loop
        target = None
    if target is None or target.parent != inside:
        raise UserError(
            f"mapping: [{table}] file = {name!r} is a link that leads out of the snapshot "
            "folder; copy the file itself into the folder"
        )
    return path


def redact_read_problem(problem: Problem) -> Problem:
    """``problem`` (from reading a file a mapping named) without what the file holds: a header
    name or a parser's excerpt gives way to what was wrong, with the line when one was given."""
    if problem.rule not in _READ_MESSAGES:
        return problem
    line = _LINE.search(problem.message)
    message = _READ_MESSAGES[problem.rule] + (f" (near line {line.group(1)})" if line else "")
    if "more than once" in problem.message:
        message = "the header names a column more than once; each needs its own name"
    return replace(problem, message=message, value=None)


def redact_report(report: ValidationReport, files: Collection[str]) -> None:
    """Take every quote of the content of ``files`` out of ``report`` (in place): no cell
    values, no header names in messages or warnings."""
    _redact_warnings(report, files)
    if not files or report.problems.empty:
        return
    problems = report.problems.copy()
    ours = problems["file"].isin(list(files))
    problems.loc[ours, "value"] = None
    listing = ours & problems["message"].astype("str").str.contains("(columns found: ", regex=False)
    problems.loc[listing, "message"] = problems.loc[listing, "column"].map(
        lambda column: (
            f"required column {column!r} is absent: the mapping fills it from no "
            "column of this file"
        )
    )
    report.problems = problems


def _redact_warnings(report: ValidationReport, files: Collection[str]) -> None:
    out = []
    for warning in report.warnings:
        for file in files:
            prefix = f"{file}: extra columns kept as evidence: "
            if warning.startswith(prefix):
                count = len(warning[len(prefix) :].split(", "))
                warning = f"{file}: {count} extra column(s) kept as evidence"
        out.append(warning)
    report.warnings = out


def renumber_rows(
    report: ValidationReport,
    quarantined: Mapping[str, pd.DataFrame],
    file_rows: Mapping[str, np.ndarray],
) -> None:
    """Problem rows (and quarantined ``_row``) counted over mapped rows → the file's own rows."""
    for table, rows in file_rows.items():
        if report.problems.empty:
            break
        problems = report.problems
        hit = (problems["table"] == table) & problems["row"].notna()
        if hit.any():
            positions = problems.loc[hit, "row"].astype("int64").to_numpy() - 2
            valid = (positions >= 0) & (positions < len(rows))
            mapped = np.where(
                valid, rows[np.clip(positions, 0, max(len(rows) - 1, 0))], positions + 2
            )
            problems = problems.copy()
            problems.loc[hit, "row"] = mapped
            problems["row"] = problems["row"].astype("Int64")
            report.problems = problems
    for table, held in quarantined.items():
        if table in file_rows and "_row" in held and len(held):
            held["_row"] = file_rows[table][held["_row"].astype("int64").to_numpy() - 2]
