"""Audit items: a second, blind look at a sample of dismissals and of what detectors passed over.

Rule: an audit item is decided once, by an admin who did not make its first decision where
another active admin exists; until they decide, the auditor is shown the item (category, entity,
evidence) but not the first decision nor who made it. A verdict is logged in the feedback log
like any decision (``audit_confirm`` / ``audit_dismiss``): a real gap becomes (or stays) a
confirmed finding, a dismissed one stays dismissed; a gap found among the unflagged becomes a
confirmed finding of the ``audit`` detector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from models.taxonomy import CATEGORIES
from review_queue.feedback_log import append_event, standing_verdicts
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.states import AUDIT_OUTCOMES, Action, Status
from review_queue.suppressions import active_suppressions
from review_queue.tables import (
    AuditItem,
    AuditSample,
    DetectionRun,
    FeedbackEvent,
    Finding,
    Role,
    User,
)
from review_queue.types import utcnow

# The detector named on findings an audit of unflagged entities made.
AUDIT_DETECTOR = "audit"
DISMISSAL, UNFLAGGED = "dismissal", "unflagged"
STREAMS = (DISMISSAL, UNFLAGGED)
VERDICTS: dict[str, Action] = {
    "confirmed": Action.audit_confirm,
    "dismissed": Action.audit_dismiss,
}


class AuditRefused(ValueError):
    """An audit verdict that cannot be taken (already decided, wrong person, bad verdict)."""


# ---------------------------------------------------------------- what a sample is drawn from
@dataclass(frozen=True)
class Dismissal:
    """A standing dismissal of the period: the finding, and who dismissed it and why."""

    finding_id: int
    category: str
    entity_key: str
    reviewer_id: int | None
    reviewer: str
    reason: str | None


def period_dismissals(
    *, session: Session, start: datetime, end: datetime
) -> dict[str, list[Dismissal]]:
    """Per category, the findings dismissed in [start, end) by a reviewer (not undone, still
    dismissed; audit verdicts are not sampled again), oldest first."""
    query = (
        select(FeedbackEvent, Finding)
        .join(Finding, col(Finding.id) == col(FeedbackEvent.finding_id))
        .where(
            *standing_verdicts(),
            col(FeedbackEvent.action) == Action.dismiss.value,
            col(FeedbackEvent.at) >= start,
            col(FeedbackEvent.at) < end,
            col(Finding.status) == Status.dismissed.value,
        )
        .order_by(col(FeedbackEvent.id))
    )
    latest: dict[int, Dismissal] = {}
    for event, finding in session.exec(query):
        assert finding.id is not None
        latest[finding.id] = Dismissal(
            finding.id, finding.category, finding.entity_key, event.actor_id, event.actor,
            event.reason,
        )  # fmt: skip
    out: dict[str, list[Dismissal]] = {}
    for d in latest.values():
        out.setdefault(d.category, []).append(d)
    return out


def flagged_keys(*, session: Session, snapshot_id: str | None) -> dict[str, set[str]]:
    """Per category, the entity keys detectors flagged on the snapshot's latest finished run
    (every detector-made finding when no run on it is known), and those an active suppression
    absorbs (flagged, then held back by a person's decision)."""
    query = select(Finding.category, Finding.entity_key).where(
        col(Finding.detector) != AUDIT_DETECTOR
    )
    run = session.exec(
        select(DetectionRun)
        .where(DetectionRun.snapshot_id == snapshot_id, DetectionRun.status == "done")
        .order_by(col(DetectionRun.id).desc())
    ).first()
    if run is not None:
        query = query.where(col(Finding.last_seen_at) >= run.started_at)
    out: dict[str, set[str]] = {}
    for category, key in session.exec(query):
        out.setdefault(category, set()).add(key)
    held = active_suppressions(session=session, categories=list(CATEGORIES), now=utcnow())
    for category, key in held:
        out.setdefault(category, set()).add(key)
    return out


# ---------------------------------------------------------------- recording a sample
@dataclass
class Draw:
    """One category and stream of a sample: its population size and the items drawn from it."""

    population: int
    keys: list[str] = field(default_factory=list)
    dismissals: list[Dismissal] = field(default_factory=list)


def _auditors(session: Session) -> list[User]:
    return list(
        session.exec(
            select(User).where(User.role == Role.admin.value, col(User.active).is_(True))
        ).all()
    )


def record_sample(
    *,
    session: Session,
    actor: Actor,
    period_start: datetime,
    period_end: datetime,
    snapshot_id: str | None,
    width: float,
    draws: Mapping[str, Mapping[str, Draw]],
) -> AuditSample:
    """Store one audit sample and its items (admins only). Each dismissal goes to an active
    admin other than the one who dismissed it where there is one, spreading the load."""
    require_role(actor, ADMIN_ONLY, "drawing audit samples")
    auditors = sorted(_auditors(session), key=lambda u: u.id or 0)
    load: dict[int, int] = {u.id or 0: 0 for u in auditors}

    def pick(exclude: int | None) -> int | None:
        choices = [u.id or 0 for u in auditors if u.id != exclude] or [u.id or 0 for u in auditors]
        if not choices:
            return None
        chosen = min(choices, key=lambda i: (load[i], i))
        load[chosen] += 1
        return chosen

    plan: dict[str, Any] = {}
    for category, streams in draws.items():
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r} in the audit sample")
        for stream, draw in streams.items():
            if stream not in STREAMS:
                raise ValueError(f"unknown audit stream {stream!r}; use {', '.join(STREAMS)}")
            sampled = len(draw.keys) + len(draw.dismissals)
            if sampled > draw.population:
                raise ValueError(
                    f"{category}/{stream}: {sampled} items drawn from a population of "
                    f"{draw.population}"
                )
            plan.setdefault(category, {})[stream] = {
                "population": draw.population, "sampled": sampled,
            }  # fmt: skip
    sample = AuditSample(
        drawn_by=actor.name, period_start=period_start, period_end=period_end,
        snapshot_id=snapshot_id, width=width, plan=plan,
    )  # fmt: skip
    session.add(sample)
    session.flush()
    assert sample.id is not None
    for category, streams in draws.items():
        for stream, draw in streams.items():
            sampled = plan[category][stream]["sampled"]
            for d in draw.dismissals:
                session.add(
                    AuditItem(
                        sample_id=sample.id,
                        stream=DISMISSAL,
                        category=category,
                        entity_key=d.entity_key,
                        finding_id=d.finding_id,
                        original_reviewer_id=d.reviewer_id,
                        original_reviewer=d.reviewer,
                        original_reason=d.reason,
                        assignee_id=pick(d.reviewer_id),
                        population=draw.population,
                        sampled=sampled,
                    )
                )
            for key in draw.keys:
                session.add(
                    AuditItem(
                        sample_id=sample.id,
                        stream=UNFLAGGED,
                        category=category,
                        entity_key=key,
                        assignee_id=pick(None),
                        population=draw.population,
                        sampled=sampled,
                    )
                )
    session.flush()
    return sample


