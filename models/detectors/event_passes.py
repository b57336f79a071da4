"""The passes over the event table (``activity``) that the detectors share, run on the engine.

Each pass is one narwhals expression over the events up to ``as_of`` (``frames.lazy_table``:
pandas in memory, or DuckDB or Spark over the stored Parquet) and returns a small pandas table:
counts per course and week, per course and day, per learner and week of a few courses, the
distinct (learner, course) pairs, or the few progress reports that could be falls. Nothing per
event is loaded, so a detector's memory does not grow with the log. Each result is cached per
snapshot (``common.cached``): several detectors read the same counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from models.detectors.common import as_of_ts, cached, to_utc_ts, unique_sorted
from models.detectors.frames import as_count, at_or_before, lazy_table, to_pandas, with_day
from models.snapshot import Snapshot

# Failed logins and launches are access problems (access_failure), not a learner's engagement.
ACCESS_VERBS = ("login_failed", "launch_failed")
COMPLETION_VERBS = ("completed", "passed")


def events(snapshot: Snapshot) -> nw.LazyFrame[Any]:
    """The events up to ``as_of`` with their UTC ``day`` number (a lazy frame on the engine).

    Events after ``as_of`` are dropped: the snapshot describes ``as_of``, and a clock skewed
    into the future must not make a day look busy."""

    def build() -> nw.LazyFrame[Any]:
        act = lazy_table(snapshot, "activity")
        kept = act.filter(at_or_before("timestamp", as_of_ts(snapshot)))
        return with_day(kept, "timestamp", "day")

    return cached(snapshot, "events", build)


def carried(snapshot: Snapshot) -> set[str]:
    """The activity columns the snapshot carries."""
    return cached(
        snapshot, "event_columns", lambda: set(lazy_table(snapshot, "activity").collect_schema())
    )


def learner_events(snapshot: Snapshot) -> nw.LazyFrame[Any]:
    """Events in a course that are a learner's doing (no failed logins or launches)."""
    return events(snapshot).filter(
        ~nw.col("course_id").is_null(), ~nw.col("verb").is_in(list(ACCESS_VERBS)).fill_null(False)
    )


def event_span(snapshot: Snapshot) -> dict[str, Any]:
    """Figures of the whole log up to ``as_of``: ``events``, ``users`` (distinct), ``first_day``
    and ``last_day``, ``course_first_day`` (of events in a course), ``learner_last_day`` (of a
    learner's events in a course), ``first`` and ``last`` timestamps, ``without_course``."""

    def build() -> dict[str, Any]:
        in_course = ~nw.col("course_id").is_null()
        learner = in_course & ~nw.col("verb").is_in(list(ACCESS_VERBS))
        got = to_pandas(
            events(snapshot).select(
                events=nw.len(),
                users=nw.col("user_id").n_unique(),
                first_day=nw.col("day").min(),
                last_day=nw.col("day").max(),
                course_first_day=nw.when(in_course).then(nw.col("day")).min(),
                learner_last_day=nw.when(learner).then(nw.col("day")).max(),
                first=nw.col("timestamp").min(),
                last=nw.col("timestamp").max(),
                without_course=as_count(~in_course).sum(),
            )
        )
        row = got.iloc[0].to_dict()
        out: dict[str, Any] = {"events": int(row["events"]) if pd.notna(row["events"]) else 0}
        for key in ("users", "first_day", "last_day", "course_first_day", "learner_last_day"):
            out[key] = int(row[key]) if pd.notna(row[key]) else None
        out["users"] = out["users"] or 0
        out["without_course"] = int(row["without_course"]) if pd.notna(row["without_course"]) else 0
        for key in ("first", "last"):
            out[key] = to_utc_ts(row[key]) if pd.notna(row[key]) else None
        return out

    return cached(snapshot, "event_span", build)


