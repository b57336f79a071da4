"""What the learner-level engagement model measures, which way is a gap, and how a finding says it.

A learner in a course is compared with the course's other learners on five measures. Only a
shortfall can make a learner unusual: fewer events, fewer active days or fewer events on a day of
activity than peers, more failed assessments, a longer silence. Heavy use (more events, more days,
more intensity, fewer failures, recent activity) is what a good learner does, not a gap, so those
directions count as typical (``shortfalls``). The finding names the measure that fired in plain
words and carries that measure's weekly series, beside the course's typical learner, for the
queue's chart (``weekly_series``).
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from models.detectors.common import (
    as_of_ts,
    day_number,
    week_label,
    weekday_of,
)
from models.detectors.event_passes import learner_events, learner_weeks
from models.detectors.frames import as_count, to_pandas
from models.detectors.outliers import shrunk_share
from models.snapshot import Snapshot

LEARNER_FEATURES = [
    "events",
    "active_days",
    "events_per_active_day",
    "failure_share",
    "days_since_last_event",
]

# +1: a high value is the gap (failures, silence); -1: a low value is (too little activity).
GAP_DIRECTION = {
    "events": -1,
    "active_days": -1,
    "events_per_active_day": -1,
    "failure_share": 1,
    "days_since_last_event": 1,
}

# The measure's weekly series shown with a finding (a silence shows as weeks without events).
SERIES_MEASURE = {
    "events": "events",
    "active_days": "active_days",
    "events_per_active_day": "events_per_active_day",
    "failure_share": "failure_share",
    "days_since_last_event": "events",
}


def learner_features(
    snapshot: Snapshot, pseudo_count: float, min_events: int, min_course_learners: int
) -> pd.DataFrame:
    """One row per (user, course) with at least ``min_events`` events up to ``as_of``, in courses
    with at least ``min_course_learners`` such learners: a smaller cohort has no peer group.

    The group-by over the events runs on the engine that holds them (``frames``); only one row
    per (user, course) comes back."""
    cols = ["user_id", "course_id", *LEARNER_FEATURES]
    as_of_day = int(day_number(pd.Series([as_of_ts(snapshot)])).iloc[0])
    # The events up to as_of with their day; failed logins and launches are access problems
    # (access_failure), not engagement.
    events = learner_events(snapshot)
    pairs = (
        events.with_columns(failed=as_count(nw.col("verb") == "failed"))
        .group_by("user_id", "course_id")
        .agg(
            events=nw.len(),
            fails=nw.col("failed").sum(),
            active_days=nw.col("day").n_unique(),
            last=nw.col("day").max(),
        )
    )
    got = to_pandas(pairs)
    if got.empty:
        return pd.DataFrame(columns=cols)
    # In the order of (course, user) as the ids sort: the anomaly model sees its rows so.
    got = got.sort_values(["course_id", "user_id"], kind="stable").reset_index(drop=True)
    n = got["events"].to_numpy(dtype="int64")
    fails = got["fails"].fillna(0).to_numpy(dtype=float)
    active_days = got["active_days"].to_numpy(dtype="int64")
    frame = pd.DataFrame(
        {
            # Categoricals: no million Python strings to group by.
            "user_id": pd.Categorical(got["user_id"].astype(str)),
            "course_id": pd.Categorical(got["course_id"].astype(str)),
            "events": n.astype(float),
            "active_days": active_days.astype(float),
            # Intensity: a learner (or a script) doing a month's work in a day stands out.
            "events_per_active_day": n / np.maximum(active_days, 1),
            "failure_share": shrunk_share(fails, n, pseudo_count),
            "days_since_last_event": (as_of_day - got["last"].to_numpy(dtype="int64")).astype(
                float
            ),
            "failed_events": fails,
        }
    )
    frame = frame[frame["events"] >= min_events]
    size = frame.groupby("course_id", observed=True)["user_id"].transform("size")
    return frame[size >= min_course_learners].reset_index(drop=True)


def shortfalls(z: pd.DataFrame) -> np.ndarray:
    """How far each measure is off in the direction of a gap, in robust deviations: the z-score
    with its sign turned so that a gap is positive, and 0 the other way (heavy use is typical)."""
    signs = np.array([GAP_DIRECTION[c] for c in z.columns], dtype=float)
    return np.clip(z.to_numpy(dtype=float) * signs, 0.0, None)


def plain(name: str, value: float, typical: float, failed: float = 0.0) -> str:
    """What is unusual about a learner on one measure, in words, against the typical learner."""
    if name == "events":
        return (
            f"only {value:.0f} events in the course, against {typical:.0f} for its typical learner"
        )
    if name == "active_days":
        return (
            f"active on only {_days(value)}, against {typical:.0f} for the course's typical learner"
        )
    if name == "events_per_active_day":
        return (
            f"only {value:.1f} events on a day of activity, against {typical:.1f} for the "
            "course's typical learner"
        )
    if name == "failure_share":
        return (
            f"{failed:.0f} of their events are failed assessments ({value:.0%}, against "
            f"{typical:.0%} for the course's typical learner)"
        )
    return (
        f"no activity for the last {_days(value)}, while the course's typical learner was last "
        f"active {_days(typical)} ago"
    )


def _days(n: float) -> str:
    return "1 day" if round(n) == 1 else f"{n:.0f} days"


def explain(
    phrases: list[str], cohort: int, method: str, *, busy: bool, events: tuple[float, float]
) -> str:
    """The finding's explanation: what is unusual, against how many peers, and by what model;
    a heavy user is told to be one (that part alone is no gap)."""
    text = f"Compared with the other {cohort - 1} learners of the course: " + "; ".join(phrases)
    if busy:
        text += (
            f". They are also far busier than their peers ({events[0]:.0f} events against "
            f"{events[1]:.0f}), which alone is no gap"
        )
    return (
        text + f". An anomaly model ({method.replace('_', ' ')}) ranks this learner among the "
        "most unusual; a learner is proposed only for a shortfall (fewer events or active days, "
        "more failed assessments, a longer silence), never for heavy use."
    )


def fired(z: np.ndarray, top: int) -> list[int]:
    """Indices of the measures that fired (gap-direction z of at least 1), strongest first."""
    order = np.argsort(-z, kind="stable")
    return [int(i) for i in order[:top] if z[i] >= 1.0]


def weekly_series(
    snapshot: Snapshot,
    items: pd.DataFrame,
    judged: pd.DataFrame,
    as_of_day: int,
    weeks: int,
) -> list[list[dict[str, Any]]]:
    """Per item (``user_id``, ``course_id``, ``measure``): the measure week by week over the last
    ``weeks`` whole weeks before ``as_of_day``, beside the course's typical learner that week
    (the median over its ``judged`` learners; counts include the weeks they did nothing)."""
    # The learner-weeks of the items' courses only, counted on the engine.
    counted = learner_weeks(snapshot, list(items["course_id"].astype(str).unique()))
    course_ids = pd.Index(sorted(set(counted["course_id"])), dtype=object)
    user_ids = pd.Index(sorted(set(counted["user_id"])), dtype=object)
    wanted = course_ids.get_indexer(items["course_id"].astype(str))
    weekly = pd.DataFrame(
        {
            "course": course_ids.get_indexer(counted["course_id"]).astype("int64"),
            "user": user_ids.get_indexer(counted["user_id"]).astype("int64"),
            "monday": counted["monday"].to_numpy(dtype="int64"),
            "events": counted["events"].to_numpy(dtype="int64"),
            "active_days": counted["active_days"].to_numpy(dtype="int64"),
            "failed": counted["failed"].to_numpy(dtype=float),
        }
    ).sort_values(["course", "user", "monday"], kind="stable", ignore_index=True)
    weekly["events_per_active_day"] = weekly["events"] / weekly["active_days"]
    weekly["failure_share"] = weekly["failed"] / weekly["events"]
    peers = pd.DataFrame(
        {
            "course": course_ids.get_indexer(judged["course_id"].astype(str)).astype("int64"),
            "user": user_ids.get_indexer(judged["user_id"].astype(str)).astype("int64"),
        }
    )
    size = peers.groupby("course").size()
    on_peers = weekly.merge(peers, on=["course", "user"], how="inner")
    last_monday = int(as_of_day - weekday_of(as_of_day)) - 7
    first = on_peers.groupby("course")["monday"].min()
    # One row per item and week shown: the item's value and its course's typical learner.
    grid = pd.DataFrame(
        {
            "item": np.arange(len(items)),
            "course": wanted.astype("int64"),
            "user": user_ids.get_indexer(items["user_id"].astype(str)).astype("int64"),
            "measure": items["measure"].map(SERIES_MEASURE).to_numpy(),
        }
    ).merge(pd.DataFrame({"offset": np.arange(weeks)}), how="cross")
    grid["monday"] = last_monday - 7 * (weeks - 1 - grid["offset"])
    grid = grid[grid["monday"] >= grid["course"].map(first)]
    grid = grid.merge(weekly, on=["course", "user", "monday"], how="left")
    parts = []
    for measure, part in grid.groupby("measure", sort=False):
        counts = measure in ("events", "active_days")
        typical = _typical(on_peers, str(measure), size if counts else None)
        part = part.merge(typical, on=["course", "monday"], how="left")
        value = part[measure].fillna(0.0) if counts else part[measure]
        if counts:
            part["typical"] = part["typical"].fillna(0.0)
        parts.append(part.assign(value=value))
    grid = pd.concat(parts).sort_values(["item", "monday"])
    grid["week"] = week_label(grid["monday"])
    out: list[list[dict[str, Any]]] = [[] for _ in range(len(items))]
    for item, measure, week, value, typical in zip(
        grid["item"], grid["measure"], grid["week"], grid["value"], grid["typical"], strict=True
    ):
        out[item].append(
            {
                "week": str(week),
                measure: None if pd.isna(value) else round(float(value), 3),
                "course_typical": None if pd.isna(typical) else round(float(typical), 3),
            }
        )
    return out


def _typical(weekly: pd.DataFrame, measure: str, size: pd.Series | None) -> pd.DataFrame:
    """(course, monday, typical): the median of ``measure`` over the learners active that week,
    or, with the cohort ``size`` per course (counts), over all of them, the idle ones at 0."""
    if size is None:
        med = weekly.groupby(["course", "monday"])[measure].median()
        return med.rename("typical").reset_index()
    # Sorted, each week's idle learners come first with 0: the median is at positions
    # (n - 1) // 2 and n // 2 of that list, a 0 where it falls among the idle ones.
    g = weekly[["course", "monday", measure]].sort_values(["course", "monday", measure])
    keys = [g["course"], g["monday"]]
    n = g["course"].map(size).to_numpy()
    idle = n - g.groupby(keys)[measure].transform("size").to_numpy()
    rank = idle + g.groupby(keys).cumcount().to_numpy()
    value = g[measure].to_numpy(dtype=float)
    cells = g[["course", "monday"]].drop_duplicates()
    med = []
    for position in ((n - 1) // 2, n // 2):
        at = g[["course", "monday"]][rank == position].assign(v=value[rank == position])
        med.append(cells.merge(at, on=["course", "monday"], how="left")["v"].fillna(0.0))
    return cells.reset_index(drop=True).assign(typical=(med[0].to_numpy() + med[1].to_numpy()) / 2)
