"""The snapshot detectors read: contract tables as DataFrames plus the moment they describe.

Shape of each table: contracts/lms-snapshot.md (version 2). Loading and validation live in
``app.sources``; this module only carries the data so that detectors stay free of I/O.

Absent is not empty. A source may leave out a column it cannot know (every nullable column) and
an optional table. A column the source left out is absent from its table's typed frame, so a
null cell means "known to be empty" and a missing column "unknown". Where parts that carried a
column were merged with parts that did not, the rows of the latter name it in their
``not_carried`` column (:meth:`Snapshot.unknown`): unknown for those rows only. A detector asks
:meth:`Snapshot.has_column` (or declares the columns it reads) before it reads a nullable column,
and never raises a finding from data the source could not carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

# In the contract's order; only lms_users and courses are required (contract version 2).
ALL_TABLES = (
    "people",
    "lms_users",
    "courses",
    "enrollments",
    "enrollment_rules",
    "activity",
    "submissions",
    "notifications",
    "sync_runs",
)
REQUIRED_TABLES = ("lms_users", "courses")

# An extra column naming, per row, the contract columns that row's source did not carry
# (";"-joined; empty when it carried them all). Merging a part that carries a column with one
# that does not keeps the column, and its rows from the other part stay unknown, not empty.
NOT_CARRIED = "not_carried"
OPTIONAL_TABLES = tuple(t for t in ALL_TABLES if t not in REQUIRED_TABLES)


@dataclass
class Snapshot:
    """Contract tables (validated, typed: ids as str, timestamps as UTC datetimes) and ``as_of``.

    Each frame holds the columns its source carried: a nullable column left out is not there.
    """

    tables: dict[str, pd.DataFrame]
    as_of: datetime
    source: str = ""
    snapshot_id: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    # Table -> the rows quarantine set aside (as read, text). A reference to one of them is not
    # a reference to nobody: a detector does not turn the set-aside into a finding.
    set_aside: dict[str, pd.DataFrame] = field(default_factory=dict)
    # Tables a dataframe engine holds instead (narwhals LazyFrames over the stored Parquet, on
    # DuckDB or Spark): the detectors' passes over them run on the engine, and only what those
    # passes return is loaded (``models.detectors.frames``). A table is in ``tables`` or here.
    lazy: dict[str, Any] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        """Whether the snapshot carries ``table`` (optional tables may be absent)."""
        return table in self.tables or table in self.lazy

    def columns_of(self, table: str) -> frozenset[str]:
        """The columns ``table`` carries (from a held table's schema alone, no rows read)."""
        if table in self.lazy:
            return frozenset(map(str, self.lazy[table].collect_schema().names()))
        return frozenset(map(str, self.tables[table].columns))

    def has_column(self, table: str, column: str) -> bool:
        """Whether the source carried ``table.column``: the table is here and the column is in its
        frame (its nulls then mean "known to be empty"; without it nothing is known)."""
        return self.has(table) and column in self.columns_of(table)

    def __getitem__(self, table: str) -> pd.DataFrame:
        if table in self.lazy and table not in self.tables:
            raise LookupError(
                f"table {table} is held by the detection engine; read it through "
                "models.detectors.frames"
            )
        return self.tables[table]

    def set_aside_values(self, table: str, column: str) -> frozenset[str]:
        """The values of ``table.column`` in the rows quarantine set aside (text, stripped)."""
        held = self.set_aside.get(table)
        if held is None or column not in held.columns:
            return frozenset()
        values = held[column].dropna().astype("str").str.strip()
        return frozenset(values[values != ""])

    def unknown(self, table: str, column: str) -> pd.Series:
        """Per row of ``table``: whether its source did not carry ``column`` (a merged part
        without it, see ``NOT_CARRIED``); all True when the column is absent."""
        frame = self.tables[table]
        if column not in frame.columns:
            return pd.Series(True, index=frame.index)
        if NOT_CARRIED not in frame.columns:
            return pd.Series(False, index=frame.index)
        listed = frame[NOT_CARRIED].astype("str").fillna("")
        named = listed.str.contains(rf"(?:^|;){re.escape(column)}(?:;|$)", regex=True)
        return named.fillna(False).astype(bool)