# ---------------------------------------------------------------- the Audits lane
@dataclass(frozen=True)
class AuditView:
    """An audit item as its auditor sees it: the first decision only once they have decided."""

    id: int
    sample_id: int
    stream: str
    category: str
    entity_key: str
    title: str
    assignee: str | None
    finding_id: int | None
    evidence: dict[str, Any]
    explanation: str
    row_version: int
    verdict: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    # Shown only after the auditor's verdict:
    first_decision: str | None = None

    @property
    def what(self) -> str:
        """What the auditor is asked, in words."""
        if self.stream == DISMISSAL:
            return "A finding from the queue, decided before: is it a real gap?"
        return "An entity the detectors checked and did not flag: is there a gap here?"


def _names(session: Session, ids: Sequence[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id or 0: u.name for u in session.exec(select(User).where(col(User.id).in_(wanted)))}


def _view(item: AuditItem, finding: Finding | None, names: dict[int, str]) -> AuditView:
    assert item.id is not None
    label = CATEGORIES.get(item.category, item.category)
    first = None
    if item.verdict is not None and item.stream == DISMISSAL:
        why = f" ({item.original_reason})" if item.original_reason else ""
        first = f"dismissed by {item.original_reviewer}{why}"
    return AuditView(
        id=item.id, sample_id=item.sample_id, stream=item.stream, category=item.category,
        entity_key=item.entity_key,
        title=(finding.title if finding is not None and item.stream == DISMISSAL
               else f"Audit: {label} for {item.entity_key}"),
        assignee=names.get(item.assignee_id or -1), finding_id=item.finding_id,
        evidence=dict(finding.evidence or {}) if finding is not None else {},
        explanation=finding.explanation if finding is not None and item.stream == DISMISSAL
        else "", row_version=item.row_version, verdict=item.verdict,
        decided_by=item.decided_by, decided_at=item.decided_at, first_decision=first,
    )  # fmt: skip


def audit_items(
    *, session: Session, actor: Actor, decided: bool = False, limit: int = 200
) -> list[AuditView]:
    """The Audits lane (admins only): items waiting for a verdict that are the actor's or
    nobody's (``decided``: the ones already decided, newest first). Never the first decision
    of an item still waiting."""
    require_role(actor, ADMIN_ONLY, "auditing")
    query = select(AuditItem, Finding).join(
        Finding, col(Finding.id) == col(AuditItem.finding_id), isouter=True
    )
    if decided:
        query = query.where(col(AuditItem.verdict).is_not(None)).order_by(
            col(AuditItem.decided_at).desc()
        )
    else:
        query = query.where(
            col(AuditItem.verdict).is_(None),
            (col(AuditItem.assignee_id) == actor.id) | col(AuditItem.assignee_id).is_(None),
        ).order_by(col(AuditItem.id))
    rows = list(session.exec(query.limit(limit)))
    names = _names(session, [i.assignee_id for i, _ in rows])
    return [_view(item, finding, names) for item, finding in rows]


def audit_counts(*, session: Session, actor: Actor) -> dict[str, int]:
    """How many audit items wait for the actor, and for anyone (admins only)."""
    require_role(actor, ADMIN_ONLY, "auditing")
    waiting = col(AuditItem.verdict).is_(None)
    mine = session.exec(
        select(func.count()).where(waiting, col(AuditItem.assignee_id) == actor.id)
    ).one()
    everyone = session.exec(select(func.count()).where(waiting)).one()
    return {"mine": int(mine), "waiting": int(everyone)}


def decide_audit(
    *,
    session: Session,
    actor: Actor,
    item_id: int,
    verdict: str,
    comment: str | None = None,
    expected_row_version: int | None = None,
    now: datetime | None = None,
) -> AuditView:
    """Give an audit item its verdict, ``confirmed`` (a real gap) or ``dismissed`` (none), and
    log it (admins only); the view returned shows the first decision."""
    require_role(actor, ADMIN_ONLY, "auditing")
    if verdict not in VERDICTS:
        raise AuditRefused(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
    item = session.get(AuditItem, item_id)
    if item is None:
        raise AuditRefused(f"no audit item #{item_id}")
    if item.verdict is not None:
        raise AuditRefused(
            f"audit item #{item_id} was already decided ({item.verdict}) by {item.decided_by} "
            f"at {item.decided_at:%Y-%m-%d %H:%M} UTC"
        )
    if expected_row_version is not None and expected_row_version != item.row_version:
        raise AuditRefused(f"audit item #{item_id} changed since it was shown; reload it")
    others = [u for u in _auditors(session) if u.id != item.original_reviewer_id]
    if item.original_reviewer_id is not None and actor.id == item.original_reviewer_id and others:
        raise AuditRefused(
            f"audit item #{item_id} is for a second reviewer: you made its first decision"
        )
    now = now or utcnow()
    action = VERDICTS[verdict]
    finding = _finding_for(session, item, action, now)
    assert finding.id is not None
    from_status = finding.status
    to_status = _status_after(finding, action)
    if to_status != from_status:
        finding.status = to_status
        if to_status == Status.confirmed.value:
            finding.dismissed_score = None
        finding.row_version += 1
        session.add(finding)
    append_event(
        session=session, finding_id=finding.id, actor=actor, action=action.value,
        from_status=from_status, to_status=to_status,
        comment=(comment or "").strip() or f"audit item #{item_id} ({item.stream})", at=now,
    )  # fmt: skip
    item.finding_id = finding.id
    item.verdict = verdict
    item.decided_by_id = actor.id
    item.decided_by = actor.name
    item.decided_at = now
    item.comment = (comment or "").strip() or None
    item.row_version += 1
    session.add(item)
    session.flush()
    return _view(item, finding, _names(session, [item.assignee_id]))


def _status_after(finding: Finding, action: Action) -> str:
    target = AUDIT_OUTCOMES[action]
    if target is Status.confirmed and finding.status in (Status.confirmed, Status.resolved):
        return finding.status  # already a real gap (or fixed): nothing to move
    if target is Status.dismissed and finding.status != Status.dismissed.value:
        # An open finding that is not a gap is left to the queue's own decision.
        return finding.status if finding.detector != AUDIT_DETECTOR else target.value
    return target.value


def _finding_for(session: Session, item: AuditItem, action: Action, now: datetime) -> Finding:
    if item.finding_id is not None:
        finding = session.get(Finding, item.finding_id)
        assert finding is not None
        return finding
    existing = session.exec(
        select(Finding).where(
            Finding.category == item.category, Finding.entity_key == item.entity_key
        )
    ).first()
    if existing is not None:
        return existing
    label = CATEGORIES.get(item.category, item.category)
    finding = Finding(
        category=item.category, entity_key=item.entity_key,
        title=f"Audit: {label} for {item.entity_key}", detector=AUDIT_DETECTOR,
        detector_version="1", score=0.0, severity="medium",
        status=Status.new.value, first_seen_at=now, last_seen_at=now,
        explanation="Found in an audit of the entities the detectors checked and did not flag.",
        dismissed_score=0.0 if action is Action.audit_dismiss else None,
    )  # fmt: skip
    session.add(finding)
    session.flush()
    return finding
