"""The work lists: the fixes dismissals were routed to (review_queue.routing), with their age
and owner, and what admins do with them. Every action is a feedback-log row on the dismissed
finding (its status does not change), so the log tells who applied, refused, closed or merged
what, and when.

Applying a threshold or a course or department exception changes a detector configuration and
lives in the application (app.learning.work_lists); this module records the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlmodel import Session, col, select

from models.learning.grouping import GroupingSuggestion, grouping_suggestions
from review_queue.feedback_log import append_event
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.routing import WorkKind, WorkStatus
from review_queue.states import Action
from review_queue.tables import FeedbackEvent, Finding, User, WorkItem
from review_queue.types import utcnow

# What each finishing action leaves an item as, and which lists it belongs to.
OUTCOMES: dict[Action, tuple[WorkStatus, tuple[WorkKind, ...]]] = {
    Action.work_apply: (WorkStatus.applied, (WorkKind.rule_tuning, WorkKind.exception)),
    Action.work_reject: (WorkStatus.rejected, tuple(WorkKind)),
    Action.work_close: (WorkStatus.closed, (WorkKind.data_quality,)),
    Action.merge: (WorkStatus.merged, (WorkKind.duplicate,)),
}


class WorkRefused(ValueError):
    """A work-list action cannot be done; the message says why."""


@dataclass(frozen=True)
class WorkRow:
    """One work item as a list shows it."""

    id: int
    kind: str
    status: str
    finding_id: int
    title: str
    category: str
    entity_key: str
    detector: str
    course_id: str | None
    department: str | None
    created_at: datetime
    age_days: int
    owner: str | None
    note: str | None
    detail: dict[str, Any]
    closed_by: str | None


def _kind(kind: WorkKind | str) -> WorkKind:
    try:
        return WorkKind(kind)
    except ValueError:
        raise WorkRefused(
            f"{kind!r} is not a work list; use one of {', '.join(WorkKind)}"
        ) from None


def list_work(
    *,
    session: Session,
    actor: Actor,
    kind: WorkKind | str,
    include_closed: bool = False,
    now: datetime | None = None,
) -> list[WorkRow]:
    """One work list, oldest first, with each item's age (days) and owner (admins only)."""
    require_role(actor, ADMIN_ONLY, "reading the work lists")
    which = _kind(kind)
    now = now or utcnow()
    query = (
        select(WorkItem, Finding, User.name)
        .join(Finding, col(Finding.id) == col(WorkItem.finding_id))
        .join(User, col(User.id) == col(WorkItem.owner_id), isouter=True)
        .where(col(WorkItem.kind) == which.value)
        .order_by(col(WorkItem.created_at), col(WorkItem.id))
    )
    if include_closed:
        query = query.where(col(WorkItem.status) != WorkStatus.withdrawn)
    else:
        query = query.where(col(WorkItem.status) == WorkStatus.open)
    rows = []
    for item, finding, owner in session.exec(query).all():
        assert item.id is not None and finding.id is not None
        rows.append(
            WorkRow(
                id=item.id, kind=item.kind, status=item.status, finding_id=finding.id,
                title=finding.title, category=finding.category, entity_key=finding.entity_key,
                detector=item.detector, course_id=finding.course_id,
                department=finding.department, created_at=item.created_at,
                age_days=max(0, (now - item.created_at).days), owner=owner, note=item.note,
                detail=dict(item.detail or {}), closed_by=item.closed_by,
            )
        )  # fmt: skip
    return rows


def work_counts(*, session: Session, actor: Actor) -> dict[str, int]:
    """Open items per work list (the page's tab labels)."""
    require_role(actor, ADMIN_ONLY, "reading the work lists")
    counts = dict.fromkeys((k.value for k in WorkKind), 0)
    for kind in session.exec(
        select(WorkItem.kind).where(col(WorkItem.status) == WorkStatus.open)
    ).all():
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def get_work_item(*, session: Session, item_id: int) -> WorkItem:
    """The work item ``item_id`` (refused with its number when there is none)."""
    item = session.get(WorkItem, item_id)
    if item is None:
        raise WorkRefused(f"there is no work item #{item_id}")
    return item


