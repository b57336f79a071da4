"""Comments on findings, and learner reports filed by instructors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from models.taxonomy import base_priority, entity_key
from review_queue.decisions import DecisionRefused
from review_queue.feedback import append_event
from review_queue.findings import get_finding, update_finding
from review_queue.permissions import Actor, require_role
from review_queue.tables import Comment, Finding, Role, Status, User
from review_queue.types import utcnow

MAX_TEXT = 4000
URGENCY_SCORE = {"low": 0.3, "medium": 0.5, "high": 0.8, "critical": 1.0}
REPORTERS = (Role.instructor, Role.admin)


def _may_follow(actor: Actor, finding: Finding) -> bool:
    return actor.role is Role.admin or (
        actor.role is Role.instructor and finding.reported_by_id == actor.id
    )


def _clean(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise DecisionRefused(f"{what} is empty")
    if "\x00" in text:  # PostgreSQL cannot store it; SQLite would, so refuse it everywhere
        raise DecisionRefused(f"{what} holds a NUL character; remove it")
    if len(text) > MAX_TEXT:
        raise DecisionRefused(f"{what} is {len(text)} characters; at most {MAX_TEXT}")
    return text


def add_comment(*, session: Session, actor: Actor, finding_id: int, body: str) -> Comment:
    """A plain-text comment (admins on any finding, instructors on their own reports)."""
    require_role(actor, REPORTERS, "commenting")
    finding = get_finding(session=session, finding_id=finding_id)
    if not _may_follow(actor, finding):
        raise PermissionError(f"{actor.name} may comment only on the reports they filed")
    assert actor.id is not None
    comment = Comment(finding_id=finding_id, author_id=actor.id, body=_clean(body, "the comment"))
    session.add(comment)
    session.flush()
    return comment


@dataclass(frozen=True)
class CommentView:
    """A comment as people read it."""

    author: str
    at: datetime
    body: str


def list_comments(*, session: Session, actor: Actor, finding_id: int) -> list[CommentView]:
    """The comments on a finding, oldest first (same visibility as commenting)."""
    require_role(actor, REPORTERS, "reading comments")
    finding = get_finding(session=session, finding_id=finding_id)
    if not _may_follow(actor, finding):
        raise PermissionError(f"{actor.name} may read comments only on the reports they filed")
    rows = session.exec(
        select(Comment, User.name)
        .join(User, col(User.id) == col(Comment.author_id))
        .where(col(Comment.finding_id) == finding_id)
        .order_by(col(Comment.id))
    ).all()
    return [CommentView(author=name, at=c.at, body=c.body) for c, name in rows]


def file_learner_report(
    *,
    session: Session,
    actor: Actor,
    learner_user_id: str,
    course_id: str,
    what_happened: str,
    urgency: str,
    allowed_courses: set[str] | None,
) -> Finding:
    """An instructor reports a learner's problem in one of their courses; it joins the queue.

    ``allowed_courses`` are the courses the reporter is responsible for (None: any, for admins).
    A second report about the same learner and course adds to the open finding, or reopens a
    closed one, rather than creating a twin.
    """
    require_role(actor, REPORTERS, "reporting learner problems")
    if actor.role is Role.instructor and allowed_courses is None:
        raise PermissionError("an instructor's courses must be known to file a report")
    learner, course = learner_user_id.strip(), course_id.strip()
    if not learner or not course:
        raise DecisionRefused("name the learner and the course")
    if allowed_courses is not None and course not in allowed_courses:
        raise PermissionError(f"{course} is not one of {actor.name}'s courses")
    if urgency not in URGENCY_SCORE:
        raise DecisionRefused(f"urgency must be one of {', '.join(URGENCY_SCORE)}")
    text = _clean(what_happened, "the description")
    key = entity_key({"user": learner, "course": course})
    now = utcnow()
    score = URGENCY_SCORE[urgency]
    evidence = {"report": text, "urgency": urgency, "learner": learner, "course": course,
                "reported_by": actor.name, "reported_at": now.isoformat()}  # fmt: skip
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
        session=session, finding_id=finding.id, actor=actor, action="report",
        from_status=from_status, to_status=finding.status, comment=text,
        priority_at_decision=finding.priority, at=now,
    )  # fmt: skip
    return finding


@dataclass(frozen=True)
class ReportView:
    """One of an instructor's reports, with where it stands."""

    finding_id: int
    title: str
    learner: str
    course: str
    status: str
    urgency: str
    filed_at: datetime
    last_update: datetime


def my_reports(*, session: Session, actor: Actor) -> list[ReportView]:
    """The learner reports this person filed, newest first."""
    require_role(actor, REPORTERS, "seeing reports")
    rows = session.exec(
        select(Finding)
        .where(col(Finding.reported_by_id) == actor.id)
        .order_by(col(Finding.last_seen_at).desc())
    ).all()
    return [
        ReportView(
            finding_id=f.id or 0,
            title=f.title,
            learner=str(f.evidence.get("learner", "")),
            course=str(f.evidence.get("course", f.course_id or "")),
            status=f.status,
            urgency=f.severity,
            filed_at=f.first_seen_at,
            last_update=f.last_seen_at,
        )
        for f in rows
    ]
