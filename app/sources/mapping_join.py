"""Two mapping features for exports split over several files, or repeating a row per course.

* ``[table.join]`` (or ``[[table.join]]`` for several): a left join of a second file of the
  snapshot folder into the table's file on key columns, taking the columns it names. The second
  file must hold each key once; its name obeys the same rules as ``file`` (a plain file inside the
  folder), and a report on it quotes nothing of it (rows, columns and rules only).
* ``unique = "first"`` (or ``"last"``): rows that repeat the table's identifier are folded into
  one, keeping the first (or last) of them, and the report says how many were folded and how
  many of those differed from the kept row.

The README's "Mapping files" section documents both with the Open University's tables.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from app.core.errors import UserError
from app.sources.files import read_table_file
from app.sources.validation_report import Problem

UNIQUE_KEEP = ("first", "last")
JOIN_KEYS = ("file", "on", "columns", "delimiter", "encoding")


@dataclass(frozen=True)
class Join:
    """A left join of ``file`` on the key columns ``on``, taking ``columns`` from it."""

    file: str
    on: tuple[str, ...]
    columns: tuple[str, ...]
    delimiter: str = ","
    encoding: str = "utf-8"

    def entry(self) -> dict[str, object]:
        """The join as a TOML inline table's entries (for dumping the mapping)."""
        entry: dict[str, object] = {"file": self.file, "on": self.on, "columns": self.columns}
        if self.delimiter != ",":
            entry["delimiter"] = self.delimiter
        if self.encoding != "utf-8":
            entry["encoding"] = self.encoding
        return entry


