"""Reported progress that goes down: per learner, course and object, within one attempt.

A rewatch, a seek or a new attempt is not a contradiction (contract version 2): each starts its
progress again from 0, so values are compared only within an attempt, and an attempt ends where
the data shows a restart (``progress_drops``). Used by ``progress_inconsistent``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.detectors.common import utc
from models.detectors.event_passes import progress_reports
from models.snapshot import Snapshot

# What each contradiction of an enrolment is called in a title (progress_inconsistent).
REASON_TEXT = {
    "completed_progress_below_100": "marked completed with progress below 100%",
    "completed_without_date": "marked completed without a completion date",
    "completed_before_enrolled": "completed before it was enrolled",
    "completed_without_activity": "marked completed though the activity log has no event for it",
    "withdrawn_without_date": "withdrawn without a withdrawal date",
    "withdrawal_date_not_withdrawn": "has a withdrawal date but is not withdrawn",
    "progress_went_down": "reported progress went down",
}


def _seconds(ts: pd.Series) -> np.ndarray:
    """Whole seconds since 1970 of an aware datetime column, without building Timestamp objects."""
    unit = getattr(ts.dtype, "unit", "ns")
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    return ts.astype("int64").to_numpy() // per_second


def progress_drops(
    snapshot: Snapshot,
    min_drop: float = 0.0,
    *,
    restart_at: float = 0.0,
    new_attempt_after_hours: float | None = None,
) -> pd.DataFrame:
    """Falls of reported progress: (user_id, course_id, object_id, timestamp, before, after) for
    each ``progressed`` value more than ``min_drop`` below the highest earlier value of the same
    learner, course and object (per learner and course where the snapshot has no ``object_id``)
    within the same attempt.

    An attempt ends, so that what follows is never compared with what came before, where the
    progress is seen to start again from 0 (contract version 2):
    - a value at or below ``restart_at`` (a reset, a new attempt that restarts at 0);
    - for an object (``object_id`` known): a ``launched`` event of that object (xAPI
      ``initialized``/``attempted``/``launched``: every new viewing or attempt begins with one),
      or, with ``new_attempt_after_hours``, a report that long after the previous one of that
      object (a rewatch on another occasion, whose first report comes after some watching).
    A course's own progress (no object) is cumulative: only a value at 0 restarts it.
    """
    cols = ["user_id", "course_id", "object_id", "timestamp", "before", "after"]
    # Only the series with a report below an earlier one come from the engine (few).
    reports = progress_reports(snapshot, min_drop)
    act = reports.assign(
        user_id=reports["user_id"].astype("category"),
        course_id=reports["course_id"].astype("category"),
        timestamp=utc(reports["timestamp"]),
    )
    if "object_id" in act:
        act["object_id"] = act["object_id"].astype("category")
    verb = act["verb"]
    with_course = act["course_id"].notna()
    prog = ((verb == "progressed") & act["value"].notna() & with_course).to_numpy()
    has_object = "object_id" in act
    launch = np.zeros(len(act), dtype=bool)
    if has_object:
        launch = ((verb == "launched") & with_course & act["object_id"].notna()).to_numpy()
    if not prog.any():
        return pd.DataFrame(columns=cols)
    rows = np.flatnonzero(prog | launch)
    sub = act.iloc[rows]
    u = sub["user_id"].cat.codes.to_numpy().astype("int64")
    c = sub["course_id"].cat.codes.to_numpy().astype("int64")
    n_objects = 1
    o = np.zeros(len(sub), dtype="int64")
    if has_object:
        # 0 = no object: the event is about the course as a whole.
        o = sub["object_id"].cat.codes.to_numpy().astype("int64") + 1
        n_objects = len(act["object_id"].cat.categories) + 1
    key = (u * max(len(act["course_id"].cat.categories), 1) + c) * n_objects + o
    t = _seconds(sub["timestamp"])
    v = sub["value"].to_numpy(dtype=float)
    is_launch = launch[rows]
    # Same instant: a launch opens the attempt before its reports; reports tie by value, so
    # simultaneous events never look like a fall.
    order = np.lexsort((np.where(is_launch, -np.inf, v), ~is_launch, t, key))
    key, t, v, is_launch, o = key[order], t[order], v[order], is_launch[order], o[order]
    same = np.zeros(len(key), dtype=bool)
    same[1:] = key[1:] == key[:-1]
    restart = ~same | is_launch | (~is_launch & (v <= restart_at))
    if new_attempt_after_hours is not None and has_object:
        gap = np.zeros(len(t), dtype="int64")
        gap[1:] = t[1:] - t[:-1]
        restart |= same & (o > 0) & (gap > new_attempt_after_hours * 3600.0)
    attempt = np.cumsum(restart)
    keep = ~is_launch
    order, attempt, v = order[keep], attempt[keep], v[keep]
    same = np.zeros(len(v), dtype=bool)
    same[1:] = attempt[1:] == attempt[:-1]
    # A fall is compared with the highest value so far in the attempt, not just the previous
    # one. Per-attempt running maximum in one vectorised pass: lift each attempt's values above
    # all earlier attempts' (rows are sorted by attempt), accumulate the maximum, lower again.
    lift = attempt * (np.nanmax(v) - np.nanmin(v) + 1.0)
    lifted = v + lift
    running_max = np.maximum.accumulate(lifted)
    # Compare in the lifted space: equal values of one attempt stay exactly equal there, while
    # lowering again would add rounding noise that looks like a tiny fall.
    prev_lifted = np.full(len(v), np.nan)
    prev_lifted[1:] = np.where(same[1:], running_max[:-1], np.nan)
    drop = same & (lifted < prev_lifted - min_drop)
    prev_max = np.round(prev_lifted - lift, 6)
    picked = sub.iloc[order[drop]]
    res = pd.DataFrame(
        {
            # Take the few rows first: to_numpy() on the whole column builds millions of str.
            "user_id": picked["user_id"].astype(str).to_numpy(),
            "course_id": picked["course_id"].astype(str).to_numpy(),
            "object_id": picked["object_id"].astype(object).to_numpy()
            if has_object
            else np.full(len(picked), None, dtype=object),
            "timestamp": picked["timestamp"].to_numpy(),
            "before": prev_max[drop],
            "after": np.round(v[drop], 6),
        }
    )
    res["timestamp"] = utc(res["timestamp"])
    return res[cols]


def fall_text(falls: pd.DataFrame) -> str:
    """The first fall of progress in words: from what to what, when, and of which object."""
    first = falls.sort_values("timestamp").iloc[0]
    where = f" in {first['object_id']}" if pd.notna(first["object_id"]) else ""
    more = f" (and {len(falls) - 1} more fall(s))" if len(falls) > 1 else ""
    return (
        f"reported progress{where} went down from {first['before']:g}% to {first['after']:g}% "
        f"on {pd.Timestamp(first['timestamp']).date()} without a restart{more}"
    )


def enrolments_with_falls(
    enrollments: pd.DataFrame, enrolled_at: pd.Series, drops: pd.DataFrame
) -> np.ndarray:
    """Index labels of the enrolments a fall of progress belongs to: the learner's enrolment in
    the course, the latest one begun before the first fall when there are several."""
    if drops.empty:
        return np.array([], dtype=enrollments.index.dtype)
    first = drops.sort_values("timestamp", kind="stable")
    first = first.drop_duplicates(["user_id", "course_id"], keep="first")
    # Only the learners with a fall (few) are joined, not every enrolment.
    mine = enrollments["user_id"].isin(first["user_id"].unique())
    e = enrollments.loc[mine, ["enrollment_id", "user_id", "course_id"]]
    e = e.assign(enrolled_at=enrolled_at[mine]).reset_index()
    e = e.astype({"user_id": str, "course_id": str})
    m = e.merge(first, on=["user_id", "course_id"], how="inner")
    m = m[(m["enrolled_at"] <= m["timestamp"]) | m["enrolled_at"].isna()]
    m = m.sort_values("enrolled_at").drop_duplicates(["user_id", "course_id"], keep="last")
    return m["index"].to_numpy()
