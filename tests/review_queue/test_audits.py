"""Audit items on both databases: blind second review, verdicts logged, figures, agreement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from review_queue.audit_figures import audit_estimates, confirmed_misses, reviewer_agreement
from review_queue.audits import (
    AUDIT_DETECTOR,
    DISMISSAL,
    UNFLAGGED,
    AuditRefused,
    Draw,
    audit_counts,
    audit_items,
    decide_audit,
    period_dismissals,
    record_sample,
)
from review_queue.decisions import decide
from review_queue.feedback_log import verify_chain
from review_queue.permissions import Actor
from review_queue.tables import FeedbackEvent, Finding
from review_queue.trends.filters import TrendFilters
from review_queue.trends.precision import detector_precision
from review_queue.types import utcnow
from tests.helpers.queue_fixtures import add_finding, add_people


def _dismissed(session: Session, people: dict[str, Actor], n: int, who: str = "ada") -> Finding:
    f = add_finding(session, n)
    assert f.id is not None
    decide(session=session, actor=people[who], finding_id=f.id, action="dismiss",
           reason="false_positive_rule")  # fmt: skip
    session.commit()
    return f


UNFLAGGED_KEYS = ("enrollment=E900", "enrollment=E901")


def _sample(
    session: Session, people: dict[str, Actor], *, dismissed: int = 2,
    unflagged: tuple[str, ...] = UNFLAGGED_KEYS,
) -> None:  # fmt: skip
    now = utcnow()
    for n in range(1, dismissed + 1):
        _dismissed(session, people, n)
    pool = period_dismissals(session=session, start=now - timedelta(days=7),
                             end=now + timedelta(seconds=5))  # fmt: skip
    draws = {
        "compliance_overdue": {
            DISMISSAL: Draw(len(pool["compliance_overdue"]), dismissals=pool["compliance_overdue"]),
            UNFLAGGED: Draw(100, keys=list(unflagged)),
        }
    }
    record_sample(session=session, actor=people["ada"], period_start=now - timedelta(days=7),
                  period_end=now, snapshot_id=None, width=0.3, draws=draws)  # fmt: skip
    session.commit()


def test_a_dismissal_goes_to_a_second_reviewer_who_does_not_see_the_first_decision(
    session: Session,
) -> None:
    people = add_people(session)
    _sample(session, people)
    # ada dismissed both: their audits are bo's, and ada is not offered them.
    assert all(v.stream == UNFLAGGED for v in audit_items(session=session, actor=people["ada"]))
    mine = [v for v in audit_items(session=session, actor=people["bo"]) if v.stream == DISMISSAL]
    assert len(mine) == 2
    assert all(v.first_decision is None for v in mine)
    assert "dismiss" not in repr([v.title + v.explanation for v in mine]).lower()
    with pytest.raises(AuditRefused, match="second reviewer"):
        decide_audit(session=session, actor=people["ada"], item_id=mine[0].id, verdict="confirmed")
    view = decide_audit(session=session, actor=people["bo"], item_id=mine[0].id,
                        verdict="confirmed", comment="the rule was right")  # fmt: skip
    session.commit()
    assert view.first_decision == "dismissed by ada (false_positive_rule)"
    finding = session.get(Finding, mine[0].finding_id)
    assert finding is not None and finding.status == "confirmed"
    last = session.exec(
        select(FeedbackEvent).where(FeedbackEvent.finding_id == finding.id)
        .order_by(col(FeedbackEvent.id).desc())
    ).first()  # fmt: skip
    assert last is not None
    assert (last.action, last.actor, last.from_status, last.to_status) == (
        "audit_confirm", "bo", "dismissed", "confirmed",
    )  # fmt: skip
    with pytest.raises(AuditRefused, match="already decided \\(confirmed\\) by bo"):
        decide_audit(session=session, actor=people["bo"], item_id=mine[0].id, verdict="dismissed")
    assert verify_chain(session=session).ok


def test_an_unflagged_entity_found_to_be_a_gap_becomes_a_confirmed_finding(
    session: Session,
) -> None:
    people = add_people(session)
    _sample(session, people, dismissed=1)
    items = [v for v in audit_items(session=session, actor=people["ada"]) if v.stream == UNFLAGGED]
    items += [v for v in audit_items(session=session, actor=people["bo"]) if v.stream == UNFLAGGED]
    assert sorted(v.entity_key for v in items) == ["enrollment=E900", "enrollment=E901"]
    by_key = {v.entity_key: v for v in items}
    for key, verdict in (("enrollment=E900", "confirmed"), ("enrollment=E901", "dismissed")):
        item = by_key[key]
        who = "ada" if item.assignee == "ada" else "bo"
        decide_audit(session=session, actor=people[who], item_id=item.id, verdict=verdict)
    session.commit()
    made = {f.entity_key: f for f in session.exec(select(Finding).where(
        Finding.detector == AUDIT_DETECTOR))}  # fmt: skip
    assert made["enrollment=E900"].status == "confirmed"
    assert made["enrollment=E901"].status == "dismissed"
    actions = [e.action for e in session.exec(select(FeedbackEvent).where(
        col(FeedbackEvent.finding_id).in_([f.id for f in made.values()])))]  # fmt: skip
    assert sorted(actions) == ["audit_confirm", "audit_dismiss"]
    assert confirmed_misses(session=session, actor=people["max"]) == {"compliance_overdue": 1}
    # The audits' own findings are the Audits panel's: Trends shows no "audit" detector.
    weeks = TrendFilters.last_weeks(12)
    precision = detector_precision(session=session, actor=people["max"], filters=weeks).frame
    assert AUDIT_DETECTOR not in set(precision["detector"])
    # The next sample does not audit an audit's own verdicts as dismissals.
    now = utcnow()
    pool = period_dismissals(session=session, start=now - timedelta(days=7),
                             end=now + timedelta(seconds=5))  # fmt: skip
    assert [d.entity_key for d in pool["compliance_overdue"]] == ["enrollment=E1"]
    assert verify_chain(session=session).ok


def test_with_one_admin_the_original_reviewer_audits_blind(session: Session) -> None:
    people = add_people(session)
    from review_queue.tables import User

    bo = session.get(User, people["bo"].id)
    assert bo is not None
    bo.active = False
    session.add(bo)
    session.commit()
    _sample(session, people, dismissed=1, unflagged=())
    [item] = audit_items(session=session, actor=people["ada"])
    assert item.first_decision is None
    view = decide_audit(session=session, actor=people["ada"], item_id=item.id, verdict="dismissed")
    assert view.first_decision == "dismissed by ada (false_positive_rule)"
    assert audit_counts(session=session, actor=people["ada"]) == {"mine": 0, "waiting": 0}


def test_bad_verdicts_and_roles_are_refused(session: Session) -> None:
    people = add_people(session)
    _sample(session, people, dismissed=1)
    item = audit_items(session=session, actor=people["bo"])[0]
    with pytest.raises(AuditRefused, match="verdict 'maybe' is not one of confirmed, dismissed"):
        decide_audit(session=session, actor=people["bo"], item_id=item.id, verdict="maybe")
    with pytest.raises(AuditRefused, match="no audit item #9999"):
        decide_audit(session=session, actor=people["bo"], item_id=9999, verdict="confirmed")
    with pytest.raises(PermissionError, match="admin"):
        decide_audit(session=session, actor=people["max"], item_id=item.id, verdict="confirmed")
    with pytest.raises(PermissionError):
        audit_items(session=session, actor=people["ivy"])


def test_estimates_and_agreement_from_the_verdicts(session: Session) -> None:
    people = add_people(session)
    _sample(session, people, dismissed=4, unflagged=("enrollment=E900", "enrollment=E901"))
    # Two flagged gaps were confirmed by reviewers: what recall counts as caught.
    for n in (50, 51):
        f = add_finding(session, n)
        assert f.id is not None
        decide(session=session, actor=people["ada"], finding_id=f.id, action="confirm")
    session.commit()
    verdicts = iter(["confirmed", "dismissed", "dismissed", "dismissed"])
    for item in audit_items(session=session, actor=people["bo"]):
        if item.stream == DISMISSAL:
            decide_audit(session=session, actor=people["bo"], item_id=item.id,
                         verdict=next(verdicts))  # fmt: skip
    for who in ("ada", "bo"):
        for item in audit_items(session=session, actor=people[who]):
            if item.stream == UNFLAGGED:
                verdict = "confirmed" if item.entity_key == "enrollment=E900" else "dismissed"
                decide_audit(session=session, actor=people[who], item_id=item.id, verdict=verdict)
    session.commit()
    [row] = audit_estimates(session=session, actor=people["max"])
    assert row.waiting == 0
    errors = row.dismissal_errors
    assert errors is not None and (errors.found, errors.sampled, errors.population) == (1, 4, 4)
    assert errors.low == errors.high == 1  # a census: the count itself
    recall = row.recall
    assert recall is not None
    # One miss in 2 of 100 unflagged: 50 misses expected; caught: E1 (confirmed in the audit),
    # E50 and E51.
    assert recall.caught == 3 and recall.misses.found == 1
    assert recall.estimate == pytest.approx(3 / (3 + 50))
    assert recall.low is not None and recall.high is not None
    assert recall.low < recall.estimate < recall.high <= 1
    rows = {
        (r.category, r.pair): r for r in reviewer_agreement(session=session, actor=people["max"])
    }
    pair = rows[("compliance_overdue", "ada / bo")]
    assert (pair.agreement.items, pair.both_dismissed, pair.differed) == (4, 3, 1)
    # ada always dismissed: chance agreement equals observed, kappa 0.
    assert pair.agreement.kappa == pytest.approx(0.0)
    with pytest.raises(PermissionError):
        reviewer_agreement(session=session, actor=people["ivy"])
