"""Reason routing: every dismissal becomes the work item its reason asks for, in the same
transaction as the dismissal.

- ``false_positive_rule`` → the rule-tuning backlog (the detector and the features that fired;
  grouped by the rule ledger's threshold suggestion that would clear them);
- ``data_error`` → a data-quality ticket (the snapshot, tables and rows the evidence names);
- ``expected`` → a proposed scoped exception (course, department or entity);
- ``duplicate`` → a merge of the finding into the one it duplicates.

``other`` leads nowhere: its comment says what it is. Undoing or reopening a dismissal withdraws
the work item it made, so a list holds only the dismissals that stand.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from models.learning.grouping import key_parts
from models.snapshot import ALL_TABLES
from review_queue.outbox import record_event
from review_queue.tables import DetectionRun, FeedbackEvent, Finding, WorkItem
from review_queue.types import utcnow


class WorkKind(StrEnum):
    """The four work lists."""

    rule_tuning = "rule_tuning"
    data_quality = "data_quality"
    exception = "exception"
    duplicate = "duplicate"


class WorkStatus(StrEnum):
    """Where a work item stands."""

    open = "open"
    applied = "applied"  # its threshold or exception was applied
    rejected = "rejected"  # its fix was turned down
    closed = "closed"  # a data-quality ticket fixed at the source
    merged = "merged"  # a duplicate merged into its original
    withdrawn = "withdrawn"  # the dismissal behind it was undone or reopened


# The dismissal reason (review_queue.decisions.DismissReason) → the list it feeds.
ROUTES: dict[str, WorkKind] = {
    "false_positive_rule": WorkKind.rule_tuning,
    "data_error": WorkKind.data_quality,
    "expected": WorkKind.exception,
    "duplicate": WorkKind.duplicate,
}

LIST_TITLES: dict[WorkKind, str] = {
    WorkKind.rule_tuning: "Rule tuning",
    WorkKind.data_quality: "Data-quality tickets",
    WorkKind.exception: "Proposed exceptions",
    WorkKind.duplicate: "Duplicates",
}

# Each snapshot table's key column (contracts/lms-snapshot.md): how a ticket names its rows.
ROW_KEYS: dict[str, str] = {
    "people": "person_id",
    "lms_users": "user_id",
    "courses": "course_id",
    "enrollments": "enrollment_id",
    "enrollment_rules": "rule_id",
    "activity": "event_id",
    "submissions": "submission_id",
    "notifications": "notification_id",
    "sync_runs": "run_id",
}
# The parts of an entity key (``person=P1;course=C2``) and the table rows they name.
ENTITY_PARTS: dict[str, tuple[str, str]] = {
    "person": ("people", "person_id"),
    "user": ("lms_users", "user_id"),
    "course": ("courses", "course_id"),
    "enrollment": ("enrollments", "enrollment_id"),
    "rule": ("enrollment_rules", "rule_id"),
    "run": ("sync_runs", "run_id"),
}


def ticket_rows(finding: Finding) -> dict[str, list[dict[str, Any]]]:
    """The snapshot rows a finding's evidence shows, per table (evidence keys that are tables)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for key, value in (finding.evidence or {}).items():
        if key in ALL_TABLES and isinstance(value, list):
            rows[key] = [dict(r) for r in value if isinstance(r, dict)]
    return {table: found for table, found in rows.items() if found}


def ticket_keys(finding: Finding) -> dict[str, list[str]]:
    """Per table, the key values of the rows a ticket is about: those of the evidence rows and
    those the entity key names."""
    keys: dict[str, list[str]] = {}
    for table, found in ticket_rows(finding).items():
        column = ROW_KEYS[table]
        keys[table] = [str(r[column]) for r in found if r.get(column) not in (None, "")]
    for part, value in key_parts(finding.entity_key).items():
        if part in ENTITY_PARTS and value:
            table, _ = ENTITY_PARTS[part]
            keys.setdefault(table, [])
            if value not in keys[table]:
                keys[table].append(value)
    return {t: list(dict.fromkeys(v)) for t, v in keys.items() if v}


def snapshot_of(*, session: Session, finding: Finding) -> str | None:
    """The snapshot the finding was last seen in: the newest finished detection run that started
    before its ``last_seen_at`` (None for a learner report or a finding made by hand)."""
    return session.exec(
        select(DetectionRun.snapshot_id)
        .where(
            col(DetectionRun.status) == "done", col(DetectionRun.started_at) <= finding.last_seen_at
        )
        .order_by(col(DetectionRun.started_at).desc(), col(DetectionRun.id).desc())
    ).first()


def _detail(session: Session, kind: WorkKind, finding: Finding) -> dict[str, Any]:
    if kind is WorkKind.rule_tuning:
        return {"features": dict(finding.features or {})}
    if kind is WorkKind.data_quality:
        return {
            "snapshot_id": snapshot_of(session=session, finding=finding),
            "category": finding.category,
            "entity_key": finding.entity_key,
            "keys": ticket_keys(finding),
            "rows": ticket_rows(finding),
        }
    if kind is WorkKind.exception:
        return {
            "category": finding.category,
            "entity_key": finding.entity_key,
            "course_id": finding.course_id,
            "department": finding.department,
        }
    return {"original_id": finding.duplicate_of_id}


def ticket_payload(item: WorkItem, finding: Finding) -> dict[str, Any]:
    """A data-quality ticket as JSON for a receiver (a webhook): what, where and which rows."""
    detail = item.detail or {}
    return {
        "ticket_id": item.id,
        "finding_id": finding.id,
        "title": finding.title,
        "category": finding.category,
        "detector": finding.detector,
        "entity_key": finding.entity_key,
        "snapshot_id": detail.get("snapshot_id"),
        "tables": sorted((detail.get("keys") or {}).keys()),
        "rows": detail.get("keys") or {},
        "dismissed_at": item.created_at.isoformat(),
        "note": item.note,
    }


def withdraw_work(*, session: Session, finding_id: int) -> int:
    """Withdraw the open work items of a finding whose dismissal no longer stands; how many."""
    items = session.exec(
        select(WorkItem).where(
            col(WorkItem.finding_id) == finding_id, col(WorkItem.status) == WorkStatus.open
        )
    ).all()
    for item in items:
        item.status = WorkStatus.withdrawn.value
        item.closed_at = utcnow()
        session.add(item)
    return len(items)


def route_dismissal(*, session: Session, finding: Finding, event: FeedbackEvent) -> WorkItem | None:
    """Record the work item a dismissal's reason asks for (None for ``other``), in the caller's
    transaction; a new data-quality ticket goes to the ticket hooks as well."""
    kind = ROUTES.get(event.reason or "")
    assert finding.id is not None and event.id is not None
    withdraw_work(session=session, finding_id=finding.id)
    if kind is None:
        return None
    item = WorkItem(
        kind=kind.value,
        finding_id=finding.id,
        dismiss_event_id=event.id,
        detector=finding.detector,
        created_at=event.at,
        detail=_detail(session, kind, finding),
        note=event.comment,
    )
    session.add(item)
    session.flush()
    if kind is WorkKind.data_quality:
        # The webhook outbox: subscribers hear of the ticket once the dismissal commits.
        record_event(
            session=session, kind="data_quality.ticket", payload=ticket_payload(item, finding)
        )
    return item