def _log(
    session: Session, actor: Actor, finding_id: int, action: Action, comment: str
) -> FeedbackEvent:
    finding = session.get(Finding, finding_id)
    assert finding is not None
    return append_event(
        session=session, finding_id=finding_id, actor=actor, action=action.value,
        from_status=finding.status, to_status=finding.status, comment=comment,
        priority_at_decision=finding.priority,
    )  # fmt: skip


def _open_item(session: Session, item_id: int) -> WorkItem:
    item = get_work_item(session=session, item_id=item_id)
    if item.status != WorkStatus.open:
        by = f" by {item.closed_by}" if item.closed_by else ""
        raise WorkRefused(f"work item #{item_id} is already {item.status}{by}")
    return item


def assign_work(
    *, session: Session, actor: Actor, item_id: int, owner_id: int | None = None
) -> WorkItem:
    """Give an open work item an owner (an active admin; the actor when ``owner_id`` is None,
    which is taking it) and log it."""
    require_role(actor, ADMIN_ONLY, "assigning work items")
    item = _open_item(session, item_id)
    owner_id = actor.id if owner_id is None else owner_id
    person = session.get(User, owner_id) if owner_id is not None else None
    if person is None or not person.active:
        raise WorkRefused(f"user #{owner_id} does not exist or is disabled")
    if person.role != "admin":
        raise WorkRefused(f"{person.name} is {person.role}; only admins own work items")
    item.owner_id = person.id
    session.add(item)
    took = "took" if person.id == actor.id else f"gave it to {person.name}"
    _log(session, actor, item.finding_id, Action.work_assign,
         f"work item #{item.id} ({item.kind}): {actor.name} {took}")  # fmt: skip
    return item


def finish_work(
    *,
    session: Session,
    actor: Actor,
    item_ids: Iterable[int],
    action: Action | str,
    note: str | None = None,
) -> list[WorkItem]:
    """Apply, reject, close or merge open work items (all or none) and log each on its finding.

    Used by the fixes themselves (app.learning.work_lists) once they are in place; called alone
    it records a decision that needs no change in Gapdesk (a refusal, a ticket fixed at source).
    """
    require_role(actor, ADMIN_ONLY, "working on the work lists")
    act = Action(action)
    if act not in OUTCOMES:
        raise WorkRefused(f"{act.value} is not a work-list action")
    if note is not None and "\x00" in note:
        raise WorkRefused("the note holds a NUL character; remove it")
    status, kinds = OUTCOMES[act]
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        raise WorkRefused("pick at least one work item")
    items = [_open_item(session, i) for i in ids]
    for item in items:
        if WorkKind(item.kind) not in kinds:
            raise WorkRefused(
                f"work item #{item.id} is a {item.kind} item; {act.value} is not for it"
            )
    now = utcnow()
    note = note.strip() if note and note.strip() else None
    for item in items:
        item.status, item.closed_at, item.closed_by = status.value, now, actor.name
        if note:
            item.note = f"{item.note}\n{note}" if item.note else note
        session.add(item)
        said = f": {note}" if note else ""
        _log(session, actor, item.finding_id, act,
             f"work item #{item.id} ({item.kind}) {status.value}{said}")  # fmt: skip
    return items


def reject_work(
    *, session: Session, actor: Actor, item_ids: Iterable[int], note: str | None = None
) -> list[WorkItem]:
    """Turn down the fix of open work items (any list), logged on each finding."""
    return finish_work(
        session=session, actor=actor, item_ids=item_ids, action=Action.work_reject, note=note
    )


def close_tickets(
    *, session: Session, actor: Actor, item_ids: Iterable[int], note: str | None = None
) -> list[WorkItem]:
    """Close data-quality tickets (the data was fixed at its source), logged on each finding."""
    return finish_work(
        session=session, actor=actor, item_ids=item_ids, action=Action.work_close, note=note
    )


