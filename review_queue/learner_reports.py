"""Learner reports: problems an instructor files by hand, and their status for the reporter."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from models.taxonomy import base_priority, entity_key
from review_queue.comments import REPORTERS, clean_text
from review_queue.decisions import DecisionRefused
from review_queue.feedback_log import append_event
from review_queue.findings import update_finding
from review_queue.outbox import REPORT_WORDS
from review_queue.permissions import Actor, require_role
from review_queue.queue_counts import fold_if_due
from review_queue.states import Action, Status
from review_queue.tables import Finding, Role
from review_queue.types import utcnow

URGENCY_SCORE = {"low": 0.3, "medium": 0.5, "high": 0.8, "critical": 1.0}


def file_learner_report(
    *,
    session: Session,
    actor: Actor,
    learner_user_id: str,
    course_id: str,
    what_happened: str,
    urgency: str,
    allowed_courses: Mapping[str, Collection[str]] | None,
    learner_name: str | None = None,
) -> Finding:
    """An instructor reports a learner's problem in one of their courses; it joins the queue.

    ``allowed_courses`` are the courses the reporter is responsible for, each with the learner
    ids on its roster (``Roster.learners``; None: any, for admins). A learner not on the
    course's roster is refused here, whatever the page offered.
    A second report about the same learner and course adds to the open finding, or reopens a
    closed one, rather than creating a twin. ``learner_name`` (as the roster shows it) is kept
    with the report, so the reporter's list names the learner.
    """
    require_role(actor, REPORTERS, "reporting learner problems")
    if actor.role is Role.instructor and allowed_courses is None:
        raise PermissionError("an instructor's courses must be known to file a report")
    learner, course = learner_user_id.strip(), course_id.strip()
    if not learner or not course:
        raise DecisionRefused("name the learner and the course")
    if allowed_courses is not None and course not in allowed_courses:
        raise PermissionError(f"{course} is not one of {actor.name}'s courses")
    if allowed_courses is not None and learner not in allowed_courses[course]:
        raise PermissionError(f"{learner} is not on the roster of {course}")
    if urgency not in URGENCY_SCORE:
        raise DecisionRefused(f"urgency must be one of {', '.join(URGENCY_SCORE)}")
    text = clean_text(what_happened, "the description")
    key = entity_key({"user": learner, "course": course})
    now = utcnow()
    score = URGENCY_SCORE[urgency]
    evidence = {"report": text, "urgency": urgency, "learner": learner, "course": course,
                "reported_by": actor.name, "reported_at": now.isoformat()}  # fmt: skip
    if learner_name and learner_name.strip():
        evidence["learner_name"] = learner_name.strip()[:200]
    title = f"{actor.name} reports about {learner} in {course}: {text.splitlines()[0][:120]}"
    existing = session.exec(
        select(Finding).where(
            col(Finding.category) == "learner_report", col(Finding.entity_key) == key
        )
    ).first()
    if existing is None:
        finding = Finding(
            category="learner_report", entity_key=key, title=title, detector="manual",
            detector_version="1", score=score, priority=base_priority(score, urgency),
            severity=urgency, status=Status.new.value, first_seen_at=now, last_seen_at=now,
            evidence=evidence, explanation="Filed by an instructor.", reported_by_id=actor.id,
            course_id=course,
        )  # fmt: skip
        session.add(finding)
        session.flush()
        from_status = None
    else:
        assert existing.id is not None
        from_status = existing.status
        reopen = Status(existing.status) in (Status.dismissed, Status.resolved)
        changes: dict[str, object] = {
            "last_seen_at": now, "occurrences": existing.occurrences + 1,
            "score": max(existing.score, score), "evidence": evidence, "title": title,
            "reported_by_id": existing.reported_by_id or actor.id,
        }  # fmt: skip
        if reopen:
            changes.update(status=Status.new.value, assignee_id=None)
        finding = update_finding(
            session=session, finding_id=existing.id,
            expected_row_version=existing.row_version, changes=changes,
        )  # fmt: skip
    assert finding.id is not None
    append_event(
        session=session, finding_id=finding.id, actor=actor, action=Action.report.value,
        from_status=from_status, to_status=finding.status, comment=text,
        priority_at_decision=finding.priority, at=now,
    )  # fmt: skip
    fold_if_due(session)
    return finding


# Where a report stands, in the reporter's words (the queue's statuses are the admins' jargon).
REPORT_STATUS_WORDS: dict[Status, str] = {Status(k): v for k, v in REPORT_WORDS.items()}


@dataclass(frozen=True)
class ReportView:
    """One of an instructor's reports, with where it stands."""

    finding_id: int
    title: str
    learner: str  # the learner's user id
    course: str
    status: str
    urgency: str
    filed_at: datetime
    last_update: datetime
    learner_name: str = ""  # "Ada Lovelace (U1)" where known, else the user id
    what_happened: str = ""  # what the reporter wrote (the latest report)
    status_words: str = ""  # the status in the reporter's words (REPORT_STATUS_WORDS)


def my_reports(
    *,
    session: Session,
    actor: Actor,
    learner_names: Mapping[str, Mapping[str, str]] | None = None,
) -> list[ReportView]:
    """The learner reports this person filed, newest first, with what they wrote and where each
    stands in plain words. ``learner_names`` (course → user id → name, an instructor's roster)
    names the learners; a report filed with a name keeps it."""
    require_role(actor, REPORTERS, "seeing reports")
    rows = session.exec(
        select(Finding)
        .where(col(Finding.reported_by_id) == actor.id)
        .order_by(col(Finding.last_seen_at).desc())
    ).all()
    names = learner_names or {}
    out = []
    for f in rows:
        learner = str(f.evidence.get("learner", ""))
        course = str(f.evidence.get("course", f.course_id or ""))
        named = names.get(course, {}).get(learner) or f.evidence.get("learner_name") or learner
        out.append(
            ReportView(
                finding_id=f.id or 0,
                title=f.title,
                learner=learner,
                course=course,
                status=f.status,
                urgency=f.severity,
                filed_at=f.first_seen_at,
                last_update=f.last_seen_at,
                learner_name=str(named),
                what_happened=str(f.evidence.get("report", "")),
                status_words=REPORT_STATUS_WORDS.get(Status(f.status), f.status),
            )
        )
    return out
