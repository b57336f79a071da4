"""The queue's keys as services, on both databases: U undoes the reviewer's latest decision on
any finding, a dismissal never goes through without a reviewer's reason, claims are handed back
by their holder, by moving on, or by themselves once idle; the To do view puts mine first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from review_queue.claims import held_claims, next_finding, release_claim, release_idle_claims
from review_queue.decisions import DecisionRefused, bulk_decide, decide, undo_last
from review_queue.queue import QUEUE_VIEWS, list_findings, view_filter
from review_queue.states import Status
from review_queue.tables import FeedbackEvent, Finding
from review_queue.types import utcnow
from tests.helpers.queue_fixtures import add_finding, add_people


def _actions(session: Session, finding_id: int) -> list[str]:
    rows = session.exec(
        select(FeedbackEvent.action)
        .where(col(FeedbackEvent.finding_id) == finding_id)
        .order_by(col(FeedbackEvent.id))
    ).all()
    return list(rows)


def test_undo_last_takes_back_my_latest_decision_on_another_finding(session: Session) -> None:
    people = add_people(session)
    ada, bo = people["ada"], people["bo"]
    first, second, theirs = (add_finding(session, i, priority=0.9 - i / 10) for i in range(3))
    assert first.id and second.id and theirs.id
    decide(session=session, actor=ada, finding_id=first.id, action="confirm")
    decide(session=session, actor=ada, finding_id=second.id, action="dismiss", reason="expected")
    decide(session=session, actor=bo, finding_id=theirs.id, action="confirm")  # not mine
    next_finding(session=session, actor=ada)  # opening the next one claims: U skips claims
    undone = undo_last(session=session, actor=ada)
    assert undone.finding.id == second.id and undone.finding.status == Status.new
    again = undo_last(session=session, actor=ada)  # U again: the decision before
    assert again.finding.id == first.id and again.finding.status == Status.new
    with pytest.raises(DecisionRefused, match="no decision in the last 10 minutes"):
        undo_last(session=session, actor=ada)
    session.commit()
    assert session.get(Finding, theirs.id).status == Status.confirmed  # type: ignore[union-attr]


def test_undo_last_refuses_after_the_window_and_names_the_finding(session: Session) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    assert f.id is not None
    d = decide(session=session, actor=people["ada"], finding_id=f.id, action="confirm")
    with pytest.raises(DecisionRefused, match="no decision in the last 10 minutes"):
        undo_last(session=session, actor=people["ada"], now=d.event.at + timedelta(minutes=11))
    decide(session=session, actor=people["bo"], finding_id=f.id, action="resolve")
    with pytest.raises(DecisionRefused, match=f"finding #{f.id} changed after it, by bo"):
        undo_last(session=session, actor=people["ada"])


@pytest.mark.parametrize("reason", [None, ""])
def test_a_dismissal_without_the_reviewers_reason_is_refused(
    session: Session, reason: str | None
) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    assert f.id is not None
    with pytest.raises(DecisionRefused, match="a dismissal needs a reason"):
        decide(session=session, actor=people["ada"], finding_id=f.id, action="dismiss",
               reason=reason)  # fmt: skip
    with pytest.raises(DecisionRefused, match="a dismissal needs a reason"):
        bulk_decide(session=session, actor=people["ada"], finding_ids=[f.id], action="dismiss")
    session.rollback()
    assert _actions(session, f.id) == []
    assert session.get(Finding, f.id).status == Status.new  # type: ignore[union-attr]


def test_a_claim_is_visible_released_by_its_holder_only(session: Session) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    assert f.id is not None
    claimed = next_finding(session=session, actor=people["ada"])
    assert claimed is not None and claimed.finding.id == f.id
    assert set(held_claims(session=session, finding_ids=[f.id])) == {f.id}
    with pytest.raises(DecisionRefused, match="not yours to release"):
        release_claim(session=session, actor=people["bo"], finding_id=f.id)
    released = release_claim(session=session, actor=people["ada"], finding_id=f.id)
    session.commit()
    assert released.finding.status == Status.new and released.finding.assignee_id is None
    assert held_claims(session=session, finding_ids=[f.id]) == {}
    assert _actions(session, f.id) == ["claim", "release"]


def test_idle_claims_expire_but_assignments_and_fresh_claims_stay(session: Session) -> None:
    people = add_people(session)
    ada, bo = people["ada"], people["bo"]
    old, fresh, assigned = (add_finding(session, i) for i in range(3))
    assert old.id and fresh.id and assigned.id
    start = utcnow() - timedelta(minutes=45)
    decide(session=session, actor=ada, finding_id=old.id, action="claim", now=start)
    decide(session=session, actor=bo, finding_id=fresh.id, action="claim")
    decide(session=session, actor=ada, finding_id=assigned.id, action="assign",
           assignee_id=bo.id, now=start)  # fmt: skip
    gone = release_idle_claims(session=session, idle=timedelta(minutes=30))
    session.commit()
    assert gone == [old.id]
    assert session.get(Finding, old.id).status == Status.new  # type: ignore[union-attr]
    assert session.get(Finding, fresh.id).assignee_id == bo.id  # type: ignore[union-attr]
    assert session.get(Finding, assigned.id).assignee_id == bo.id  # type: ignore[union-attr]
    released = select(FeedbackEvent).where(
        col(FeedbackEvent.finding_id) == old.id, col(FeedbackEvent.action) == "release"
    )
    [event] = session.exec(released).all()
    assert event.actor == "system" and "idle for 30 minutes" in (event.comment or "")


def test_next_walks_down_the_queue_and_hands_back_an_untouched_claim(session: Session) -> None:
    people = add_people(session)
    ada = people["ada"]
    top, mid, low = (add_finding(session, i, priority=p) for i, p in [(1, 0.9), (2, 0.5), (3, 0.1)])
    first = next_finding(session=session, actor=ada)
    assert first is not None and first.finding.id == top.id
    second = next_finding(session=session, actor=ada, after_id=top.id)
    assert second is not None and second.finding.id == mid.id
    assert session.get(Finding, top.id).status == Status.new  # type: ignore[union-attr]
    decide(session=session, actor=ada, finding_id=mid.id or 0, action="confirm")
    third = next_finding(session=session, actor=ada, after_id=mid.id)
    assert third is not None and third.finding.id == low.id
    # nothing below the last one: wrap to the top, never to the one on screen
    wrapped = next_finding(session=session, actor=ada, after_id=low.id)
    assert wrapped is not None and wrapped.finding.id == top.id
    session.commit()
    assert _actions(session, top.id or 0) == ["claim", "release", "claim"]
    assert _actions(session, low.id or 0) == ["claim", "release"]


def test_the_to_do_view_puts_mine_first_and_leaves_decided_ones_out(session: Session) -> None:
    people = add_people(session)
    ada, bo = people["ada"], people["bo"]
    fs = [add_finding(session, i, priority=1 - i / 10) for i in range(6)]
    ids = [f.id or 0 for f in fs]
    decide(session=session, actor=bo, finding_id=ids[0], action="confirm")
    decide(session=session, actor=bo, finding_id=ids[4], action="assign", assignee_id=ada.id)
    decide(session=session, actor=ada, finding_id=ids[5], action="claim")
    decide(session=session, actor=bo, finding_id=ids[1], action="claim")
    session.commit()
    todo = list_findings(session=session, actor=ada, queue_filter=view_filter("To do"))
    assert [r.id for r in todo.rows] == [ids[4], ids[5], ids[1], ids[2], ids[3]]
    assert todo.total == 5 and todo.rows[1].claimed_at is not None
    assert todo.rows[0].claimed_at is None  # an assignment is not a claim
    paged = [
        r.id
        for p in range(3)
        for r in list_findings(
            session=session, actor=ada, queue_filter=view_filter("To do"), page=p, page_size=2
        ).rows
    ]
    assert paged == [ids[4], ids[5], ids[1], ids[2], ids[3]]
    confirmed = list_findings(session=session, actor=ada, queue_filter=view_filter("Confirmed"))
    assert [r.id for r in confirmed.rows] == [ids[0]]
    assert QUEUE_VIEWS["All"] == ()
    every = list_findings(session=session, actor=ada, queue_filter=view_filter("All"))
    assert every.total == 6
    with pytest.raises(ValueError, match="not a queue view"):
        view_filter("Done")
