"""The rule ledger from the queue's tables; a suggestion applied as a detector configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlmodel import Session, col, select

from app.core.errors import UserError
from app.core.records import DetectorConfig
from app.detection.configuration import configure_detector, detector_settings
from models.detectors.registry import REGISTRY
from models.learning.ledger import (
    ExceptionSuggestion,
    ThresholdSuggestion,
    exception_suggestions,
    rule_ledger,
    threshold_suggestions,
)
from review_queue.audit_figures import audit_estimates, confirmed_misses
from review_queue.audits import AUDIT_DETECTOR
from review_queue.feedback_log import standing_verdicts
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.states import Action
from review_queue.tables import FeedbackEvent, Finding

# ---------------------------------------------------------------- the rule ledger
# An audit's verdict on a dismissed finding relabels it, as a later decision would.
AS_DECISION = {Action.audit_confirm.value: "confirm", Action.audit_dismiss.value: "dismiss"}
Suggestion = ThresholdSuggestion | ExceptionSuggestion


def rule_ledger_tables(
    *, session: Session, actor: Actor, now: datetime | None = None
) -> tuple[pd.DataFrame, list[Suggestion]]:
    """The per-detector ledger, and its threshold and exception suggestions, from the queue's
    tables; admins only."""
    require_role(actor, ADMIN_ONLY, "reading the rule ledger")
    findings = pd.DataFrame(
        [
            {
                "finding_id": f.id,
                "detector": f.detector,
                "features": dict(f.features or {}),
                "course_id": f.course_id,
                "department": f.department,
            }
            # Findings an audit made are no detector's proposals (they show as recall failures).
            for f in session.exec(select(Finding).where(col(Finding.detector) != AUDIT_DETECTOR))
        ],
        columns=["finding_id", "detector", "features", "course_id", "department"],
    )
    events = pd.DataFrame(
        [
            {
                "finding_id": e.finding_id,
                "action": AS_DECISION.get(e.action, e.action),
                "reason": e.reason,
                "at": e.at,
            }
            for e in session.exec(select(FeedbackEvent).where(*standing_verdicts()))
        ],
        columns=["finding_id", "action", "reason", "at"],
    )
    when = pd.Timestamp(now) if now is not None else None
    suggestions: list[Suggestion] = [
        *exception_suggestions(findings, events),
        *threshold_suggestions(findings, events),
    ]
    # Most dismissals removed first, then fewest confirmations lost (stable within equals);
    # a condition already in force is not suggested again.
    in_force = {s.name: s.require for s in detector_settings(session=session)}
    suggestions = [s for s in suggestions if s.condition() not in in_force.get(s.detector, ())]
    suggestions.sort(key=lambda s: (-s.removes_dismissed, s.removes_confirmed))
    ledger = rule_ledger(findings, events, now=when)
    return _with_audit_recall(ledger, session=session, actor=actor), suggestions


def _with_audit_recall(ledger: pd.DataFrame, *, session: Session, actor: Actor) -> pd.DataFrame:
    """The ledger with each detector's audit figures: the misses audits confirmed among what
    it passed over (recall failures) and its category's recall estimate with its interval."""
    estimates = {e.category: e for e in audit_estimates(session=session, actor=actor)}
    misses = confirmed_misses(session=session, actor=actor)
    rows = []
    for detector in ledger["detector"] if len(ledger) else []:
        cls = REGISTRY.get(str(detector))
        cats = cls.categories if cls is not None else ()
        recall = next((estimates[c].recall for c in cats if c in estimates), None)
        rows.append({
            "audit misses": sum(misses.get(c, 0) for c in cats),
            "recall (audit)": None if recall is None or recall.estimate is None
            else round(recall.estimate, 3),
            "recall 95% interval": "" if recall is None or recall.low is None
            or recall.high is None else f"{recall.low:.2f}-{recall.high:.2f}",
        })  # fmt: skip
    extra = pd.DataFrame(rows, columns=["audit misses", "recall (audit)", "recall 95% interval"])
    return pd.concat([ledger.reset_index(drop=True), extra], axis=1)


def apply_suggestion(*, session: Session, actor: Actor, suggestion: Suggestion) -> DetectorConfig:
    """Apply a ledger suggestion as the detector's next configuration version (admins only): its
    condition joins the ones in force, replacing one on the same feature and direction (or the
    same place)."""
    require_role(actor, ADMIN_ONLY, "configuring detectors")
    new = suggestion.condition()
    setting = next(
        (s for s in detector_settings(session=session) if s.name == suggestion.detector), None
    )
    if setting is None:
        raise UserError(f"no detector named {suggestion.detector!r}")

    def target(rule: dict[str, Any]) -> tuple[Any, ...]:
        if "place" in rule:
            return ("place", rule["place"], rule["value"])
        return ("feature", rule["feature"], rule["op"])

    rules = [r for r in setting.require if target(r) != target(new)] + [new]
    return configure_detector(
        session=session, actor=actor, name=suggestion.detector, require=rules,
        note=f"from the rule ledger: {suggestion.describe()}",
    )  # fmt: skip
