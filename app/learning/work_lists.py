"""The rule-tuning backlog and the proposed exceptions, joined to the rule ledger, and the fixes
an admin applies from them (a threshold or an exception as a detector configuration version, an
entity exception as a suppression).

The backlog groups ``false_positive_rule`` dismissals by the ledger's threshold suggestion that
would have removed them, so one change clears many; the biggest group comes first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from app.core.errors import UserError
from app.learning.rule_ledger import apply_suggestion, rule_ledger_tables
from models.learning.ledger import ExceptionSuggestion, ThresholdSuggestion
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.routing import WorkKind
from review_queue.states import REAL_STATUSES, Action, Status
from review_queue.suppressions import MAX_SUPPRESSION, create_suppression
from review_queue.tables import Finding
from review_queue.types import utcnow
from review_queue.work_items import WorkRefused, WorkRow, finish_work, get_work_item, list_work

# An exception's scope → the finding column it is about ("entity" is the finding's own entity).
SCOPES = {"course": "course_id", "department": "department", "entity": "entity_key"}


@dataclass(frozen=True)
class TuningGroup:
    """Open rule-tuning items one change would clear: the ledger's threshold suggestion for
    their detector (None: no threshold clears them yet), and the features that fired."""

    detector: str
    suggestion: ThresholdSuggestion | None
    items: list[WorkRow]
    # feature → (lowest, highest) value among the group's findings
    features: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """What names the group to apply it (stable while the ledger is)."""
        s = self.suggestion
        if s is None:
            return f"{self.detector}: no suggestion"
        return f"{s.detector}: {s.feature} {s.direction} {s.threshold:.6g}"

    def describe(self) -> str:
        """One sentence: what to change and how many dismissed findings it clears."""
        n = len(self.items)
        if self.suggestion is None:
            return (
                f"{self.detector}: {n} false positive{'s' * (n != 1)} no threshold of the rule "
                "ledger clears yet (it needs 5 of them at one end of a feature)"
            )
        return f"clears {n} of the backlog; {self.suggestion.describe()}"


def _feature_ranges(items: list[WorkRow]) -> dict[str, tuple[float, float]]:
    ranges: dict[str, tuple[float, float]] = {}
    for row in items:
        for name, value in (row.detail.get("features") or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            low, high = ranges.get(name, (float(value), float(value)))
            ranges[name] = (min(low, float(value)), max(high, float(value)))
    return dict(sorted(ranges.items()))


def rule_tuning_backlog(
    *, session: Session, actor: Actor, now: datetime | None = None
) -> list[TuningGroup]:
    """The open ``false_positive_rule`` items grouped by the threshold that would clear them,
    ranked by how many each clears (admins only). Each item is in one group: the biggest that
    holds it; those no threshold clears are grouped by detector, last."""
    require_role(actor, ADMIN_ONLY, "reading the work lists")
    items = list_work(session=session, actor=actor, kind=WorkKind.rule_tuning, now=now)
    _, suggestions = rule_ledger_tables(session=session, actor=actor, now=now)
    thresholds = [s for s in suggestions if isinstance(s, ThresholdSuggestion)]
    left = {row.finding_id: row for row in items}
    groups: list[TuningGroup] = []
    while left:
        best: ThresholdSuggestion | None = None
        cleared: list[WorkRow] = []
        for s in thresholds:
            mine = [left[f] for f in s.removed if f in left and left[f].detector == s.detector]
            if len(mine) > len(cleared):
                best, cleared = s, mine
        if best is None:
            break
        cleared.sort(key=lambda r: r.id)
        groups.append(TuningGroup(best.detector, best, cleared, _feature_ranges(cleared)))
        thresholds.remove(best)
        for row in cleared:
            del left[row.finding_id]
    by_detector: dict[str, list[WorkRow]] = {}
    for row in sorted(left.values(), key=lambda r: r.id):
        by_detector.setdefault(row.detector, []).append(row)
    rest = [TuningGroup(d, None, rows, _feature_ranges(rows)) for d, rows in by_detector.items()]
    groups.sort(key=lambda g: (-len(g.items), g.detector))
    rest.sort(key=lambda g: (-len(g.items), g.detector))
    return groups + rest


def apply_tuning(
    *, session: Session, actor: Actor, key: str, now: datetime | None = None
) -> TuningGroup:
    """Apply the threshold of the backlog group named ``key`` as the detector's next
    configuration version, and mark its items applied (admins only)."""
    require_role(actor, ADMIN_ONLY, "configuring detectors")
    group = next(
        (g for g in rule_tuning_backlog(session=session, actor=actor, now=now) if g.key == key),
        None,
    )
    if group is None:
        raise UserError(f"the rule-tuning backlog has no group {key!r} (any more); reload it")
    if group.suggestion is None:
        raise UserError(f"{group.detector}: no threshold clears these findings yet; reject them")
    apply_suggestion(session=session, actor=actor, suggestion=group.suggestion)
    finish_work(
        session=session, actor=actor, item_ids=[r.id for r in group.items],
        action=Action.work_apply, note=f"threshold applied: {group.key}",
    )  # fmt: skip
    return group


@dataclass(frozen=True)
class ExceptionProposal:
    """An ``expected`` dismissal and the scoped exceptions it could become: each scope with its
    value, and the ledger's exception suggestion for that place where there is one."""

    item: WorkRow
    scopes: dict[str, str]  # scope → the value it excepts (course id, department, entity key)
    ledger: dict[str, ExceptionSuggestion]  # scope → the ledger's suggestion there
    # How many open proposals the same course or department exception would settle.
    same_place: dict[str, int] = field(default_factory=dict)


