"""Suppressions: "don't propose this category for this entity (or detector) until a date"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from review_queue.decisions import DecisionRefused
from review_queue.findings import get_finding
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.states import REVIEWED_STATUSES, Status
from review_queue.tables import Suppression, User
from review_queue.types import utcnow

MAX_SUPPRESSION = timedelta(days=180)
REVIEWED = REVIEWED_STATUSES


def create_suppression(
    *,
    session: Session,
    actor: Actor,
    finding_id: int,
    until: datetime,
    reason: str,
    detector_only: bool = False,
    now: datetime | None = None,
) -> Suppression:
    """Suppress future proposals like a reviewed finding (admins only), for at most 180 days."""
    require_role(actor, ADMIN_ONLY, "creating suppressions")
    now = now or utcnow()
    finding = get_finding(session=session, finding_id=finding_id)
    if Status(finding.status) not in REVIEWED:
        raise DecisionRefused(
            f"finding #{finding_id} is {finding.status}; suppress only a reviewed finding "
            "(confirmed, dismissed or resolved)"
        )
    if not reason.strip():
        raise DecisionRefused("a suppression needs a reason")
    if "\x00" in reason:  # PostgreSQL cannot store it
        raise DecisionRefused("the reason holds a NUL character; remove it")
    if until.tzinfo is None:
        raise DecisionRefused("the expiry date needs a time zone")
    if until <= now:
        raise DecisionRefused("the expiry date must be in the future")
    if until - now > MAX_SUPPRESSION:
        raise DecisionRefused("a suppression lasts at most 180 days")
    assert actor.id is not None, "suppressions are made by people"
    suppression = Suppression(
        category=finding.category,
        entity_key=finding.entity_key,
        detector=finding.detector if detector_only else None,
        finding_id=finding_id,
        reason=reason.strip(),
        created_by_id=actor.id,
        created_at=now,
        expires_at=until,
        score_at_creation=finding.score,
    )
    session.add(suppression)
    session.flush()
    return suppression


def lift_suppression(*, session: Session, actor: Actor, suppression_id: int) -> Suppression:
    """End a suppression now (admins only)."""
    require_role(actor, ADMIN_ONLY, "lifting suppressions")
    suppression = session.get(Suppression, suppression_id)
    if suppression is None:
        raise DecisionRefused(f"no suppression #{suppression_id}")
    if suppression.lifted_at is None:
        suppression.lifted_at = utcnow()
        session.add(suppression)
    return suppression


@dataclass(frozen=True)
class SuppressionRow:
    """A suppression as the list shows it."""

    id: int
    category: str
    entity_key: str
    detector: str | None
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    age_days: int
    absorbed: int
    active: bool
    finding_id: int


def _in_force(now: datetime) -> tuple[Any, ...]:
    """SQL conditions: a suppression not lifted and not yet expired at ``now``."""
    return (col(Suppression.lifted_at).is_(None), col(Suppression.expires_at) > now)


def list_suppressions(
    *, session: Session, actor: Actor, include_ended: bool = False
) -> list[SuppressionRow]:
    """Suppressions with creator, age, expiry and how many proposals each absorbed."""
    require_role(actor, ADMIN_ONLY, "listing suppressions")
    now = utcnow()
    query = (
        select(Suppression, User.name)
        .join(User, col(User.id) == col(Suppression.created_by_id))
        .order_by(col(Suppression.created_at).desc())
    )
    if not include_ended:
        query = query.where(*_in_force(now))
    out = []
    for s, creator in session.exec(query).all():
        active = s.lifted_at is None and s.expires_at > now
        assert s.id is not None
        out.append(
            SuppressionRow(
                id=s.id,
                category=s.category,
                entity_key=s.entity_key,
                detector=s.detector,
                reason=s.reason,
                created_by=creator,
                created_at=s.created_at,
                expires_at=s.expires_at,
                age_days=(now - s.created_at).days,
                absorbed=s.absorbed_count,
                active=active,
                finding_id=s.finding_id,
            )
        )
    return out


def active_suppressions(
    *, session: Session, categories: list[str], now: datetime
) -> dict[tuple[str, str], list[Suppression]]:
    """Active suppressions by (category, entity_key), for the proposal step."""
    rows = session.exec(
        select(Suppression).where(col(Suppression.category).in_(categories), *_in_force(now))
    ).all()
    out: dict[tuple[str, str], list[Suppression]] = {}
    for s in rows:
        out.setdefault((s.category, s.entity_key), []).append(s)
    return out


def suppressed_finding_ids(*, session: Session) -> set[int]:
    """Findings whose suppression is active (the queue page marks them)."""
    now = utcnow()
    return set(session.exec(select(col(Suppression.finding_id)).where(*_in_force(now))).all())
