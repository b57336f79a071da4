"""The gap taxonomy (contracts/gap-taxonomy.md): category ids and entity keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from models.snapshot import Snapshot

# Names appear in an entity key in this fixed order (the contract's interface; never reorder).
ENTITY_KEY_ORDER = (
    "person",
    "user",
    "enrollment",
    "course",
    "integration",
    "channel",
    "date",
    "week",
)

CATEGORIES: dict[str, str] = {
    "enrollment_missing": "A person an active rule says must take a course has no enrolment in it",
    "enrollment_failed": "The LMS tried to enrol and failed, or the enrolment never took effect",
    "notification_undelivered": "A learner is not reached by notifications",
    "notification_outage": "A channel stopped delivering for a day",
    "orphan_account": "LMS and HR disagree about who exists",
    "record_mismatch": "The same person has inconsistent records across systems",
    "duplicate_account": "One person has several active LMS accounts",
    "sync_failure": "An integration failed, lost records or stopped running",
    "progress_inconsistent": "Progress tracking contradicts itself",
    "feedback_delayed": "Learners wait too long for feedback",
    "access_failure": "Learners can't get into a course (or the site)",
    "compliance_overdue": "A mandatory deadline is missed",
    "unowned_course": "Nobody owns a course",
    "reporting_gap": "Data that should arrive is missing, so reports are wrong",
    "engagement_anomaly": "A course (or learner) behaves unlike its peers",
    "learner_report": "An instructor reports a learner's problem by hand",
}

# Categories that detectors propose (learner_report is filed by people).
DETECTED_CATEGORIES = tuple(c for c in CATEGORIES if c != "learner_report")


def entity_key(parts: Mapping[str, object]) -> str:
    """``name=value`` pairs joined by ``;`` in the contract's order; empty values are left out."""
    unknown = set(parts) - set(ENTITY_KEY_ORDER)
    if unknown:
        raise ValueError(f"unknown entity key names: {sorted(unknown)}")
    return ";".join(
        f"{name}={parts[name]}"
        for name in ENTITY_KEY_ORDER
        if name in parts and parts[name] is not None and str(parts[name]) != ""
    )


def entity_keys(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.Series:
    """Vectorised entity keys: ``columns`` maps key names to columns of ``frame`` (all present)."""
    names = [n for n in ENTITY_KEY_ORDER if n in columns]
    unknown = set(columns) - set(ENTITY_KEY_ORDER)
    if unknown:
        raise ValueError(f"unknown entity key names: {sorted(unknown)}")
    if frame.empty:
        return pd.Series([], index=frame.index, dtype=object)
    out: pd.Series | None = None
    for name in names:
        piece = name + "=" + frame[columns[name]].astype(str)
        out = piece if out is None else out + ";" + piece
    assert out is not None
    return out


def parse_entity_key(key: str) -> dict[str, str]:
    """The name → value pairs of an entity key."""
    parts: dict[str, str] = {}
    for piece in key.split(";"):
        name, sep, value = piece.partition("=")
        if not sep or name not in ENTITY_KEY_ORDER:
            raise ValueError(f"malformed entity key {key!r}")
        parts[name] = value
    return parts


def iso_week(ts: pd.Series) -> pd.Series:
    """ISO week labels ``YYYY-Www`` for a datetime series."""
    iso = ts.dt.isocalendar()
    return iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)


# Why each gap matters to a learning programme, shown to reviewers next to the evidence.
WHY_IT_MATTERS: dict[str, str] = {
    "enrollment_missing": "Automation failed silently: the person never sees the training, and "
    "compliance reports count them as 'not started' or miss them entirely.",
    "enrollment_failed": "The learner believes they are enrolled (or was never told), so "
    "deadlines pass without anyone noticing.",
    "notification_undelivered": "Reminders and deadlines never reach the learner; overdue "
    "training follows weeks later.",
    "notification_outage": "A whole channel stopped delivering: every learner relying on it "
    "missed that day's enrolment notices and reminders.",
    "orphan_account": "Leavers keep access and licences, or people exist in the LMS that HR "
    "does not know: audits and reports disagree.",
    "record_mismatch": "Reports joined on email split one person into two; SSO and reminders "
    "may go to the wrong address.",
    "duplicate_account": "Progress and completions are split across accounts, so the person "
    "looks non-compliant while they did the training.",
    "sync_failure": "An integration lost or stopped moving records: everything downstream "
    "(enrolments, reports) is quietly out of date.",
    "progress_inconsistent": "Progress tracking contradicts itself: completions may be "
    "unearned, or earned ones not counted.",
    "feedback_delayed": "Learners wait too long for grades and feedback, which hurts "
    "completion and satisfaction.",
    "access_failure": "Learners cannot get into the course or site; they give up and the "
    "deadline is missed.",
    "compliance_overdue": "A mandatory deadline passed: a regulatory and safety exposure for "
    "the organisation.",
    "unowned_course": "Nobody is accountable for the course: content, grading and enrolment "
    "problems have no one to fix them.",
    "reporting_gap": "Data did not arrive for a day: dashboards and compliance reports built "
    "on it are wrong.",
    "engagement_anomaly": "Behaviour unlike its peers often points at a broken course, a "
    "failing integration or learners who need help.",
    "learner_report": "An instructor saw a learner problem first-hand; it needs an owner.",
}