def exception_proposals(
    *, session: Session, actor: Actor, now: datetime | None = None
) -> list[ExceptionProposal]:
    """Every open ``expected`` item with its possible scopes (admins only), the places the
    ledger suggests first."""
    require_role(actor, ADMIN_ONLY, "reading the work lists")
    items = list_work(session=session, actor=actor, kind=WorkKind.exception, now=now)
    _, suggestions = rule_ledger_tables(session=session, actor=actor, now=now)
    places = {
        (s.detector, s.place, s.value): s for s in suggestions if isinstance(s, ExceptionSuggestion)
    }
    counts: dict[tuple[str, str, str], int] = {}
    for row in items:
        for scope in ("course", "department"):
            value = getattr(row, SCOPES[scope])
            if value:
                counts[(row.detector, scope, value)] = (
                    counts.get((row.detector, scope, value), 0) + 1
                )
    out = []
    for row in items:
        scopes: dict[str, str] = {}
        ledger: dict[str, ExceptionSuggestion] = {}
        same: dict[str, int] = {}
        for scope, column in SCOPES.items():
            value = getattr(row, column)
            if not value:
                continue
            scopes[scope] = str(value)
            if scope != "entity":
                same[scope] = counts.get((row.detector, scope, str(value)), 1)
                hit = places.get((row.detector, column, str(value)))
                if hit is not None:
                    ledger[scope] = hit
        out.append(ExceptionProposal(row, scopes, ledger, same))
    out.sort(key=lambda p: (not p.ledger, -max(p.same_place.values(), default=1), p.item.id))
    return out


def _there(
    session: Session, detector: str, scope: str, value: str, statuses: tuple[Status, ...]
) -> int:
    """How many of ``detector``'s findings in a course or department are in ``statuses``."""
    column = getattr(Finding, SCOPES[scope])
    query = (
        select(func.count())
        .select_from(Finding)
        .where(
            col(Finding.detector) == detector, column == value, col(Finding.status).in_(statuses)
        )
    )
    return int(session.exec(query).one())


def apply_exception(
    *,
    session: Session,
    actor: Actor,
    item_id: int,
    scope: str,
    now: datetime | None = None,
) -> list[int]:
    """Apply an ``expected`` item's exception in ``scope`` (admins only): a course or department
    becomes an exception of the detector (its next configuration version) and settles every
    open proposal of that detector there; an entity gets a suppression for 180 days. Returns
    the work items it settled."""
    require_role(actor, ADMIN_ONLY, "applying exceptions")
    if scope not in SCOPES:
        raise UserError(f"{scope!r} is not an exception scope; use one of {', '.join(SCOPES)}")
    item = get_work_item(session=session, item_id=item_id)
    if item.kind != WorkKind.exception:
        raise WorkRefused(f"work item #{item_id} is a {item.kind} item, not a proposed exception")
    rows = list_work(session=session, actor=actor, kind=WorkKind.exception, now=now)
    row = next((r for r in rows if r.id == item_id), None)
    if row is None:
        raise WorkRefused(f"work item #{item_id} is already {item.status}")
    value = getattr(row, SCOPES[scope])
    if not value:
        raise UserError(f"finding #{row.finding_id} has no {scope}; pick another scope")
    if scope == "entity":
        until = (now or utcnow()) + MAX_SUPPRESSION - timedelta(minutes=1)
        create_suppression(
            session=session, actor=actor, finding_id=row.finding_id, until=until,
            reason=f"expected (work item #{item_id}): {row.note or 'dismissed as expected'}",
            detector_only=True, now=now,
        )  # fmt: skip
        settled = [row]
    else:
        settled = [
            r for r in rows if r.detector == row.detector and getattr(r, SCOPES[scope]) == value
        ]
        _, suggestions = rule_ledger_tables(session=session, actor=actor, now=now)
        # The ledger's own suggestion there knows what it removes; else the settled ones.
        suggestion = next(
            (s for s in suggestions if isinstance(s, ExceptionSuggestion)
             and (s.detector, s.place, s.value) == (row.detector, SCOPES[scope], str(value))),
            ExceptionSuggestion(
                detector=row.detector, place=SCOPES[scope], value=str(value),
                removes_expected=len(settled),
                removes_dismissed=_there(session, row.detector, scope, value, (Status.dismissed,)),
                removes_confirmed=_there(session, row.detector, scope, value, REAL_STATUSES),
            ),
        )  # fmt: skip
        apply_suggestion(session=session, actor=actor, suggestion=suggestion)
    finish_work(
        session=session, actor=actor, item_ids=[r.id for r in settled], action=Action.work_apply,
        note=f"exception applied: {row.detector} in {scope} {value}",
    )  # fmt: skip
    return [r.id for r in settled]
