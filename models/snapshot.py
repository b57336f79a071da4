"""The snapshot detectors read: contract tables as DataFrames plus the moment they describe.

Shape of each table: contracts/lms-snapshot.md (version 2). Loading and validation live in
``app.sources``; this module only carries the data so that detectors stay free of I/O.

Absent is not empty. A source may leave out a column it cannot know (every nullable column),
and an optional table. A typed frame from ``app.sources`` still carries every contract column,
so that reading one never fails, but a column the source left out is all-null there and is
named in :attr:`Snapshot.absent_columns`. A null cell in a column the source carried means
"known to be empty"; a null in an absent column means "unknown". A detector that would raise a
finding from an empty value (no owner, no e-mail) asks :meth:`Snapshot.has_column` first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

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
OPTIONAL_TABLES = tuple(t for t in ALL_TABLES if t not in REQUIRED_TABLES)


@dataclass
class Snapshot:
    """Contract tables (validated, typed: ids as str, timestamps as UTC datetimes) and ``as_of``.

    ``absent_columns`` names, per table, the contract columns the source did not carry; their
    cells in ``tables`` are null and mean "unknown", not "empty".
    """

    tables: dict[str, pd.DataFrame]
    as_of: datetime
    source: str = ""
    snapshot_id: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    absent_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        """Whether the snapshot carries ``table`` (optional tables may be absent)."""
        return table in self.tables

    def has_column(self, table: str, column: str) -> bool:
        """Whether the source carried ``table.column``: the table is here, the column is in its
        frame, and it is not one the source left out (its nulls then mean "known empty")."""
        return (
            table in self.tables
            and column in self.tables[table].columns
            and column not in self.absent_columns.get(table, ())
        )

    def carried_tables(self) -> dict[str, pd.DataFrame]:
        """The tables as the source carried them, without the absent columns (what is stored,
        written and hashed: writing ``tables`` would turn every absent column into an empty one)."""
        return {
            name: frame.drop(columns=[c for c in self.absent_columns.get(name, ()) if c in frame])
            for name, frame in self.tables.items()
        }

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.tables[table]
