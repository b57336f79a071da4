"""What each category's detector checked on a snapshot: the entity keys it passed over.

An audit samples the *unflagged* part of this population to estimate what the detectors missed,
so each list holds every entity a gap of that category could be about (as the taxonomy's entity
keys), whatever the detector's thresholds: the entities it looked at and found fine, plus the
ones it flagged (``unflagged_population`` takes those away). A category whose tables the
snapshot lacks has no population (an empty list): nothing was checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from models.snapshot import Snapshot
from models.taxonomy import entity_keys, iso_week


def _keys(frame: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    frame = frame.dropna(subset=list(columns.values()))
    return sorted(set(entity_keys(frame, columns)))


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, errors="coerce").dt.strftime("%Y-%m-%d")


def _column(snapshot: Snapshot, table: str, column: str) -> bool:
    return snapshot.has_column(table, column)


def _rule_pairs(s: Snapshot) -> list[str]:
    """Active people by the courses active rules matching their department and job title."""
    if not all(s.has(t) for t in ("people", "enrollment_rules")):
        return []
    rules = s["enrollment_rules"]
    rules = rules[rules["active"].fillna(False).astype(bool)]
    people = s["people"]
    people = people[people["employment_status"].astype(str) == "active"]
    parts = []
    for col in ("department", "job_title"):
        if col not in rules.columns or col not in people.columns:
            return []
    has_dept, has_title = rules["department"].notna(), rules["job_title"].notna()
    for dept, title in ((True, True), (True, False), (False, True), (False, False)):
        part = rules[(has_dept == dept) & (has_title == title)]
        if part.empty:
            continue
        on = [c for c, used in (("department", dept), ("job_title", title)) if used]
        r = part[["course_id", *on]]
        p = people[["person_id", *on]]
        m = p.merge(r, on=on, how="inner") if on else p.merge(r, how="cross")
        parts.append(m[["person_id", "course_id"]])
    if not parts:
        return []
    return _keys(pd.concat(parts), {"person": "person_id", "course": "course_id"})


def _enrolments(s: Snapshot) -> list[str]:
    if not s.has("enrollments"):
        return []
    return _keys(s["enrollments"], {"enrollment": "enrollment_id"})


def _compliance_enrolments(s: Snapshot) -> list[str]:
    if not s.has("enrollments") or not _column(s, "courses", "is_compliance"):
        return []
    courses = s["courses"]
    mandatory = courses.loc[courses["is_compliance"].fillna(False).astype(bool), "course_id"]
    enr = s["enrollments"]
    return _keys(enr[enr["course_id"].isin(set(mandatory))], {"enrollment": "enrollment_id"})


def _notified_users(s: Snapshot) -> list[str]:
    if not s.has("notifications"):
        return []
    return _keys(s["notifications"], {"user": "user_id"})


def _channel_days(s: Snapshot) -> list[str]:
    if not s.has("notifications"):
        return []
    n = s["notifications"]
    frame = pd.DataFrame({"channel": n["channel"], "date": _dates(n["sent_at"])})
    return _keys(frame, {"channel": "channel", "date": "date"})


def _active_users(s: Snapshot) -> list[str]:
    u = s["lms_users"]
    return _keys(u[u["status"].astype(str) == "active"], {"user": "user_id"})


def _linked_users(s: Snapshot) -> list[str]:
    if not _column(s, "lms_users", "email") or not s.has("people"):
        return []
    u = s["lms_users"]
    return _keys(u[u["person_id"].notna()], {"user": "user_id"})


def _linked_people(s: Snapshot) -> list[str]:
    u = s["lms_users"]
    return _keys(u[u["person_id"].notna()], {"person": "person_id"})


def _integration_days(s: Snapshot) -> list[str]:
    """Every day from an integration's first run to ``as_of`` (runs and overdue days)."""
    if not s.has("sync_runs") or s["sync_runs"].empty:
        return []
    runs = s["sync_runs"]
    start = pd.to_datetime(runs["started_at"], utc=True, errors="coerce")
    end = pd.Timestamp(s.as_of).tz_convert("UTC") if pd.Timestamp(s.as_of).tzinfo else None
    rows = []
    for name, first in start.groupby(runs["integration"].astype(str)).min().items():
        if pd.isna(first):
            continue
        last = end if end is not None else start.max()
        for day in pd.date_range(first.normalize(), last.normalize(), freq="D"):
            rows.append((name, day.strftime("%Y-%m-%d")))
    frame = pd.DataFrame(rows, columns=["integration", "date"])
    return _keys(frame, {"integration": "integration", "date": "date"})


