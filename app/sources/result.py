"""What every importer returns: contract tables plus a report of what it did and did not map."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from models.snapshot import NOT_CARRIED


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

    Absent is not empty (contract version 2): a row keeps, for each column, the value of the
    first part that carried that column and that row (a user list's e-mail, a log's last
    login); a row that no part carrying a column has stays unknown for it, named in its
    ``not_carried`` column, instead of turning "known to be empty".
    """
    from app.sources.contract import TABLES  # contract imports models; keep this module light

    # A single part is not copied: pandas copies on write, so the part stays as it was.
    merged: dict[str, pd.DataFrame] = {}
    for name in dict.fromkeys(n for part in parts for n in part):
        frames = [part[name] for part in parts if name in part and len(part[name].columns)]
        key = TABLES[name].id_column if name in TABLES else None
        if len(frames) == 1:
            combined = frames[0].copy(deep=False)
            if key is not None and key in combined.columns and _has_repeats(combined[key]):
                combined = combined[
                    combined[key].isna() | ~combined[key].duplicated(keep="first")
                ].reset_index(drop=True)
            merged[name] = combined
            continue
        contract = set(TABLES[name].column_names) if name in TABLES else set()
        merged[name] = _merge_parts(frames, key, contract)
    return merged


def _has_repeats(ids: pd.Series) -> bool:
    """Whether a value repeats among ``ids`` (pyarrow's hash count: ten million event ids in
    well under a second, and no copy of the table when nothing repeats)."""
    try:
        values = pa.array(ids, from_pandas=True)
    except (pa.ArrowException, TypeError):
        return True  # mixed types: let pandas compare them
    return pc.count_distinct(values, mode="only_valid").as_py() < len(values) - values.null_count


def _merge_parts(frames: list[pd.DataFrame], key: str | None, contract: set[str]) -> pd.DataFrame:
    """One table from several parts' frames (see ``merge_tables``)."""
    combined = pd.concat(frames, ignore_index=True)
    part = np.repeat(np.arange(len(frames)), [len(f) for f in frames])
    # Contract columns some part lacks; each row of a part that lacks one is unknown for it.
    partial = [c for c in combined.columns if c in contract and not all(c in f for f in frames)]
    carried = {c: np.isin(part, [i for i, f in enumerate(frames) if c in f]) for c in partial}
    if key is None or key not in combined.columns:
        return _with_not_carried(combined, {c: ~m for c, m in carried.items()})
    ids = combined[key]
    first = ids.isna() | ~ids.duplicated(keep="first")
    unknown = {}
    for column, mask in carried.items():
        # The first part that carried this column and this id gives its value (even empty).
        source = combined.loc[mask & ids.notna().to_numpy()]
        given = source.drop_duplicates(key, keep="first").set_index(key)[column]
        taken = ids.map(given) if len(given) else pd.Series(pd.NA, index=ids.index)
        has = ids.isin(given.index).to_numpy() & ids.notna().to_numpy()
        values = combined[column].where(~has | mask, taken)
        combined[column] = values.where(has | mask, combined[column]).astype(combined[column].dtype)
        unknown[column] = ~(has | mask)
    out = combined[first.to_numpy()]
    return _with_not_carried(out, {c: m[first.to_numpy()] for c, m in unknown.items()})


def _with_not_carried(frame: pd.DataFrame, unknown: dict[str, np.ndarray]) -> pd.DataFrame:
    """``frame`` (reindexed) with the ``not_carried`` column naming each row's unknown columns,
    merged with any it had already; unchanged when every row carried everything."""
    frame = frame.reset_index(drop=True)
    if not any(m.any() for m in unknown.values()):
        return frame
    names = pd.Series("", index=frame.index, dtype="str")
    if NOT_CARRIED in frame.columns:
        names = frame[NOT_CARRIED].astype("str").fillna("")
    for column, mask in unknown.items():
        add = pd.Series(np.asarray(mask, dtype=bool), index=frame.index)
        names = names.where(~add, names.where(names == "", names + ";") + column)
    frame[NOT_CARRIED] = names
    return frame


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