def _column_list(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UserError(f"{where} must be a non-empty list of column names")
    names = tuple(v.strip() for v in value)
    if any(not n for n in names):
        raise UserError(f"{where} holds an empty column name")
    if len(set(names)) != len(names):
        raise UserError(f"{where} names a column more than once")
    return names


def parse_joins(value: object, where: str) -> list[Join]:
    """The joins of ``[table.join]`` (one table) or ``[[table.join]]`` (a list of tables)."""
    from app.sources.mapping_format import check_file_name

    entries = [value] if isinstance(value, dict) else value
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise UserError(
            f'{where} must be a table: file = "other.csv", on = ["key column", ...], '
            'columns = ["column to take", ...]'
        )
    joins: list[Join] = []
    for n, entry in enumerate(entries, 1):
        at = f"{where}" + (f" {n}" if len(entries) > 1 else "")
        if unknown := [k for k in entry if k not in JOIN_KEYS]:
            raise UserError(
                f"{at} has an unknown key {unknown[0]!r}; known: {', '.join(JOIN_KEYS)}"
            )
        if lacking := [k for k in ("file", "on", "columns") if k not in entry]:
            raise UserError(f"{at} needs {lacking[0]!r} (file, on and columns)")
        on = _column_list(entry["on"], f"{at} on")
        columns = _column_list(entry["columns"], f"{at} columns")
        if both := [c for c in columns if c in on]:
            raise UserError(
                f"{at}: {both[0]!r} is a key column (on) and a column to take; the key is "
                "already in the table's own file"
            )
        delimiter = str(entry.get("delimiter", ","))
        if len(delimiter) != 1 or delimiter in '\x00"\r\n':
            raise UserError(
                f"{at} delimiter must be one character other than a quote, NUL or a line break"
            )
        encoding = str(entry.get("encoding", "utf-8"))
        try:
            known = codecs.lookup(encoding)._is_text_encoding
        except LookupError:
            known = False
        if not known:
            raise UserError(f"{at} encoding {encoding!r} is not a known text encoding")
        joins.append(
            Join(
                file=check_file_name(entry["file"], at),
                on=on,
                columns=columns,
                delimiter=delimiter,
                encoding=encoding,
            )
        )
    taken = [c for j in joins for c in j.columns]
    if doubled := sorted({c for c in taken if taken.count(c) > 1}):
        raise UserError(f"{where}: column {doubled[0]!r} is taken by more than one join")
    return joins


def parse_unique(value: object, where: str) -> str | None:
    """``"first"`` or ``"last"`` (which of the rows with the same identifier is kept)."""
    if value not in UNIQUE_KEEP:
        raise UserError(
            f'{where} unique = {value!r}; use "first" or "last": which of the rows that '
            "repeat the table's identifier is kept"
        )
    return str(value)


def _problem(file: str, table: str, rule: str, message: str, column: str | None = None) -> Problem:
    return Problem(file=file, table=table, rule=rule, message=message, column=column)


def _keys(frame: pd.DataFrame, on: tuple[str, ...]) -> pd.DataFrame:
    """The key columns as trimmed text (empty = null), so " 7" and "7" are the same key."""
    return pd.DataFrame({c: frame[c].astype("str").str.strip().replace("", pd.NA) for c in on})


def apply_join(
    frame: pd.DataFrame, join: Join, *, folder: Path, file: str, table: str
) -> tuple[pd.DataFrame | None, Problem | None, str]:
    """``frame`` with ``join.columns`` taken from ``join.file`` (left join on ``join.on``).

    Returns the joined frame (same rows, same order), or the problem that stops the join (a
    file that cannot be read, a key or column it lacks, a key it holds more than once), and a
    line for the report saying how many rows found their partner.
    """
    from app.sources.mapping_files import redact_read_problem, resolve_mapped_file

    path = resolve_mapped_file(folder, join.file, table=table)
    other, problem = read_table_file(
        path, table=table, delimiter=join.delimiter, encoding=join.encoding
    )
    if problem is not None or other is None:
        assert problem is not None
        return None, redact_read_problem(problem), ""
    keys = ", ".join(join.on)
    for column in join.on:
        if column not in frame.columns:
            return None, _problem(
                file, table, "missing_column", f"the join with {join.file} needs the key column "
                f"{column!r} in this file, which it does not have", column,
            ), ""  # fmt: skip
    for column in (*join.on, *join.columns):
        if column not in other.columns:
            what = "key column" if column in join.on else "column"
            return None, _problem(
                join.file, table, "missing_column", f"the join into {file} needs the {what} "
                f"{column!r}, which this file does not have", column,
            ), ""  # fmt: skip
    for column in join.columns:
        if column in frame.columns:
            return None, _problem(
                file, table, "missing_column", f"the join with {join.file} takes column "
                f"{column!r}, which this file has too; take only columns it lacks", column,
            ), ""  # fmt: skip
    right_keys = _keys(other, join.on)
    complete = right_keys.notna().all(axis=1).to_numpy()
    repeated = right_keys[complete].duplicated(keep=False).to_numpy()
    if repeated.any():
        first_row = int(np.flatnonzero(complete)[np.flatnonzero(repeated)[0]]) + 2
        return None, Problem(
            file=join.file, table=table, rule="join_not_unique", row=first_row,
            message=f"{int(repeated.sum()):,} row(s) share their key ({keys}) with another "
            f"row, so the join into {file} cannot tell which one a row belongs to; a joined "
            "file needs each key once (first at this row)",
        ), ""  # fmt: skip
    right = right_keys[complete].reset_index(drop=True)
    for column in join.columns:
        right[column] = other[column].to_numpy()[complete]
    left = _keys(frame, join.on).reset_index(drop=True)
    merged = left.merge(right, on=list(join.on), how="left", indicator="_found", sort=False)
    found = int((merged["_found"] == "both").sum())
    out = frame.reset_index(drop=True).copy()
    for column in join.columns:
        out[column] = merged[column].to_numpy()
    note = f"{file}: joined {join.file} on {keys}: {found:,} of {len(out):,} row(s) found "
    note += "their row there"
    if found < len(out):
        note += f"; {len(out) - found:,} did not, so their {', '.join(join.columns)} are empty"
    return out, None, note


@dataclass
class Folded:
    """What ``unique`` left: the rows kept (a mask), extra columns to drop, the report's line."""

    keep: np.ndarray
    note: str
    drop_columns: list[str]


def fold_repeats(
    frame: pd.DataFrame, key: str, keep: str, *, file: str, contract_columns: set[str]
) -> Folded:
    """Keep one row per value of ``key`` (the ``keep`` one: first or last).

    Rows with an empty key are left for validation to report. The kept row's contract values
    stand for its repeats; the report says for how many identifiers they differed. An extra
    (non-contract) column whose values differ between repeats describes the repeats, not the
    identifier (a student's course in a list of course registrations), so it is left out rather
    than kept as evidence of the wrong row.
    """
    if key not in frame.columns or frame.empty:
        return Folded(np.ones(len(frame), dtype=bool), "", [])
    text = frame[key].astype("str").str.strip().where(frame[key].notna())
    repeat = (text.duplicated(keep=keep) & text.notna()).to_numpy()
    dropped = int(repeat.sum())
    if not dropped:
        return Folded(~repeat, f"{file}: unique = {keep!r}: no {key} appears more than once", [])
    sub = frame[text.isin(text[repeat].unique()).to_numpy()]
    groups = text[sub.index]
    others = [c for c in frame.columns if c != key]
    counts = sub[others].astype("str").fillna("").groupby(groups).nunique()
    varying = counts.columns[(counts > 1).any(axis=0)]
    drop = [c for c in varying if c not in contract_columns]
    wanted = [c for c in varying if c in contract_columns]
    differing = int((counts[wanted] > 1).any(axis=1).sum()) if wanted else 0
    which = "later" if keep == "first" else "earlier"
    note = (
        f"{file}: unique = {keep!r} kept one row for each {key} and folded {dropped:,} {which} "
        "repeat(s) into it; "
        + (
            f"{differing:,} {key}(s) have repeats that differ in contract columns, and the "
            "kept row's values are used for them"
            if differing
            else "the repeats agree in every contract column"
        )
        + (
            f"; {len(drop)} extra column(s) whose values differ between repeats are left out"
            if drop
            else ""
        )
    )
    return Folded(~repeat, note, drop)
