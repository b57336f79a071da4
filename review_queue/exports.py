"""Rows of the findings and decisions exports (contracts/gap-taxonomy.md), read in batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from review_queue.feedback_log import iter_events
from review_queue.permissions import Actor, require_role
from review_queue.tables import Finding, Role, User

FINDING_COLUMNS = (
    "finding_id", "category", "entity_key", "title", "detector", "detector_version", "score",
    "priority", "severity", "status", "first_seen_at", "last_seen_at", "occurrences", "assignee",
    "explanation",
)  # fmt: skip
# jsonl only: nested structures have no faithful CSV cell.
FINDING_DETAIL_COLUMNS = ("evidence", "features")
DECISION_COLUMNS = (
    "event_id", "finding_id", "at", "actor", "action", "from_status", "to_status", "reason",
    "comment", "model_version", "priority_at_decision",
)  # fmt: skip
EXPORTERS = (Role.admin, Role.manager)
_BATCH = 5000


def finding_rows(
    *, session: Session, actor: Actor, detail: bool = False
) -> Iterator[dict[str, Any]]:
    """One dict per finding, in id order (admins and managers); ``detail`` adds evidence and
    features (what the queue shows and what the detector measured)."""
    require_role(actor, EXPORTERS, "exporting findings")
    assignee = aliased(User)
    last = 0
    while True:
        rows = session.exec(
            select(Finding, assignee.name)
            .outerjoin(assignee, col(assignee.id) == col(Finding.assignee_id))
            .where(col(Finding.id) > last)
            .order_by(col(Finding.id))
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for f, assignee_name in rows:
            row: dict[str, Any] = {
                "finding_id": f.id, "category": f.category, "entity_key": f.entity_key,
                "title": f.title, "detector": f.detector, "detector_version": f.detector_version,
                "score": f.score, "priority": f.priority, "severity": f.severity,
                "status": f.status, "first_seen_at": f.first_seen_at.isoformat(),
                "last_seen_at": f.last_seen_at.isoformat(), "occurrences": f.occurrences,
                "assignee": assignee_name or "", "explanation": f.explanation,
            }  # fmt: skip
            if detail:
                row["evidence"] = f.evidence
                row["features"] = f.features
            yield row
        last = rows[-1][0].id or last
        session.expunge_all()


def decision_rows(*, session: Session, actor: Actor) -> Iterator[dict[str, Any]]:
    """One dict per feedback-log row, in the order they happened (admins and managers)."""
    require_role(actor, EXPORTERS, "exporting decisions")
    for e in iter_events(session=session, batch=_BATCH):
        yield {
            "event_id": e.id, "finding_id": e.finding_id, "at": e.at.isoformat(),
            "actor": e.actor, "action": e.action, "from_status": e.from_status or "",
            "to_status": e.to_status, "reason": e.reason or "", "comment": e.comment or "",
            "model_version": e.model_version or "",
            "priority_at_decision": e.priority_at_decision,
        }  # fmt: skip
