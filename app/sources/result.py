"""What every importer returns: contract tables plus a report of what it did and did not map."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


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

    # A single part is not copied: pandas copies on write, so the part stays as it was.
    merged: dict[str, pd.DataFrame] = {}
    for name in dict.fromkeys(n for part in parts for n in part):
        frames = [part[name] for part in parts if name in part and len(part[name].columns)]
        if len(frames) > 1:
            combined = pd.concat(frames, ignore_index=True)
        else:
            combined = frames[0].copy(deep=False)
        if name in TABLES:
            key = TABLES[name].id_column
            if key in combined.columns and _has_repeats(combined[key]):
                combined = combined[
                    combined[key].isna() | ~combined[key].duplicated(keep="first")
                ].reset_index(drop=True)
        merged[name] = combined
    return merged


def _has_repeats(ids: pd.Series) -> bool:
    """Whether a value repeats among ``ids`` (pyarrow's hash count: ten million event ids in
    well under a second, and no copy of the table when nothing repeats)."""
    try:
        values = pa.array(ids, from_pandas=True)
    except (pa.ArrowException, TypeError):
        return True  # mixed types: let pandas compare them
    return pc.count_distinct(values, mode="only_valid").as_py() < len(values) - values.null_count


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