def course_week_counts(snapshot: Snapshot) -> pd.DataFrame:
    """Per (course_id, monday) of a learner's events in a course (``monday``: the day number of
    the week's Monday): ``events``, ``learners`` (distinct), ``failures`` (failed assessments)
    and ``completers`` (distinct learners who completed or passed), sorted by course and week."""

    def build() -> pd.DataFrame:
        ev = learner_events(snapshot).with_columns(
            monday=nw.col("day") - (nw.col("day") + 3) % 7,
            failed=as_count(nw.col("verb") == "failed"),
        )
        counts = ev.group_by("course_id", "monday").agg(
            events=nw.len(),
            learners=nw.col("user_id").n_unique(),
            failures=nw.col("failed").sum(),
        )
        done = (
            ev.filter(nw.col("verb").is_in(list(COMPLETION_VERBS)))
            .group_by("course_id", "monday")
            .agg(completers=nw.col("user_id").n_unique())
        )
        got = to_pandas(counts)
        out = got.merge(to_pandas(done), on=["course_id", "monday"], how="left")
        out = out.astype({"course_id": str})
        for c in ("monday", "events", "learners", "failures"):
            out[c] = out[c].fillna(0).astype("int64")
        out["completers"] = out["completers"].fillna(0).astype("int64")
        return out.sort_values(["course_id", "monday"], kind="stable").reset_index(drop=True)

    return cached(snapshot, "course_week_counts", build)


def course_day_counts(snapshot: Snapshot) -> pd.DataFrame:
    """Events per (course_id, day) up to ``as_of``, every verb; ``course_id`` None for the
    site's own events (logins, events without a course). Sorted by course, then day."""

    def build() -> pd.DataFrame:
        got = to_pandas(events(snapshot).group_by("course_id", "day").agg(events=nw.len()))
        course = got["course_id"].astype(object)
        out = pd.DataFrame(
            {
                "course_id": course.where(course.notna(), None),
                "day": got["day"].astype("int64"),
                "events": got["events"].astype("int64"),
            }
        )
        known = out["course_id"].notna()
        out = pd.concat([out[known].sort_values(["course_id", "day"]), out[~known]])
        return out.reset_index(drop=True)

    return cached(snapshot, "course_day_counts", build)


def verb_day_counts(snapshot: Snapshot, verbs: Sequence[str], *, by_course: bool) -> pd.DataFrame:
    """Events of ``verbs`` per (course_id, day, verb) with a course (``by_course``), else per
    (day, verb) over the whole log: columns ``day``, ``verb``, ``n`` (and ``course_id``)."""
    keys = ["course_id", "day", "verb"] if by_course else ["day", "verb"]
    ev = events(snapshot).filter(nw.col("verb").is_in(list(verbs)))
    if by_course:
        ev = ev.filter(~nw.col("course_id").is_null())
    got = to_pandas(ev.group_by(*keys).agg(n=nw.len()))
    out = got.astype({"day": "int64", "n": "int64", "verb": str})
    if by_course:
        out["course_id"] = out["course_id"].astype(str)
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def active_pairs(snapshot: Snapshot) -> pd.DataFrame:
    """The distinct (user_id, course_id) with an event in the course up to ``as_of``."""

    def build() -> pd.DataFrame:
        got = to_pandas(
            events(snapshot)
            .filter(~nw.col("course_id").is_null())
            .select("user_id", "course_id")
            .unique()
        )
        return got.astype({"user_id": str, "course_id": str}).reset_index(drop=True)

    return cached(snapshot, "active_pairs", build)


def has_activity(snapshot: Snapshot, frame: pd.DataFrame) -> pd.Series:
    """Whether each (user_id, course_id) row of ``frame`` has any activity up to ``as_of``."""
    if frame.empty:
        return pd.Series(False, index=frame.index)

    def build() -> tuple[pd.Index, pd.Index, np.ndarray]:
        pairs = active_pairs(snapshot)
        users = pd.Index(sorted(set(pairs["user_id"])), dtype=object)
        courses = pd.Index(sorted(set(pairs["course_id"])), dtype=object)
        key = users.get_indexer(pairs["user_id"]).astype("int64") * max(len(courses), 1)
        key += courses.get_indexer(pairs["course_id"]).astype("int64")
        return users, courses, unique_sorted(key)

    users, courses, keys = cached(snapshot, "active_pair_keys", build)
    # Codes of the active pairs' users and courses; -1 for one with no activity at all.
    uc = users.get_indexer(frame["user_id"].astype(str)).astype("int64")
    cc = courses.get_indexer(frame["course_id"].astype(str)).astype("int64")
    key = uc * max(len(courses), 1) + cc
    found = (uc >= 0) & (cc >= 0)
    if len(keys):
        pos = np.clip(np.searchsorted(keys, key), 0, len(keys) - 1)
        found &= keys[pos] == key
    else:
        found[:] = False
    return pd.Series(found, index=frame.index)