# ---------------------------------------------------------------- severity and base priority
SEVERITY_WEIGHT = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
SCORE_SHARE = 0.7  # of the base priority; the rest is the severity's weight


def base_priorities(
    score: Sequence[float] | np.ndarray, severity: Sequence[str] | pd.Series
) -> np.ndarray:
    """The priority before learning, for many findings: mostly the detector's suspicion, nudged
    up by the harm if it is real (an unknown severity weighs as ``medium``)."""
    weight = pd.Series(list(severity)).map(SEVERITY_WEIGHT).fillna(0.5).to_numpy(dtype=float)
    return np.asarray(SCORE_SHARE * np.asarray(score, dtype=float) + (1 - SCORE_SHARE) * weight)


def base_priority(score: float, severity: str) -> float:
    """The priority before learning of one finding, in [0, 1] (see ``base_priorities``)."""
    return round(float(base_priorities([score], [severity])[0]), 6)


# ---------------------------------------------------------------- where a gap sits
# People-level keys (person, user, enrollment) take the person's HR department, since that is
# whose training is affected; course-level keys take the course's department.
def split_entity_keys(keys: Sequence[str]) -> pd.DataFrame:
    """One column per entity-key name (missing names are null), vectorised."""
    series = pd.Series(list(keys), dtype="string")
    out = pd.DataFrame({"entity_key": series})
    for name in ENTITY_KEY_ORDER:
        out[name] = series.str.extract(rf"(?:^|;){name}=([^;]*)", expand=False)
    return out


def _carried(snapshot: Snapshot, table: str, columns: list[str]) -> pd.DataFrame:
    """``columns`` of ``table``, those the snapshot does not carry (or the whole table) left
    empty: an entity whose place the source cannot tell simply has none."""
    # Every column taken here is an id or a name: text, as in a typed snapshot.
    if not snapshot.has(table):
        return pd.DataFrame({c: pd.Series([], dtype="str") for c in columns})
    frame = snapshot[table]
    absent = {c: pd.Series(None, index=frame.index, dtype="str") for c in columns}
    return frame[[c for c in columns if c in frame.columns]].assign(
        **{c: v for c, v in absent.items() if c not in frame.columns}
    )[columns]


def attribute_entities(snapshot: Snapshot, keys: Sequence[str]) -> pd.DataFrame:
    """``entity_key, course_id, department`` for each key (null where it does not apply)."""
    parts = split_entity_keys(keys)
    people = _carried(snapshot, "people", ["person_id", "department"]).rename(
        columns={"department": "person_department"}
    )
    users = _carried(snapshot, "lms_users", ["user_id", "person_id"]).rename(
        columns={"person_id": "user_person_id"}
    )
    enrollments = _carried(snapshot, "enrollments", ["enrollment_id", "user_id", "course_id"])
    enrollments = enrollments.rename(
        columns={"user_id": "enrolled_user_id", "course_id": "enrolled_course_id"}
    )
    courses = _carried(snapshot, "courses", ["course_id", "department"]).rename(
        columns={"course_id": "course_key", "department": "course_department"}
    )
    frame = parts.merge(enrollments, how="left", left_on="enrollment", right_on="enrollment_id")
    frame["user_any"] = frame["user"].fillna(frame["enrolled_user_id"])
    frame = frame.merge(users, how="left", left_on="user_any", right_on="user_id")
    frame["person_any"] = frame["person"].fillna(frame["user_person_id"])
    frame = frame.merge(people, how="left", left_on="person_any", right_on="person_id")
    frame["course_id"] = frame["course"].fillna(frame["enrolled_course_id"])
    frame = frame.merge(courses, how="left", left_on="course_id", right_on="course_key")
    frame["department"] = frame["person_department"].fillna(frame["course_department"])
    out = frame[["entity_key", "course_id", "department"]].astype(object)
    return out.where(out.notna(), None).drop_duplicates("entity_key")
