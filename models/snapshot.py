"""The snapshot detectors read: contract tables as DataFrames plus the moment they describe.

Shape of each table: contracts/lms-snapshot.md (version 2). Loading and validation live in
``app.sources``; this module only carries the data so that detectors stay free of I/O.

Absent is not empty. A source may leave out a column it cannot know (every nullable column) and
an optional table. A column the source left out is absent from its table's typed frame, so a
null cell always means "known to be empty" and a missing column "unknown". A detector asks
:meth:`Snapshot.has_column` (or declares the columns it reads) before it reads a nullable column,
and never raises a finding from data the source could not carry.
"""

from __future__ import annotations

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

    Each frame holds the columns its source carried: a nullable column left out is not there.
    """

    tables: dict[str, pd.DataFrame]
    as_of: datetime
    source: str = ""
    snapshot_id: str | None = None
    meta: dict[str, str] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        """Whether the snapshot carries ``table`` (optional tables may be absent)."""
        return table in self.tables

    def has_column(self, table: str, column: str) -> bool:
        """Whether the source carried ``table.column``: the table is here and the column is in its
        frame (its nulls then mean "known to be empty"; without it nothing is known)."""
        return table in self.tables and column in self.tables[table].columns

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.tables[table]
