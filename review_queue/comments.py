"""Comments on findings: by admins, and by the instructor who reported the finding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from review_queue.decisions import DecisionRefused
from review_queue.findings import get_finding
from review_queue.permissions import Actor, require_role
from review_queue.tables import Comment, Finding, Role, User

MAX_TEXT = 4000
REPORTERS = (Role.instructor, Role.admin)


def _may_follow(actor: Actor, finding: Finding) -> bool:
    return actor.role is Role.admin or (
        actor.role is Role.instructor and finding.reported_by_id == actor.id
    )


def clean_text(text: str, what: str) -> str:
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
    comment = Comment(
        finding_id=finding_id, author_id=actor.id, body=clean_text(body, "the comment")
    )
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