def _graded_courses(s: Snapshot) -> list[str]:
    if not s.has("submissions"):
        return []
    return _keys(s["submissions"], {"course": "course_id"})


def _course_days(s: Snapshot) -> list[str]:
    """Course-days with activity, and site days (``date``) for site-level events."""
    if not s.has("activity"):
        return []
    a = s["activity"]
    day = _dates(a["timestamp"])
    frame = pd.DataFrame({"course": a["course_id"], "date": day})
    site = sorted({f"date={d}" for d in day.dropna()})
    return sorted(set(_keys(frame, {"course": "course", "date": "date"})) | set(site))


def _owned_courses(s: Snapshot) -> list[str]:
    if not _column(s, "courses", "owner_user_id"):
        return []
    c = s["courses"]
    return _keys(c[c["status"].astype(str) == "active"], {"course": "course_id"})


def _reporting_days(s: Snapshot) -> list[str]:
    """Every day of the activity span, for the site and for each course with activity."""
    if not s.has("activity") or s["activity"].empty:
        return []
    a = s["activity"]
    ts = pd.to_datetime(a["timestamp"], utc=True, errors="coerce")
    if ts.isna().all():
        return []
    days = [d.strftime("%Y-%m-%d") for d in pd.date_range(ts.min().normalize(), ts.max(), freq="D")]
    courses = sorted(set(a["course_id"].dropna().astype(str)))
    keys = {f"date={d}" for d in days}
    keys.update(f"course={c};date={d}" for c in courses for d in days)
    return sorted(keys)


def _engagement_items(s: Snapshot) -> list[str]:
    """Course-weeks and learner-course pairs with activity (what the anomaly models score)."""
    if not s.has("activity"):
        return []
    a = s["activity"].dropna(subset=["course_id"])
    ts = pd.to_datetime(a["timestamp"], utc=True, errors="coerce")
    weeks = pd.DataFrame({"course": a["course_id"], "week": iso_week(ts)})
    pairs = _keys(a, {"user": "user_id", "course": "course_id"})
    return sorted(set(_keys(weeks, {"course": "course", "week": "week"})) | set(pairs))


POPULATIONS: dict[str, Callable[[Snapshot], list[str]]] = {
    "enrollment_missing": _rule_pairs,
    "enrollment_failed": _enrolments,
    "notification_undelivered": _notified_users,
    "notification_outage": _channel_days,
    "orphan_account": _active_users,
    "record_mismatch": _linked_users,
    "duplicate_account": _linked_people,
    "sync_failure": _integration_days,
    "progress_inconsistent": _enrolments,
    "feedback_delayed": _graded_courses,
    "access_failure": _course_days,
    "compliance_overdue": _compliance_enrolments,
    "unowned_course": _owned_courses,
    "reporting_gap": _reporting_days,
    "engagement_anomaly": _engagement_items,
}


def checked_population(snapshot: Snapshot, category: str) -> list[str]:
    """The sorted entity keys ``category``'s detector checked on ``snapshot``."""
    try:
        listing = POPULATIONS[category]
    except KeyError:
        raise ValueError(
            f"category {category!r} has no checked population; known: {sorted(POPULATIONS)}"
        ) from None
    return listing(snapshot)


def unflagged_population(snapshot: Snapshot, category: str, flagged: Iterable[str]) -> list[str]:
    """The checked population of ``category`` minus the ``flagged`` entity keys."""
    taken = set(flagged)
    return [k for k in checked_population(snapshot, category) if k not in taken]
