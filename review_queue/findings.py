"""Reading and writing findings, with optimistic concurrency on every change."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from review_queue.permissions import EVERYONE, Actor, require_role
from review_queue.queue_counts import counts_by
from review_queue.states import OPEN_STATUSES, UNDECIDED_STATUSES, Status
from review_queue.tables import Finding, Role

# A finding proposed by several detectors names them all, joined in name order: "a+b".
DETECTOR_SEPARATOR = "+"


def join_detectors(names: Iterable[str]) -> str:
    """The ``detector`` value of a finding proposed by ``names``."""
    return DETECTOR_SEPARATOR.join(sorted(set(names)))


def detectors_of(detector: str) -> set[str]:
    """The detector names a finding's ``detector`` value joins."""
    return {name for name in detector.split(DETECTOR_SEPARATOR) if name}


def proposed_by(name: str) -> Any:
    """A SQL condition: the finding was proposed by detector ``name`` (exactly that name, alone
    or among others; never a detector whose name merely contains it)."""
    column, sep = col(Finding.detector), DETECTOR_SEPARATOR
    return or_(
        column == name,
        column.startswith(name + sep, autoescape=True),
        column.endswith(sep + name, autoescape=True),
        column.contains(sep + name + sep, autoescape=True),
    )


class FindingNotFound(LookupError):
    """No finding has that id."""


class StaleFinding(Exception):
    """The finding changed since the caller read it; re-read and decide again."""


def get_finding(*, session: Session, finding_id: int) -> Finding:
    """The finding with this id, or FindingNotFound."""
    finding = session.get(Finding, finding_id)
    if finding is None:
        raise FindingNotFound(f"no finding #{finding_id}")
    return finding


def update_finding(
    *, session: Session, finding_id: int, expected_row_version: int, changes: dict[str, Any]
) -> Finding:
    """Apply ``changes`` only if the row is still at ``expected_row_version``; bump the version.

    The check and the write are one UPDATE, so two writers racing on the same version cannot
    both succeed, on SQLite or PostgreSQL.
    """
    forbidden = {"id", "row_version", "category", "entity_key"} & set(changes)
    if forbidden:
        raise ValueError(f"cannot change {sorted(forbidden)} of a finding")
    result = session.execute(
        update(Finding)
        .where(col(Finding.id) == finding_id, col(Finding.row_version) == expected_row_version)
        .values(**changes, row_version=col(Finding.row_version) + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        current = session.get(Finding, finding_id)
        if current is None:
            raise FindingNotFound(f"no finding #{finding_id}")
        raise StaleFinding(
            f"finding #{finding_id} changed since you opened it "
            f"(version {expected_row_version}, now {current.row_version}); reload it"
        )
    finding = session.get(Finding, finding_id, populate_existing=True)
    assert finding is not None
    return finding


_LOCK_BATCH = 5000


def lock_findings(*, session: Session, finding_ids: Iterable[int]) -> None:
    """Take these findings' row locks now, in id order, before the feedback log's head.

    Every change locks its finding (the UPDATE) and then the log's head row (``append_event``).
    A transaction that changes several findings one after another would otherwise hold the head
    while it waits for the next finding, which a single decision may hold while it waits for the
    head: a deadlock on PostgreSQL. Taking all of them first, in one order, keeps every
    transaction's order "findings by id, then the head". The rows are read as locked, so the
    session's copies are the current ones. SQLite writers lock the whole database (BEGIN
    IMMEDIATE), so there it does nothing.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted({int(i) for i in finding_ids})
    for start in range(0, len(ids), _LOCK_BATCH):
        # ORDER BY puts PostgreSQL's row locking above the sort: the locks follow the ids.
        session.exec(
            select(Finding)
            .where(col(Finding.id).in_(ids[start : start + _LOCK_BATCH]))
            .order_by(col(Finding.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()


@dataclass(frozen=True)
class QueueCounts:
    """What waits for a person, in numbers."""

    new: int
    in_review: int
    mine: int
    confirmed_open: int
    total_open: int
    undecided: int = 0  # new, in review or snoozed: not yet decided (a reporter's open reports)


def queue_counts(*, session: Session, actor: Actor) -> QueueCounts:
    """Counts from the queue for a person's home page (instructors see only their own reports)."""
    require_role(actor, EVERYONE, "seeing the queue's counts")
    query = select(col(Finding.status), col(Finding.assignee_id), func.count()).group_by(
        col(Finding.status), col(Finding.assignee_id)
    )
    if actor.role is Role.instructor:
        # An instructor's view is limited to the learner reports they filed.
        query = query.where(col(Finding.reported_by_id) == actor.id)
    if actor.role is Role.instructor:
        grouped = [(str(s), a, int(n)) for s, a, n in session.exec(query).all()]
    else:
        # Everyone else sees the whole queue: the summed count rows, not a scan of it.
        summed = counts_by(session, lambda q: q, by=("status", "assignee_id"))
        grouped = [(str(key[0]), key[1], n) for key, n in summed.items()]
    counts: dict[str, int] = {}
    mine = 0
    for status, assignee_id, n in grouped:
        counts[status] = counts.get(status, 0) + n
        if assignee_id is not None and assignee_id == actor.id and status in OPEN_STATUSES:
            mine += n
    return QueueCounts(
        new=counts.get(Status.new, 0),
        in_review=counts.get(Status.in_review, 0),
        mine=mine,
        confirmed_open=counts.get(Status.confirmed, 0),
        total_open=sum(counts.get(s, 0) for s in OPEN_STATUSES),
        undecided=sum(counts.get(s, 0) for s in UNDECIDED_STATUSES),
    )
