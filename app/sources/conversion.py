"""What ``gapdesk ingest``'s options say and what one converted source reports: the two
shapes every converter (app.sources.convert) shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from app.sources.moodle_stream import CHUNK_ROWS

DROPPED_SHARE_LIMIT = 0.5
STREAM_BYTES = 2 << 30


@dataclass(frozen=True)
class IngestOptions:
    """What some formats need to be read right (``gapdesk ingest``'s options)."""

    format: str | None = None
    year: int | None = None
    timezone: str = "UTC"
    encoding: str | None = None
    day_first: bool | None = None
    as_of: datetime | None = None
    # Moodle logs of stream_bytes or more convert chunk_rows rows at a time (moodle_stream).
    stream_bytes: int = STREAM_BYTES
    chunk_rows: int = CHUNK_ROWS


@dataclass
class Conversion:
    """What one source became: its tables, and what was left out or dropped, and why."""

    shown: str
    label: str
    primary: str = ""
    format: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    read: int = 0
    left_out: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problem: str | None = None
    # Facts for other sources' tables (a course's owner, a term's dates), joined after merging.
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)

    def judge(self) -> None:
        """Set ``problem`` when the conversion yields no rows or drops most of what it read."""
        if self.problem is not None or not self.primary:
            return
        rows = len(self.tables.get(self.primary, ())) + sum(len(f) for f in self.extras.values())
        lost = sum(self.dropped.values())
        if rows == 0:
            # What took the last rows matters more than what was left out by design.
            reasons = self.dropped or self.left_out
            why = max(reasons, key=lambda k: reasons[k]) if reasons else ""
            kind = "dropped" if self.dropped else "left out"
            self.problem = f"yields no {self.primary} rows" + (
                f" of {self.read:,} read ({kind}: {why})" if why else ""
            )
        elif self.read and lost > DROPPED_SHARE_LIMIT * self.read:
            worst = max(self.dropped, key=lambda k: self.dropped[k])
            self.problem = (
                f"drops {lost:,} of {self.read:,} rows ({lost / self.read:.0%}), most as {worst}"
            )

    def render(self) -> str:
        """The conversion report: format, rows per table, what was left out and dropped."""
        lines = [f"{self.shown}: {self.label}"]
        if self.read:
            lines.append(f"  read {self.read:,} rows")
        for name, frame in self.tables.items():
            lines.append(f"  {name}: {len(frame):,} rows")
        for name, frame in self.extras.items():
            lines.append(f"  {name} (joined to other tables): {len(frame):,} rows")
        lines.extend(f"  left out {n:,}: {why}" for why, n in self.left_out.items())
        lines.extend(f"  dropped {n:,}: {why}" for why, n in self.dropped.items())
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.extend(f"  warning: {w}" for w in self.warnings)
        if self.problem:
            lines.append(f"  FAILED: {self.problem}")
        return "\n".join(lines)
