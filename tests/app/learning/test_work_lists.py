"""The rule-tuning backlog grouped by the ledger's thresholds, proposed exceptions and their
application by an admin (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from app.core.errors import UserError
from app.detection.configuration import detector_settings
from app.learning.work_lists import (
    apply_exception,
    apply_tuning,
    exception_proposals,
    rule_tuning_backlog,
)
from review_queue.decisions import decide
from review_queue.permissions import Actor
from review_queue.tables import FeedbackEvent, Suppression, WorkItem
from review_queue.types import utcnow
from review_queue.work_items import list_work
from tests.helpers.queue_fixtures import add_finding, add_people


def _decided(
    s: Session, ada: Actor, n: int, days_over: float, verdict: str, **extra: object
) -> int:
    finding = add_finding(s, n, features={"days_over": days_over}, **extra)
    assert finding.id is not None
    reason = {"confirm": None, "false_positive_rule": "false_positive_rule"}.get(verdict, verdict)
    action = "confirm" if verdict == "confirm" else "dismiss"
    decide(session=s, actor=ada, finding_id=finding.id, action=action, reason=reason,
           now=utcnow() - timedelta(days=3))  # fmt: skip
    s.commit()
    return finding.id


def test_one_threshold_clears_the_false_positives_at_one_end(session: Session) -> None:
    ada = add_people(session)["ada"]
    # Barely overdue enrolments are dismissed as false positives; long overdue ones confirmed.
    cleared = [_decided(session, ada, n, 0.5 + n / 10, "false_positive_rule") for n in range(6)]
    for n in range(6, 12):
        _decided(session, ada, n, 20.0 + n, "confirm")
    # One false positive far up the range: no threshold clears it without losing confirmations.
    stray = _decided(session, ada, 12, 40.0, "false_positive_rule")
    other = _decided(session, ada, 13, 1.0, "false_positive_rule", detector="unowned_course")
    groups = rule_tuning_backlog(session=session, actor=ada)
    assert [len(g.items) for g in groups] == [6, 1, 1]
    top = groups[0]
    assert top.suggestion is not None and top.suggestion.feature == "days_over"
    assert sorted(r.finding_id for r in top.items) == sorted(cleared)
    assert top.features == {"days_over": (0.5, 1.0)}
    assert top.describe().startswith("clears 6 of the backlog; compliance_overdue: propose only")
    rest = {g.detector: [r.finding_id for r in g.items] for g in groups[1:]}
    assert rest == {"compliance_overdue": [stray], "unowned_course": [other]}
    assert all(g.suggestion is None for g in groups[1:])

    apply_tuning(session=session, actor=ada, key=top.key)
    session.commit()
    setting = next(s for s in detector_settings(session=session) if s.name == "compliance_overdue")
    assert [r["feature"] for r in setting.require] == ["days_over"]
    assert [len(g.items) for g in rule_tuning_backlog(session=session, actor=ada)] == [1, 1]
    applied = session.exec(
        select(FeedbackEvent).where(col(FeedbackEvent.action) == "work_apply")
    ).all()
    assert sorted(e.finding_id for e in applied) == sorted(cleared)
    with pytest.raises(UserError, match="has no group"):
        apply_tuning(session=session, actor=ada, key=top.key)
    with pytest.raises(UserError, match="no threshold clears these findings yet"):
        apply_tuning(session=session, actor=ada, key="unowned_course: no suggestion")


def test_an_exception_is_applied_by_scope_and_settles_its_place(session: Session) -> None:
    ada = add_people(session)["ada"]
    in_c1 = [
        _decided(session, ada, n, 3.0, "expected", course_id="C1", department="Sales")
        for n in range(3)
    ]
    elsewhere = _decided(session, ada, 9, 3.0, "expected", course_id="C2", department="Sales")
    proposals = exception_proposals(session=session, actor=ada)
    assert len(proposals) == 4
    first = proposals[0]
    assert first.item.finding_id in in_c1
    assert first.scopes == {
        "course": "C1", "department": "Sales", "entity": first.item.entity_key,
    }  # fmt: skip
    assert first.same_place == {"course": 3, "department": 4}

    settled = apply_exception(session=session, actor=ada, item_id=first.item.id, scope="course")
    session.commit()
    assert len(settled) == 3
    setting = next(s for s in detector_settings(session=session) if s.name == "compliance_overdue")
    assert list(setting.require) == [{"place": "course_id", "op": "!=", "value": "C1"}]
    [left] = list_work(session=session, actor=ada, kind="exception")
    assert left.finding_id == elsewhere

    apply_exception(session=session, actor=ada, item_id=left.id, scope="entity")
    session.commit()
    [suppression] = session.exec(select(Suppression)).all()
    assert suppression.entity_key == left.entity_key and suppression.finding_id == elsewhere
    assert suppression.expires_at - utcnow() > timedelta(days=179)
    statuses = session.exec(select(WorkItem.status)).all()
    assert statuses == ["applied"] * 4
    with pytest.raises(UserError, match="'team' is not an exception scope"):
        apply_exception(session=session, actor=ada, item_id=left.id, scope="team")
