"""The snapshot detectors read: contract tables as DataFrames plus the moment they describe.

Shape of each table: contracts/lms-snapshot.md. Loading and validation live in ``app.sources``;
this module only carries the data so that detectors stay free of I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

REQUIRED_TABLES = ("people", "lms_users", "courses", "enrollments")
OPTIONAL_TABLES = ("enrollment_rules", "activity", "submissions", "notifications", "sync_runs")
ALL_TABLES = REQUIRED_TABLES + OPTIONAL_TABLES


@dataclass
class Snapshot:
    """Contract tables (validated, typed: ids as str, timestamps as UTC datetimes) and ``as_of``."""

    tables: dict[str, pd.DataFrame]
    as_of: datetime
    source: str = ""
    snapshot_id: str | None = None
    meta: dict[str, str] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        """Whether the snapshot carries ``table`` (optional tables may be absent)."""
        return table in self.tables

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.tables[table]
