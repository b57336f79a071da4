"""Claims: taking the next finding (the N key), handing a claim back, and releasing claims left
idle, so a finding someone opened and walked away from returns to the queue by itself.

A finding is *claimed* when it is in review and the last thing that happened to it is a claim;
an assignment is a person's deliberate choice and never expires.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from review_queue.decisions import AlreadyDecided, Decision, DecisionRefused, decide, last_event
from review_queue.findings import FindingNotFound, lock_findings
from review_queue.permissions import ADMIN_ONLY, SYSTEM, Actor, require_role
from review_queue.states import Action, Status
from review_queue.tables import FeedbackEvent, Finding
from review_queue.types import utcnow


def held_claims(*, session: Session, finding_ids: Iterable[int]) -> dict[int, datetime]:
    """When each of these findings was claimed, for those whose last event is still the claim."""
    ids = list(finding_ids)
    if not ids:
        return {}
    latest = (
        select(func.max(col(FeedbackEvent.id)))
        .where(col(FeedbackEvent.finding_id).in_(ids))
        .group_by(col(FeedbackEvent.finding_id))
    )
    rows = session.exec(
        select(FeedbackEvent.finding_id, FeedbackEvent.at).where(
            col(FeedbackEvent.id).in_(latest), col(FeedbackEvent.action) == Action.claim.value
        )
    ).all()
    return {int(fid): at for fid, at in rows}


def release_idle_claims(
    *, session: Session, idle: timedelta, now: datetime | None = None
) -> list[int]:
    """Hand back every claim untouched for ``idle`` (the system does it); returns the ids."""
    now = now or utcnow()
    in_review = select(col(Finding.id)).where(col(Finding.status) == Status.in_review.value)
    held = held_claims(session=session, finding_ids=[int(i or 0) for i in session.exec(in_review)])
    idle_ids = sorted(finding_id for finding_id, at in held.items() if now - at >= idle)
    lock_findings(session=session, finding_ids=idle_ids)
    released = []
    for finding_id in idle_ids:
        try:
            with session.begin_nested():
                decide(
                    session=session, actor=SYSTEM, finding_id=finding_id, action=Action.release,
                    comment=f"claim idle for {int(idle.total_seconds() // 60)} minutes", now=now,
                )  # fmt: skip
            released.append(finding_id)
        except (DecisionRefused, FindingNotFound):
            continue  # someone acted on it meanwhile: no longer idle
    return released


def release_claim(
    *, session: Session, actor: Actor, finding_id: int, now: datetime | None = None
) -> Decision:
    """Hand one's own claim (or assignment) back to the queue: in review → new, unassigned."""
    require_role(actor, ADMIN_ONLY, "releasing a claim")
    return decide(
        session=session, actor=actor, finding_id=finding_id, action=Action.release, now=now
    )


def _holds_untouched_claim(session: Session, actor: Actor, finding_id: int) -> bool:
    last = last_event(session=session, finding_id=finding_id)
    return (
        last is not None
        and last.action == Action.claim.value
        and last.actor_id == actor.id
        and last.actor == actor.name
    )


def next_finding(
    *,
    session: Session,
    actor: Actor,
    categories: Sequence[str] | None = None,
    after_id: int | None = None,
    idle: timedelta | None = None,
    now: datetime | None = None,
) -> Decision | None:
    """Hand the next unclaimed new finding to ``actor``, claimed atomically.

    "Next" is the highest priority below the finding ``after_id`` (the one on screen), wrapping
    to the top when none is left below it; a claim the actor holds on ``after_id`` and never acted
    on is handed back once the next one is claimed. Claims idle for ``idle`` are released first.
    Two admins asking at once never get the same finding: the claim is a versioned UPDATE, and on
    PostgreSQL candidates locked by another caller are skipped.
    """
    require_role(actor, ADMIN_ONLY, "taking the next finding")
    now = now or utcnow()
    if idle is not None:
        release_idle_claims(session=session, idle=idle, now=now)
    current = session.get(Finding, after_id) if after_id is not None else None
    below: ColumnElement[bool] | None = None
    if current is not None:
        below = or_(
            col(Finding.priority) < current.priority,
            and_(col(Finding.priority) == current.priority, col(Finding.id) > current.id),
        )
    claimed = _claim_first(session, actor, categories, below, after_id, now)
    if claimed is None and below is not None:
        claimed = _claim_first(session, actor, categories, None, after_id, now)  # wrap around
    if (
        claimed is not None
        and current is not None
        and current.id is not None
        and _holds_untouched_claim(session, actor, current.id)
    ):
        with session.begin_nested():
            decide(
                session=session, actor=actor, finding_id=current.id, action=Action.release,
                comment="moved on to the next finding", now=now,
            )  # fmt: skip
    return claimed


def _claim_first(
    session: Session,
    actor: Actor,
    categories: Sequence[str] | None,
    below: ColumnElement[bool] | None,
    skip_id: int | None,
    now: datetime,
) -> Decision | None:
    postgres = session.get_bind().dialect.name == "postgresql"
    for _attempt in range(20):
        query = (
            select(Finding)
            .where(col(Finding.status) == Status.new, col(Finding.assignee_id).is_(None))
            .order_by(col(Finding.priority).desc(), col(Finding.id))
            .limit(1)
        )
        if categories:
            query = query.where(col(Finding.category).in_(list(categories)))
        if below is not None:
            query = query.where(below)
        if skip_id is not None:
            query = query.where(col(Finding.id) != skip_id)
        candidate = session.exec(
            query.with_for_update(skip_locked=True) if postgres else query
        ).first()
        if candidate is None and postgres:
            # Every candidate may be locked by a re-ranking of the whole queue (the learning step
            # after someone's decision): wait for it instead of calling the queue empty.
            candidate = session.exec(query.with_for_update()).first()
        if candidate is None:
            return None
        assert candidate.id is not None
        try:
            return decide(
                session=session, actor=actor, finding_id=candidate.id, action=Action.claim,
                expected_row_version=candidate.row_version, now=now,
            )  # fmt: skip
        except AlreadyDecided:
            session.expire_all()
            continue
    return None
