"""Helpers shared by detectors: day arithmetic on timestamp columns, names for titles, and a
per-snapshot cache so that several detectors do not each redo the same pass over the activity table.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from models.snapshot import Snapshot

T = TypeVar("T")

EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
ONE_DAY = pd.Timedelta(days=1)

# id(snapshot) -> (weak reference, cached values). Weak so a cached snapshot can still be freed.
_CACHE: dict[int, tuple[weakref.ref[Snapshot], dict[str, Any]]] = {}


def cached(snapshot: Snapshot, key: str, build: Callable[[], T]) -> T:
    """``build()`` once per snapshot and key; later calls (from other detectors) reuse the value.

    Snapshots are treated as immutable: a caller that edits ``snapshot.tables`` in place after a
    detection run must call :func:`forget_snapshot` before running detectors on it again.
    """
    sid = id(snapshot)
    entry = _CACHE.get(sid)
    if entry is None or entry[0]() is not snapshot:

        def forget(_ref: weakref.ref[Snapshot], sid: int = sid) -> None:
            _CACHE.pop(sid, None)

        ref = weakref.ref(snapshot, forget)
        entry = (ref, {})
        _CACHE[sid] = entry
    store = entry[1]
    if key not in store:
        store[key] = build()
    value: T = store[key]
    return value


def forget_snapshot(snapshot: Snapshot) -> None:
    """Drop everything cached for ``snapshot`` (after its tables were edited in place)."""
    _CACHE.pop(id(snapshot), None)


def as_of_ts(snapshot: Snapshot) -> pd.Timestamp:
    """The snapshot's ``as_of`` as an aware UTC Timestamp (naive values are taken as UTC)."""
    return to_utc_ts(snapshot.as_of)


def to_utc_ts(value: datetime | pd.Timestamp) -> pd.Timestamp:
    """An aware UTC Timestamp for ``value``; the contract says a value without offset is UTC."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def utc(series: pd.Series) -> pd.Series:
    """``series`` as aware UTC datetimes (loaders do this already; guards literal tables)."""
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        series = pd.to_datetime(series, utc=True)
    elif str(series.dt.tz) != "UTC":
        series = series.dt.tz_convert("UTC")
    return series


def day_number(series: pd.Series) -> pd.Series:
    """Whole UTC days since 1970-01-01 (float, NaN for missing): cheap to group and compare."""
    return (utc(series) - EPOCH) // ONE_DAY


def day_label(days: Any) -> np.ndarray:
    """``YYYY-MM-DD`` labels for day numbers."""
    arr = np.asarray(days, dtype="int64")
    return np.datetime_as_string(arr.astype("datetime64[D]"), unit="D")


def weekday_of(days: Any) -> np.ndarray:
    """Monday = 0 … Sunday = 6 for day numbers (1970-01-01 was a Thursday)."""
    return (np.asarray(days, dtype="int64") + 3) % 7


def week_label(monday_days: Any) -> np.ndarray:
    """ISO week labels ``YYYY-Www`` for day numbers that are Mondays."""
    mondays = pd.to_datetime(np.asarray(monday_days, dtype="int64"), unit="D")
    iso = mondays.isocalendar()
    return (iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)).to_numpy()


def unique_sorted(keys: np.ndarray) -> np.ndarray:
    """Distinct values of an integer array, sorted. Sort-based on purpose: on ten million wide
    keys numpy's hash-based ``np.unique`` and ``pd.unique`` are 15-70 times slower here."""
    ordered = np.sort(keys)
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def group_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, uniques): ``uniques[codes] == keys``, uniques sorted; like ``np.unique`` with
    ``return_inverse`` but through one argsort (see :func:`unique_sorted` for why)."""
    order = np.argsort(keys)
    ordered = keys[order]
    new = np.empty(ordered.size, dtype=bool)
    if ordered.size:
        new[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    ids = np.cumsum(new) - 1
    codes = np.empty(keys.size, dtype="int64")
    codes[order] = ids
    return codes, ordered[new]


def flag(frame: pd.DataFrame, column: str) -> pd.Series:
    """A boolean column with nulls read as False."""
    return frame[column].fillna(False).astype(bool)


def person_names(snapshot: Snapshot) -> pd.Series:
    """person_id → full name (for titles)."""

    def build() -> pd.Series:
        people = snapshot["people"]
        return pd.Series(
            people["full_name"].astype(str).to_numpy(), index=people["person_id"].astype(str)
        )

    return cached(snapshot, "person_names", build)


def user_labels(snapshot: Snapshot) -> pd.Series:
    """user_id → "Full Name (user U1)" when linked to a known person, else "email (user U1)"."""

    def build() -> pd.Series:
        users = snapshot["lms_users"]
        names = users["person_id"].map(person_names(snapshot))
        who = names.where(names.notna(), users["email"].astype(str))
        return pd.Series(
            (who.astype(str) + " (user " + users["user_id"].astype(str) + ")").to_numpy(),
            index=users["user_id"].astype(str),
        )

    return cached(snapshot, "user_labels", build)


def course_labels(snapshot: Snapshot) -> pd.Series:
    """course_id → "Title (C1)"."""

    def build() -> pd.Series:
        courses = snapshot["courses"]
        return pd.Series(
            (
                courses["title"].astype(str) + " (" + courses["course_id"].astype(str) + ")"
            ).to_numpy(),
            index=courses["course_id"].astype(str),
        )

    return cached(snapshot, "course_labels", build)


def label(ids: pd.Series, labels: pd.Series) -> pd.Series:
    """Labels for ids, falling back to the id itself when unknown."""
    out = ids.map(labels)
    return out.where(out.notna(), ids.astype(str))


def activity_days(snapshot: Snapshot) -> pd.DataFrame:
    """The activity table reduced to what most detectors group by: user, course, verb, day, ts.

    Computed once per snapshot (ten million rows make every pass count). Events after ``as_of``
    are dropped: the snapshot describes ``as_of``, and a clock skewed into the future must not
    make a day look busy.
    """

    def build() -> pd.DataFrame:
        act = snapshot["activity"]
        ts = utc(act["timestamp"])
        keep = ts <= as_of_ts(snapshot)
        if not bool(keep.all()):
            act, ts = act.loc[keep], ts.loc[keep]
        # Categories make the many group-bys over this table several times faster than strings.
        out = pd.DataFrame(
            {
                "user_id": act["user_id"].astype("category"),
                "course_id": act["course_id"].astype("category"),
                "verb": act["verb"].astype("category"),
                "timestamp": ts,
                "value": pd.to_numeric(act["value"], errors="coerce")
                if "value" in act
                else pd.Series(np.nan, index=act.index),
            }
        )
        out["day"] = day_number(ts).astype("int64")
        return out.reset_index(drop=True)

    return cached(snapshot, "activity_days", build)
