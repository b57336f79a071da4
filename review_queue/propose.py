"""Detection results into the queue: dedupe by category + entity, regressions, suppressions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import tuple_, update
from sqlmodel import Session, col, select

from models.detectors.base import Proposal
from models.taxonomy import base_priority
from review_queue.feedback_log import append_event
from review_queue.findings import join_detectors, lock_findings
from review_queue.permissions import SYSTEM
from review_queue.queue_counts import fold_if_due
from review_queue.routing import withdraw_work
from review_queue.states import Action, Status
from review_queue.suppressions import active_suppressions
from review_queue.tables import Finding
from review_queue.types import utcnow

# How much a score must rise (absolute, on 0 to 1) to bring back a dismissed finding or lift a
# suppression: enough that noise between runs does not undo a person's decision.
MARKED_RISE = 0.15
_BATCH = 500


@dataclass
class ProposeStats:
    """What one run did to the queue."""

    proposals: int = 0
    new: int = 0
    updated: int = 0
    reopened: int = 0
    regressions: int = 0
    suppressed: int = 0
    still_dismissed: int = 0
    suppressions_lifted: int = 0
    per_detector: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON for the detection run's record."""
        return dict(self.__dict__)


def _existing(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Finding]:
    found: dict[tuple[str, str], Finding] = {}
    for i in range(0, len(keys), _BATCH):
        chunk = keys[i : i + _BATCH]
        rows = session.exec(
            select(Finding).where(tuple_(col(Finding.category), col(Finding.entity_key)).in_(chunk))
        ).all()
        found.update({(f.category, f.entity_key): f for f in rows})
    # Locked in id order before the log's head, and read again as locked.
    lock_findings(session=session, finding_ids=[int(f.id or 0) for f in found.values()])
    return found


def _refresh(p: Proposal, now: datetime) -> dict[str, object]:
    return {
        "title": p.title[:500],
        "score": p.score,
        "severity": p.severity,
        "detector": p.detector[:200],
        "detector_version": p.detector_version[:40],
        "evidence": p.evidence,
        "features": p.features,
        "explanation": p.explanation[:2000],
        "last_seen_at": now,
    }


def propose_findings(
    *,
    session: Session,
    proposals: Iterable[Proposal],
    now: datetime | None = None,
    model_version: str | None = None,
    places: Mapping[str, tuple[str | None, str | None]] | None = None,
) -> ProposeStats:
    """Merge a run's proposals into the queue inside the caller's transaction.

    An open finding gets last_seen and occurrences updated; a dismissed one stays dismissed
    unless its score rose markedly; a resolved one that comes back is reopened as a regression;
    a proposal matching an active suppression is absorbed and counted, unless its score rose
    markedly, which lifts the suppression. ``places`` maps entity keys to their (course,
    department), stored with the finding for filters and trends.
    """
    now = now or utcnow()
    stats = ProposeStats()
    # One proposal per (category, entity): two detectors agreeing merge, the stronger leads.
    merged: dict[tuple[str, str], Proposal] = {}
    merged_detectors: dict[tuple[str, str], list[str]] = {}
    for p in proposals:
        stats.proposals += 1
        stats.per_detector[p.detector] = stats.per_detector.get(p.detector, 0) + 1
        key = (p.category, p.entity_key)
        merged_detectors.setdefault(key, [])
        if p.detector not in merged_detectors[key]:
            merged_detectors[key].append(p.detector)
        if key not in merged or p.score > merged[key].score:
            merged[key] = p
    keys = list(merged)
    existing = _existing(session, keys)
    suppressions = active_suppressions(
        session=session, categories=sorted({c for c, _ in keys}), now=now
    )
    new_findings: list[Finding] = []
    for key in keys:
        p = merged[key]
        detector = join_detectors(merged_detectors[key])
        course_id, department = (places or {}).get(p.entity_key, (None, None))
        p_fields = _refresh(p, now) | {
            "detector": detector[:200],
            "course_id": course_id[:100] if course_id else None,
            "department": department[:200] if department else None,
        }
        matching = [
            s for s in suppressions.get(key, []) if s.detector is None or s.detector in detector
        ]
        if matching:
            rose = [s for s in matching if p.score >= s.score_at_creation + MARKED_RISE]
            if len(rose) < len(matching):
                for s in matching:
                    s.absorbed_count += 1
                    session.add(s)
                stats.suppressed += 1
                continue
            for s in rose:
                s.lifted_at = now
                session.add(s)
                stats.suppressions_lifted += 1
        finding = existing.get(key)
        if finding is None:
            new_findings.append(
                Finding(
                    category=p.category,
                    entity_key=p.entity_key,
                    priority=base_priority(p.score, p.severity),
                    first_seen_at=now,
                    occurrences=1,
                    status=Status.new.value,
                    **p_fields,  # type: ignore[arg-type]
                )
            )
            continue
        assert finding.id is not None
        changes: dict[str, object] = {
            **p_fields,
            "occurrences": finding.occurrences + 1,
            "priority": base_priority(p.score, p.severity),
        }
        status = Status(finding.status)
        reopen_as: str | None = None
        if status is Status.resolved:
            reopen_as = Action.regression.value
            changes.update(status=Status.new.value, regression=True, assignee_id=None)
        elif status is Status.dismissed:
            baseline = finding.dismissed_score if finding.dismissed_score is not None else 1.0
            if p.score >= baseline + MARKED_RISE:
                reopen_as = Action.reopen.value
                changes.update(
                    status=Status.new.value, assignee_id=None, dismissed_score=None,
                    duplicate_of_id=None,
                )  # fmt: skip
            else:
                stats.still_dismissed += 1
        values = dict(changes)
        if reopen_as is not None:
            # A status change: bump the row version so a reviewer's stale view is refused.
            values["row_version"] = col(Finding.row_version) + 1
        session.execute(
            update(Finding)
            .where(col(Finding.id) == finding.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if reopen_as is None:
            stats.updated += 1
            continue
        append_event(
            session=session,
            finding_id=finding.id,
            actor=SYSTEM,
            action=reopen_as,
            from_status=status.value,
            to_status=Status.new.value,
            comment=(
                "proposed again after it was resolved: the fix did not hold"
                if reopen_as == Action.regression
                else f"score rose from {finding.dismissed_score:.2f} to {p.score:.2f}"
            ),
            model_version=model_version,
            priority_at_decision=float(changes["priority"]),  # type: ignore[arg-type]
            at=now,
        )
        if reopen_as == Action.reopen:  # the dismissal no longer stands, nor its routed fix
            withdraw_work(session=session, finding_id=finding.id)
        stats.reopened += 1
        stats.regressions += reopen_as == Action.regression
    session.add_all(new_findings)
    session.flush()
    for f in new_findings:
        assert f.id is not None
        append_event(
            session=session, finding_id=f.id, actor=SYSTEM, action=Action.propose.value,
            from_status=None,
            to_status=Status.new.value, model_version=model_version,
            priority_at_decision=f.priority, at=now,
        )  # fmt: skip
    stats.new = len(new_findings)
    fold_if_due(session)  # a run's +1 rows, summed before the queue page next reads them
    return stats
