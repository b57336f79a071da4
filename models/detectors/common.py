"""Helpers shared by detectors: day arithmetic on timestamp columns, names for titles and
evidence, and a per-snapshot cache so that several detectors do not each redo the same pass over
a table (the passes over the activity table: ``models.detectors.event_passes``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from models.detectors.base import Columns, columns
from models.snapshot import Snapshot

T = TypeVar("T")

EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
ONE_DAY = pd.Timedelta(days=1)

# The enrollments columns an enrolment's evidence shows.
ENROLMENT_COLUMNS = [
    "enrollment_id",
    "user_id",
    "course_id",
    "source",
    "status",
    "enrolled_at",
    "due_at",
    "completed_at",
    "withdrawn_at",
    "progress_pct",
]

# What the helpers below read, merged into the ``reads`` of each detector that calls them.
PERSON_NAME_READS: dict[str, Columns] = {"people": columns("person_id", "full_name")}
USER_LABEL_READS: dict[str, Columns] = {
    "lms_users": columns("user_id", optional=("person_id", "email", "full_name")),
    **PERSON_NAME_READS,
}
COURSE_LABEL_READS: dict[str, Columns] = {"courses": columns("course_id", "title")}
COMPLIANCE_READS: dict[str, Columns] = {"courses": columns("course_id", "is_compliance")}
ACTIVITY_READS: dict[str, Columns] = {
    "activity": columns(
        "user_id", "course_id", "verb", "timestamp", optional=("value", "object_id")
    )
}
# The evidence of an enrolment (enrolment_evidence) shows the dates and progress it carries.
ENROLMENT_EVIDENCE_READS: dict[str, Columns] = {
    "enrollments": columns(*ENROLMENT_COLUMNS[:6], optional=ENROLMENT_COLUMNS[6:])
}

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


def enrolment_evidence(frame: pd.DataFrame) -> pd.DataFrame:
    """The ``ENROLMENT_COLUMNS`` of ``frame`` that it carries (a source may lack some dates)."""
    return frame[[c for c in ENROLMENT_COLUMNS if c in frame.columns]]


def person_names(snapshot: Snapshot) -> pd.Series:
    """person_id → full name (for titles); empty when the snapshot has no HR roster."""

    def build() -> pd.Series:
        if not snapshot.has("people"):
            return pd.Series([], index=pd.Index([], dtype="str"), dtype="str")
        people = snapshot["people"]
        named = people[people["full_name"].notna()]
        return pd.Series(
            named["full_name"].astype(str).to_numpy(), index=named["person_id"].astype(str)
        )

    return cached(snapshot, "person_names", build)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A text column with empty cells (and an absent column) as NA, never "None" or "nan"."""
    if column not in frame:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    values = frame[column].astype("string").str.strip()
    return values.where(values.notna() & values.ne(""), pd.NA)


def user_labels(snapshot: Snapshot) -> pd.Series:
    """user_id → "Full Name (user U1)": the LMS's own name for the account (``full_name``, when
    the source carries it), else the linked HR person's name, else the email, else "user U1"."""
    return cached(snapshot, "user_labels", lambda: _labels(snapshot, hr=True))


def account_labels(snapshot: Snapshot) -> pd.Series:
    """user_id → "Full Name (user U1)" from what the LMS itself knows (its ``full_name``, else
    the email, else "user U1"): for findings that set the LMS's account against HR's person."""
    return cached(snapshot, "account_labels", lambda: _labels(snapshot, hr=False))


def _labels(snapshot: Snapshot, *, hr: bool) -> pd.Series:
    if not snapshot.has("lms_users"):
        # Callers fall back to the bare id.
        return pd.Series([], index=pd.Index([], dtype="str"), dtype="str")
    users = snapshot["lms_users"]
    ids = users["user_id"].astype(str)
    who = _text(users, "full_name")
    if hr:
        hr_names = _text(users, "person_id").map(person_names(snapshot))
        who = who.fillna(hr_names.astype("string"))
    who = who.astype("string").fillna(_text(users, "email"))
    named = (who + " (user " + ids + ")").fillna("user " + ids)
    return pd.Series(named.astype(str).to_numpy(), index=ids.to_numpy())


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


def compliance_courses(snapshot: Snapshot) -> pd.Series:
    """course_id → whether the course is mandatory (``is_compliance``; null reads as False)."""
    courses = snapshot["courses"]
    return pd.Series(
        flag(courses, "is_compliance").to_numpy(), index=courses["course_id"].astype(str)
    )


def label(ids: pd.Series, labels: pd.Series) -> pd.Series:
    """Labels for ids, falling back to the id itself when unknown."""
    out = ids.map(labels)
    return out.where(out.notna(), ids.astype(str))


def has_pair(frame: pd.DataFrame, pairs: pd.DataFrame) -> pd.Series:
    """Whether each (user_id, course_id) of ``frame`` occurs in ``pairs`` (index of ``frame``)."""
    if frame.empty or pairs.empty:
        return pd.Series(False, index=frame.index)
    key = pd.MultiIndex.from_frame(frame[["user_id", "course_id"]].astype(str))
    other = pd.MultiIndex.from_frame(pairs[["user_id", "course_id"]].astype(str))
    return pd.Series(key.isin(other), index=frame.index)


def with_names(frame: pd.DataFrame, snapshot: Snapshot) -> pd.DataFrame:
    """Evidence rows with the learner's and the course's names beside their ids (``learner``
    after ``user_id``, ``course`` after ``course_id``, where the frame has them)."""
    out = frame.copy()
    for column, name, labels in (
        ("user_id", "learner", user_labels),
        ("course_id", "course", course_labels),
    ):
        if column in out and name not in out:
            known = labels(snapshot)
            # Evidence is a few rows: plain Python keeps empty ids empty, whatever their dtype.
            named = [None if pd.isna(v) else known.get(str(v), str(v)) for v in out[column]]
            out.insert(int(out.columns.get_loc(column)) + 1, name, named)
    return out


def named_row(row: dict[str, Any], user: str, course: str) -> dict[str, Any]:
    """An evidence row with the learner's and the course's names beside their ids."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        out[key] = value
        if key == "user_id":
            out["learner"] = user
        elif key == "course_id":
            out["course"] = course
    return out
