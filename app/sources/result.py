"""What every importer returns: contract tables plus a report of what it did and did not map."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class ImportReport:
    """Counts and warnings of one import, for the CLI and the Data page."""

    source: str
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        """A few lines a person reads: counts, then notes and warnings."""
        lines = [f"Import from {self.source}:"]
        lines.extend(f"  {key}: {value:,}" for key, value in self.counts.items())
        lines.extend(f"Note: {n}" for n in self.notes)
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)


@dataclass
class ImportResult:
    """Contract tables (by table name) produced by an importer, and its report."""

    tables: dict[str, pd.DataFrame]
    report: ImportReport
