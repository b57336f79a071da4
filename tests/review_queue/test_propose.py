"""Proposals into the queue on both databases: dedupe, regressions, dismissals, suppressions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from models.detectors.base import Proposal
from review_queue.decisions import DecisionRefused, decide
from review_queue.feedback_log import verify_chain
from review_queue.propose import propose_findings
from review_queue.states import Status
from review_queue.suppressions import create_suppression, list_suppressions
from review_queue.tables import FeedbackEvent, Finding
from review_queue.types import utcnow
from tests.helpers.queue_fixtures import add_people


def _p(key: str = "enrollment=E1", score: float = 0.5, detector: str = "compliance_overdue",
       category: str = "compliance_overdue") -> Proposal:  # fmt: skip
    return Proposal(
        category=category, entity_key=key, title=f"{key} is overdue", score=score,
        severity="high", evidence={"rows": [{"id": key}]}, features={"days": 3.0},
        explanation="past due", detector=detector, detector_version="1",
    )  # fmt: skip


def _one(session: Session, key: str = "enrollment=E1") -> Finding:
    session.expire_all()
    return session.exec(select(Finding).where(col(Finding.entity_key) == key)).one()


def test_new_then_seen_again_updates_last_seen_and_occurrences(session: Session) -> None:
    t0 = utcnow()
    stats = propose_findings(session=session, proposals=[_p(), _p("enrollment=E2")], now=t0)
    session.commit()
    assert (stats.new, stats.updated) == (2, 0)
    t1 = t0 + timedelta(days=1)
    stats = propose_findings(session=session, proposals=[_p(score=0.7)], now=t1)
    session.commit()
    assert (stats.new, stats.updated) == (0, 1)
    f = _one(session)
    assert f.occurrences == 2 and f.first_seen_at == t0 and f.last_seen_at == t1
    assert f.score == pytest.approx(0.7) and f.status == Status.new
    assert f.evidence == {"rows": [{"id": "enrollment=E1"}]}
    assert verify_chain(session=session).ok


def test_two_detectors_on_one_entity_merge_into_one_finding(session: Session) -> None:
    stats = propose_findings(
        session=session, proposals=[_p(score=0.4, detector="a"), _p(score=0.8, detector="b")]
    )
    session.commit()
    assert stats.new == 1
    f = _one(session)
    assert f.detector == "a+b" and f.score == pytest.approx(0.8)


def test_a_dismissed_finding_stays_dismissed_unless_its_score_rose_markedly(
    session: Session,
) -> None:
    people = add_people(session)
    propose_findings(session=session, proposals=[_p(score=0.5)])
    f = _one(session)
    decide(session=session, actor=people["ada"], finding_id=f.id or 0, action="dismiss",
           reason="expected")  # fmt: skip
    session.commit()
    stats = propose_findings(session=session, proposals=[_p(score=0.55)])
    session.commit()
    assert stats.still_dismissed == 1 and _one(session).status == Status.dismissed
    stats = propose_findings(session=session, proposals=[_p(score=0.9)])
    session.commit()
    f = _one(session)
    assert stats.reopened == 1 and f.status == Status.new and not f.regression
    last = session.exec(select(FeedbackEvent).order_by(col(FeedbackEvent.id).desc())).first()
    assert last is not None and last.action == "reopen" and last.actor == "system"
    assert "0.50 to 0.90" in (last.comment or "")


def test_a_resolved_finding_that_comes_back_is_a_regression(session: Session) -> None:
    people = add_people(session)
    propose_findings(session=session, proposals=[_p()])
    f = _one(session)
    for action in ("confirm", "resolve"):
        decide(session=session, actor=people["ada"], finding_id=f.id or 0, action=action)
    session.commit()
    stats = propose_findings(session=session, proposals=[_p()])
    session.commit()
    f = _one(session)
    assert stats.regressions == 1 and f.status == Status.new and f.regression
    assert f.assignee_id is None


def test_suppressions_absorb_until_the_score_rises_markedly(session: Session) -> None:
    people = add_people(session)
    propose_findings(session=session, proposals=[_p(score=0.5)])
    f = _one(session)
    assert f.id is not None
    with pytest.raises(DecisionRefused, match="only a reviewed finding"):
        create_suppression(session=session, actor=people["ada"], finding_id=f.id,
                           until=utcnow() + timedelta(days=30), reason="known")  # fmt: skip
    decide(session=session, actor=people["ada"], finding_id=f.id, action="dismiss",
           reason="expected")  # fmt: skip
    with pytest.raises(DecisionRefused, match="at most 180 days"):
        create_suppression(session=session, actor=people["ada"], finding_id=f.id,
                           until=utcnow() + timedelta(days=200), reason="known")  # fmt: skip
    with pytest.raises(DecisionRefused, match="needs a reason"):
        create_suppression(session=session, actor=people["ada"], finding_id=f.id,
                           until=utcnow() + timedelta(days=30), reason="  ")  # fmt: skip
    with pytest.raises(PermissionError):
        create_suppression(session=session, actor=people["max"], finding_id=f.id,
                           until=utcnow() + timedelta(days=30), reason="known")  # fmt: skip
    create_suppression(session=session, actor=people["ada"], finding_id=f.id,
                       until=utcnow() + timedelta(days=30), reason="Known HR backlog")  # fmt: skip
    decide(session=session, actor=people["ada"], finding_id=f.id, action="reopen")
    session.commit()
    for _ in range(2):
        stats = propose_findings(session=session, proposals=[_p(score=0.55)])
        assert stats.suppressed == 1
    session.commit()
    [row] = list_suppressions(session=session, actor=people["ada"])
    assert row.absorbed == 2 and row.created_by == "ada" and row.active
    assert _one(session).occurrences == 1  # absorbed proposals do not touch the finding
    stats = propose_findings(session=session, proposals=[_p(score=0.95)])
    session.commit()
    assert stats.suppressions_lifted == 1 and stats.updated == 1
    assert list_suppressions(session=session, actor=people["ada"]) == []


def test_a_detector_scoped_suppression_lets_other_detectors_through(session: Session) -> None:
    people = add_people(session)
    propose_findings(session=session, proposals=[_p(detector="a")])
    f = _one(session)
    decide(session=session, actor=people["ada"], finding_id=f.id or 0, action="confirm")
    create_suppression(session=session, actor=people["ada"], finding_id=f.id or 0,
                       until=utcnow() + timedelta(days=5), reason="noisy rule",
                       detector_only=True)  # fmt: skip
    session.commit()
    assert propose_findings(session=session, proposals=[_p(detector="a")]).suppressed == 1
    assert propose_findings(session=session, proposals=[_p(detector="b")]).suppressed == 0


def test_a_failure_mid_way_leaves_the_queue_as_it_was(session: Session) -> None:
    propose_findings(session=session, proposals=[_p()])
    session.commit()

    def proposals() -> object:
        yield _p("enrollment=E2")
        raise RuntimeError("detector crashed")

    with pytest.raises(RuntimeError):
        propose_findings(session=session, proposals=proposals())  # type: ignore[arg-type]
    session.rollback()
    assert [f.entity_key for f in session.exec(select(Finding))] == ["enrollment=E1"]
    assert _one(session).occurrences == 1
