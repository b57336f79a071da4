"""The gap taxonomy (contracts/gap-taxonomy.md): category ids and entity keys."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

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
