"""The feedback log as frames: decided findings with their labels, and the open queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlmodel import Session, col, select

from review_queue.audits import AUDIT_DETECTOR
from review_queue.feedback_log import standing_verdicts
from review_queue.states import AUDIT_ACTIONS, CONFIRMING_ACTIONS, WAITING_STATUSES, values
from review_queue.tables import FeedbackEvent, Finding

# Findings still waiting for a decision: these are the ones whose priority orders the queue.
QUEUE_STATUSES = values(WAITING_STATUSES)


# ---------------------------------------------------------------- reading the feedback log
def decided_frame(*, session: Session, until: datetime | None = None) -> pd.DataFrame:
    """One row per decided finding: its fields and its latest confirm/dismiss (undone ones are
    ignored), with ``decided_at`` and ``confirmed``.

    Audits: a verdict on a sampled dismissal relabels that finding but keeps the time of its
    first decision (so audited findings do not crowd the gate's latest decisions); findings an
    audit of unflagged entities made are left out (no detector proposed them, and the model
    ranks proposals: their weight as the sample's stand-ins, 1/π, goes to recall instead).
    """
    query = (
        select(FeedbackEvent, Finding)
        .join(Finding, col(Finding.id) == col(FeedbackEvent.finding_id))
        .where(*standing_verdicts(), col(Finding.detector) != AUDIT_DETECTOR)
        .order_by(col(FeedbackEvent.id))
    )
    if until is not None:
        query = query.where(col(FeedbackEvent.at) <= until)
    latest: dict[int, dict[str, Any]] = {}
    for event, finding in session.exec(query):
        earlier = latest.get(finding.id or 0)
        at = pd.Timestamp(event.at)
        if earlier is not None and event.action in AUDIT_ACTIONS:
            at = earlier["decided_at"]
        latest[finding.id or 0] = {
            "finding_id": finding.id,
            "category": finding.category,
            "detector": finding.detector,
            "entity_key": finding.entity_key,
            "score": float(finding.score),
            "severity": finding.severity,
            "features": dict(finding.features or {}),
            "course_id": finding.course_id,
            "department": finding.department,
            "decided_at": at,
            "confirmed": event.action in CONFIRMING_ACTIONS,
            "reason": event.reason,
        }
    columns = [
        "finding_id", "category", "detector", "entity_key", "score", "severity", "features",
        "course_id", "department", "decided_at", "confirmed", "reason",
    ]  # fmt: skip
    frame = pd.DataFrame(list(latest.values()), columns=columns)
    if len(frame):
        frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True)
    return frame


def open_frame(*, session: Session) -> pd.DataFrame:
    """The findings waiting in the queue, with the fields the priority model reads."""
    rows = session.exec(select(Finding).where(col(Finding.status).in_(QUEUE_STATUSES))).all()
    return pd.DataFrame(
        [
            {
                "finding_id": f.id,
                "category": f.category,
                "detector": f.detector,
                "entity_key": f.entity_key,
                "score": float(f.score),
                "severity": f.severity,
                "features": dict(f.features or {}),
                "course_id": f.course_id,
                "department": f.department,
                "priority": float(f.priority),
            }
            for f in rows
        ],
        columns=[
            "finding_id", "category", "detector", "entity_key", "score", "severity",
            "features", "course_id", "department", "priority",
        ],
    )  # fmt: skip
