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


def merge_tables(*parts: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Contract tables from several imports, table by table; earlier parts win on equal ids.

    E.g. ``merge_tables(lms_export_tables, moodle.tables)`` keeps the LMS export's users (with
    their e-mail addresses) and adds only the users the Moodle log reveals that it lacks.
    """
    from app.sources.contract import TABLES  # contract imports models; keep this module light

    merged: dict[str, pd.DataFrame] = {}
    for name in dict.fromkeys(n for part in parts for n in part):
        frames = [part[name] for part in parts if name in part and len(part[name].columns)]
        combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].copy()
        if name in TABLES:
            key = TABLES[name].id_column
            if key in combined.columns:
                combined = combined[
                    combined[key].isna() | ~combined[key].duplicated(keep="first")
                ].reset_index(drop=True)
        merged[name] = combined
    return merged


def typed_events(frame: pd.DataFrame, text_columns: tuple[str, ...]) -> tuple[pd.DataFrame, int]:
    """An importer's event rows typed as the contract's activity (text ids, float value, UTC
    timestamp from ISO 8601), without the rows whose time cannot be read, and how many."""
    for name in text_columns:
        frame[name] = frame[name].astype("str")
    frame["value"] = frame["value"].astype("float64")
    frame["timestamp"] = pd.to_datetime(
        frame["timestamp"], format="ISO8601", utc=True, errors="coerce"
    ).astype("datetime64[us, UTC]")
    bad_time = frame["timestamp"].isna()
    return frame[~bad_time].reset_index(drop=True), int(bad_time.sum())