def merge_duplicate(*, session: Session, actor: Actor, item_id: int) -> WorkItem:
    """Merge a duplicate into the finding it duplicates: both keep their evidence and history,
    the duplicate's row points at the original, and the merge is logged on both."""
    require_role(actor, ADMIN_ONLY, "merging duplicates")
    item = _open_item(session, item_id)
    original_id = (item.detail or {}).get("original_id")
    if item.kind != WorkKind.duplicate or original_id is None:
        raise WorkRefused(f"work item #{item_id} is not a duplicate to merge")
    if session.get(Finding, int(original_id)) is None:
        raise WorkRefused(f"finding #{original_id} (the original) no longer exists")
    finish_work(session=session, actor=actor, item_ids=[item_id], action=Action.merge,
                note=f"merged into finding #{original_id}")  # fmt: skip
    _log(session, actor, int(original_id), Action.merge,
         f"finding #{item.finding_id} merged into this one (work item #{item.id}); its evidence "
         "and history are kept with it")  # fmt: skip
    return item


def duplicate_pair(
    *, session: Session, actor: Actor, item_id: int
) -> tuple[Finding, Finding, list[FeedbackEvent], list[FeedbackEvent]]:
    """A duplicate item's two findings (the duplicate, the original) and their histories, to
    compare before merging (admins only)."""
    require_role(actor, ADMIN_ONLY, "reading the work lists")
    item = get_work_item(session=session, item_id=item_id)
    original = session.get(Finding, int((item.detail or {}).get("original_id") or 0))
    dup = session.get(Finding, item.finding_id)
    if item.kind != WorkKind.duplicate or original is None or dup is None:
        raise WorkRefused(f"work item #{item_id} is not a duplicate of an existing finding")
    return dup, original, _history(session, dup.id), _history(session, original.id)


def _history(session: Session, finding_id: int | None) -> list[FeedbackEvent]:
    return list(
        session.exec(
            select(FeedbackEvent)
            .where(col(FeedbackEvent.finding_id) == finding_id)
            .order_by(col(FeedbackEvent.id))
        ).all()
    )


@dataclass(frozen=True)
class MergedFinding:
    """A finding merged into another, with its evidence and its history."""

    finding_id: int
    title: str
    detector: str
    entity_key: str
    evidence: dict[str, Any]
    history: list[FeedbackEvent]


def merged_into(*, session: Session, actor: Actor, finding_id: int) -> list[MergedFinding]:
    """The findings merged into ``finding_id`` (the original), each with evidence and history."""
    require_role(actor, ADMIN_ONLY, "reading merged findings")
    items = session.exec(
        select(WorkItem).where(
            col(WorkItem.kind) == WorkKind.duplicate, col(WorkItem.status) == WorkStatus.merged
        )
    ).all()
    out = []
    for item in items:
        if int((item.detail or {}).get("original_id") or 0) != finding_id:
            continue
        dup = session.get(Finding, item.finding_id)
        assert dup is not None and dup.id is not None
        history = _history(session, dup.id)
        out.append(
            MergedFinding(
                dup.id,
                dup.title,
                dup.detector,
                dup.entity_key,
                dict(dup.evidence or {}),
                list(history),
            )
        )
    return out


def duplicate_grouping(
    *, session: Session, actor: Actor, min_duplicates: int = 3
) -> list[GroupingSuggestion]:
    """Where one detector keeps producing duplicates: the entity-key parts its duplicates share
    with their originals, to group its findings by (admins only)."""
    require_role(actor, ADMIN_ONLY, "reading the work lists")
    items = session.exec(
        select(WorkItem).where(
            col(WorkItem.kind) == WorkKind.duplicate,
            col(WorkItem.status).in_([WorkStatus.open, WorkStatus.merged]),
        )
    ).all()
    pairs = []
    for item in items:
        original = session.get(Finding, int((item.detail or {}).get("original_id") or 0))
        dup = session.get(Finding, item.finding_id)
        if original is None or dup is None:
            continue
        pairs.append(
            {"detector": item.detector, "duplicate_key": dup.entity_key,
             "original_key": original.entity_key, "original_detector": original.detector}
        )  # fmt: skip
    frame = pd.DataFrame(
        pairs, columns=["detector", "duplicate_key", "original_key", "original_detector"]
    )
    return grouping_suggestions(frame, min_duplicates=min_duplicates)
