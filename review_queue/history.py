"""A finding's entity history: every logged event about the same entity, in any category."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.tables import FeedbackEvent, Finding


@dataclass(frozen=True)
class HistoryItem:
    """One thing that happened to this entity: a decision on it or on a sibling finding."""

    finding_id: int
    category: str
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str
    reason: str | None
    comment: str | None
    event_id: int


def entity_history(
    *, session: Session, actor: Actor, finding: Finding, limit: int = 100
) -> list[HistoryItem]:
    """Every logged event about the same entity (any category), newest first."""
    require_role(actor, ADMIN_ONLY, "reviewing the queue")
    rows = session.exec(
        select(FeedbackEvent, Finding.category)
        .join(Finding, col(Finding.id) == col(FeedbackEvent.finding_id))
        .where(col(Finding.entity_key) == finding.entity_key)
        .order_by(col(FeedbackEvent.id).desc())
        .limit(limit)
    ).all()
    return [
        HistoryItem(
            finding_id=e.finding_id,
            category=category,
            at=e.at,
            actor=e.actor,
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            reason=e.reason,
            comment=e.comment,
            event_id=e.id or 0,
        )
        for e, category in rows
    ]