def learner_weeks(snapshot: Snapshot, course_ids: Sequence[str]) -> pd.DataFrame:
    """Per (course_id, user_id, monday) of a learner's events in ``course_ids`` (a few):
    ``events``, ``active_days`` (distinct), ``failed`` (failed assessments)."""
    cols = ["course_id", "user_id", "monday", "events", "active_days", "failed"]
    wanted = sorted({str(c) for c in course_ids})
    if not wanted:
        return pd.DataFrame(columns=cols)
    ev = learner_events(snapshot).filter(nw.col("course_id").is_in(wanted))
    got = to_pandas(
        ev.with_columns(
            monday=nw.col("day") - (nw.col("day") + 3) % 7,
            failures=as_count(nw.col("verb") == "failed"),
        )
        .group_by("course_id", "user_id", "monday")
        .agg(
            events=nw.len(),
            active_days=nw.col("day").n_unique(),
            failed=nw.col("failures").sum(),
        )
    )
    if got.empty:
        return pd.DataFrame(columns=cols)
    out = got.astype(
        {"course_id": str, "user_id": str, "monday": "int64", "events": "int64"}
    ).astype({"active_days": "int64", "failed": "float64"})
    return out[cols].reset_index(drop=True)


def stream_users(
    snapshot: Snapshot, course_ids: Sequence[str] | None, ranges: Sequence[tuple[int, int]]
) -> pd.DataFrame:
    """The distinct (course_id, day, user_id) of the events on the days of ``ranges`` (each
    ``[first, stop)`` day numbers): in ``course_ids``, or of every event (``None``; course_id
    then ""), or of the events without a course (an empty list; course_id "")."""
    if not ranges:
        return pd.DataFrame(columns=["course_id", "day", "user_id"])
    on_days = nw.lit(False)
    for first, stop in ranges:
        on_days = on_days | ((nw.col("day") >= int(first)) & (nw.col("day") < int(stop)))
    ev = events(snapshot).filter(on_days)
    if course_ids is None:
        ev = ev.with_columns(course_id=nw.lit(""))
    elif len(course_ids) == 0:
        ev = ev.filter(nw.col("course_id").is_null()).with_columns(course_id=nw.lit(""))
    else:
        ev = ev.filter(nw.col("course_id").is_in(sorted({str(c) for c in course_ids})))
    got = to_pandas(ev.select("course_id", "day", "user_id").unique())
    return got.astype({"course_id": str, "day": "int64", "user_id": str}).reset_index(drop=True)


def progress_reports(snapshot: Snapshot, min_drop: float) -> pd.DataFrame:
    """The progress reports and object launches of the (learner, course, object) series in
    which some report is more than ``min_drop`` below an earlier one: the only series where
    progress can go down within an attempt (``progress.progress_drops`` decides where it did).

    Columns: user_id, course_id, verb, timestamp, value and object_id (when carried); the rest
    of the log stays on the engine."""
    has_object = "object_id" in carried(snapshot)
    ev = events(snapshot).filter(~nw.col("course_id").is_null())
    obj = nw.col("object_id").fill_null("") if has_object else nw.lit("")
    ev = ev.with_columns(series_object=obj)
    keys = ["user_id", "course_id", "series_object"]
    if "value" not in carried(snapshot):
        return pd.DataFrame(columns=["user_id", "course_id", "verb", "timestamp", "value"])
    reports = ev.filter(nw.col("verb") == "progressed", ~nw.col("value").is_null())
    # Ordered by time, a fall is below the highest earlier value (reports at the same instant
    # are ordered by value, so never fall against each other): a superset of the falls.
    so_far = nw.col("value").cast(nw.Float64).cum_max().over(*keys, order_by="timestamp")
    fell = (
        reports.with_columns(so_far=so_far)
        .filter(nw.col("value").cast(nw.Float64) < nw.col("so_far") - float(min_drop))
        .select(*keys)
        .unique()
    )
    wanted = ((nw.col("verb") == "progressed") & ~nw.col("value").is_null()).fill_null(False)
    if has_object:
        # A launch of an object opens a new attempt of it (no object: nothing to launch).
        wanted = wanted | ((nw.col("verb") == "launched") & ~nw.col("object_id").is_null())
    picked = ["user_id", "course_id", "verb", "timestamp", "value"]
    if has_object:
        picked.append("object_id")
    got = to_pandas(ev.filter(wanted).join(fell, on=keys, how="semi").select(*picked))
    out = got.astype({"user_id": str, "course_id": str, "verb": str})
    out["value"] = out["value"].astype("float64")
    if has_object:
        obj_values = out["object_id"].astype(object)
        out["object_id"] = obj_values.where(obj_values.notna(), None)
    return out.reset_index(drop=True)
