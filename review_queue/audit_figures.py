"""What audits tell: the dismissal error rate, each category's recall, reviewer agreement.

Estimators (``models/learning/audit_stats.py``): each category and stream of a sample is a
simple random sample without replacement; the wrong items of its population are counted with an
exact hypergeometric interval; recall is ``caught / (caught + misses)`` with ``caught`` the
flagged findings confirmed (taken as known) and the misses' interval mapped through it.
Only decided items count, as if the undecided ones had not been drawn.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.learning.audit_stats import (
    DEFAULT_CONFIDENCE,
    Agreement,
    CountEstimate,
    RecallEstimate,
    cohen_kappa,
    count_interval,
    recall_estimate,
)
from review_queue.audits import AUDIT_DETECTOR, DISMISSAL, UNFLAGGED, flagged_keys
from review_queue.feedback_log import standing_verdicts
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.states import CONFIRMING_ACTIONS, REAL_STATUSES, values
from review_queue.tables import AuditItem, AuditSample, FeedbackEvent, Finding, Role

READERS = (*ADMIN_ONLY, Role.manager)


@dataclass(frozen=True)
class CategoryAudit:
    """One category's figures from one audit sample."""

    category: str
    sample_id: int
    dismissal_errors: CountEstimate | None
    recall: RecallEstimate | None
    waiting: int


def _latest_sample(session: Session, sample_id: int | None) -> AuditSample | None:
    if sample_id is not None:
        return session.get(AuditSample, sample_id)
    return session.exec(select(AuditSample).order_by(col(AuditSample.id).desc())).first()


def audit_estimates(
    *,
    session: Session,
    actor: Actor,
    sample_id: int | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[CategoryAudit]:
    """Per category of the latest (or the given) audit sample: wrong dismissals and recall,
    each with its interval (admins and managers)."""
    require_role(actor, READERS, "reading audit figures")
    sample = _latest_sample(session, sample_id)
    if sample is None:
        return []
    assert sample.id is not None
    items = list(session.exec(select(AuditItem).where(AuditItem.sample_id == sample.id)))
    flagged = flagged_keys(session=session, snapshot_id=sample.snapshot_id)
    real = set(
        session.exec(
            select(Finding.category, Finding.entity_key).where(
                col(Finding.status).in_(values(REAL_STATUSES)),
                col(Finding.detector) != AUDIT_DETECTOR,
            )
        )
    )
    out = []
    for category, streams in sorted(sample.plan.items()):
        mine = [i for i in items if i.category == category]
        waiting = sum(1 for i in mine if i.verdict is None)
        errors = recall = None
        if DISMISSAL in streams:
            done = [i for i in mine if i.stream == DISMISSAL and i.verdict is not None]
            if done:
                errors = count_interval(
                    sum(1 for i in done if i.verdict == "confirmed"), len(done),
                    int(streams[DISMISSAL]["population"]), confidence=confidence,
                )  # fmt: skip
        if UNFLAGGED in streams:
            done = [i for i in mine if i.stream == UNFLAGGED and i.verdict is not None]
            if done:
                caught = sum(1 for k in flagged.get(category, ()) if (category, k) in real)
                recall = recall_estimate(
                    caught, sum(1 for i in done if i.verdict == "confirmed"), len(done),
                    int(streams[UNFLAGGED]["population"]), confidence=confidence,
                )  # fmt: skip
        out.append(CategoryAudit(category, sample.id, errors, recall, waiting))
    return out


def confirmed_misses(*, session: Session, actor: Actor) -> dict[str, int]:
    """Per category, the gaps audits found among the entities detectors did not flag (the
    recall failures the rule ledger shows against its detectors); admins and managers."""
    require_role(actor, READERS, "reading audit figures")
    out: dict[str, int] = defaultdict(int)
    query = select(AuditItem.category).where(
        AuditItem.stream == UNFLAGGED, AuditItem.verdict == "confirmed"
    )
    for category in session.exec(query):
        out[category] += 1
    return dict(out)


@dataclass(frozen=True)
class AgreementRow:
    """Agreement of two reviewers (or of everyone, ``pair`` "all") on one category (or all)."""

    category: str
    pair: str
    agreement: Agreement
    both_confirmed: int
    both_dismissed: int
    differed: int


def reviewer_agreement(*, session: Session, actor: Actor) -> list[AgreementRow]:
    """Cohen's kappa where two people gave a verdict on the same finding (audits give these),
    per category and per reviewer pair, with the counts (admins and managers). Each finding
    counts once: the first verdicts of its first two reviewers."""
    require_role(actor, READERS, "reading reviewer agreement")
    query = (
        select(FeedbackEvent, Finding.category)
        .join(Finding, col(Finding.id) == col(FeedbackEvent.finding_id))
        .where(*standing_verdicts())
        .order_by(col(FeedbackEvent.id))
    )
    firsts: dict[int, list[tuple[str, bool]]] = defaultdict(list)
    category_of: dict[int, str] = {}
    for event, category in session.exec(query):
        verdicts = firsts[event.finding_id]
        category_of[event.finding_id] = category
        if len(verdicts) < 2 and all(who != event.actor for who, _ in verdicts):
            verdicts.append((event.actor, event.action in CONFIRMING_ACTIONS))
    groups: dict[tuple[str, str], list[tuple[bool, bool]]] = defaultdict(list)
    for finding_id, verdicts in firsts.items():
        if len(verdicts) < 2:
            continue
        (a, la), (b, lb) = sorted(verdicts)
        pair = f"{a} / {b}"
        for key in ((category_of[finding_id], pair), (category_of[finding_id], "all"),
                    ("all", pair), ("all", "all")):  # fmt: skip
            groups[key].append((la, lb))
    rows = []
    for (category, pair), pairs in sorted(groups.items()):
        rows.append(
            AgreementRow(
                category,
                pair,
                cohen_kappa(pairs),
                both_confirmed=sum(1 for x, y in pairs if x and y),
                both_dismissed=sum(1 for x, y in pairs if not x and not y),
                differed=sum(1 for x, y in pairs if x != y),
            )
        )
    return rows
