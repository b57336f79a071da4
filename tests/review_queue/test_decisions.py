"""The review state machine on both databases: decisions, races, double-clicks, undo, bulk."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from review_queue.claims import next_finding
from review_queue.decisions import (
    AlreadyDecided,
    DecisionRefused,
    bulk_decide,
    decide,
    preview_bulk,
    undo,
    wake_snoozed,
)
from review_queue.feedback_log import verify_chain
from review_queue.states import Status
from review_queue.tables import FeedbackEvent, Finding, ModelVersion
from review_queue.types import utcnow
from tests.helpers.queue_fixtures import add_finding, add_people


def _log(session: Session, finding_id: int) -> list[tuple[str, str | None, str]]:
    rows = session.exec(
        select(FeedbackEvent)
        .where(col(FeedbackEvent.finding_id) == finding_id)
        .order_by(col(FeedbackEvent.id))
    ).all()
    return [(r.action, r.from_status, r.to_status) for r in rows]


def test_claim_confirm_resolve_writes_one_row_each(session: Session) -> None:
    people = add_people(session)
    session.add(
        ModelVersion(kind="priority", version="p-3", status="promoted", promoted_at=utcnow())
    )
    f = add_finding(session, 1, priority=0.42)
    assert f.id is not None
    d = decide(session=session, actor=people["ada"], finding_id=f.id, action="claim")
    assert d.finding.status == Status.in_review and d.finding.assignee_id == people["ada"].id
    decide(session=session, actor=people["ada"], finding_id=f.id, action="confirm",
           comment="HR confirms the deadline")  # fmt: skip
    d = decide(session=session, actor=people["ada"], finding_id=f.id, action="resolve")
    session.commit()
    assert d.finding.status == Status.resolved and d.finding.row_version == 4
    assert _log(session, f.id) == [
        ("claim", "new", "in_review"),
        ("confirm", "in_review", "confirmed"),
        ("resolve", "confirmed", "resolved"),
    ]
    assert d.event.actor == "ada" and d.event.model_version == "p-3"
    assert d.event.priority_at_decision == pytest.approx(0.42)
    assert verify_chain(session=session).ok


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs a reason"),
        ({"reason": "because"}, "not a dismissal reason"),
        ({"reason": "other"}, "needs a comment"),
        ({"reason": "duplicate"}, "must name the finding it duplicates"),
        ({"reason": "duplicate", "duplicate_of_id": 999999}, "does not exist"),
    ],
)
def test_a_dismissal_needs_a_valid_reason(session: Session, kwargs: dict, message: str) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    assert f.id is not None
    with pytest.raises(DecisionRefused, match=message):
        decide(session=session, actor=people["ada"], finding_id=f.id, action="dismiss", **kwargs)
    session.rollback()
    assert _log(session, f.id) == []


def test_dismiss_as_duplicate_links_the_original(session: Session) -> None:
    people = add_people(session)
    original, copy = add_finding(session, 1), add_finding(session, 2)
    assert copy.id is not None
    d = decide(session=session, actor=people["ada"], finding_id=copy.id, action="dismiss",
               reason="duplicate", duplicate_of_id=original.id)  # fmt: skip
    assert d.finding.duplicate_of_id == original.id and d.event.reason == "duplicate"
    assert d.finding.dismissed_score == pytest.approx(0.6)


def test_two_people_deciding_at_once_one_wins_the_other_is_told(session: Session) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    assert f.id is not None
    seen_version = f.row_version
    decide(session=session, actor=people["ada"], finding_id=f.id, action="confirm",
           expected_row_version=seen_version)  # fmt: skip
    session.commit()
    with pytest.raises(AlreadyDecided, match=r"already confirmed by ada at \d{4}-\d\d-\d\d"):
        decide(session=session, actor=people["bo"], finding_id=f.id, action="dismiss",
               reason="expected", expected_row_version=seen_version)  # fmt: skip
    session.rollback()
    assert [a for a, _, _ in _log(session, f.id)] == ["confirm"]


def test_a_double_click_records_one_decision(session: Session) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    assert f.id is not None
    first = decide(session=session, actor=people["ada"], finding_id=f.id, action="confirm",
                   expected_row_version=1)  # fmt: skip
    again = decide(session=session, actor=people["ada"], finding_id=f.id, action="confirm",
                   expected_row_version=1)  # fmt: skip
    session.commit()
    assert again.repeated and again.event.id == first.event.id
    assert len(_log(session, f.id)) == 1


def test_undo_within_ten_minutes_by_the_same_person_only(session: Session) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    assert f.id is not None
    d = decide(session=session, actor=people["ada"], finding_id=f.id, action="dismiss",
               reason="expected")  # fmt: skip
    assert d.event.id is not None
    with pytest.raises(DecisionRefused, match="only ada"):
        undo(session=session, actor=people["bo"], event_id=d.event.id)
    with pytest.raises(DecisionRefused, match="possible for 10 minutes"):
        undo(session=session, actor=people["ada"], event_id=d.event.id,
             now=d.event.at + timedelta(minutes=11))  # fmt: skip
    u = undo(session=session, actor=people["ada"], event_id=d.event.id)
    session.commit()
    assert u.finding.status == Status.new and u.finding.dismissed_score is None
    assert u.event.undoes_event_id == d.event.id
    assert _log(session, f.id) == [("dismiss", "new", "dismissed"), ("undo", "dismissed", "new")]
    with pytest.raises(DecisionRefused, match="cannot be undone"):
        undo(session=session, actor=people["ada"], event_id=u.event.id or 0)


def test_undo_refused_once_someone_acted_after(session: Session) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    assert f.id is not None
    d = decide(session=session, actor=people["ada"], finding_id=f.id, action="claim")
    decide(session=session, actor=people["bo"], finding_id=f.id, action="confirm")
    with pytest.raises(AlreadyDecided, match="changed after it, by bo"):
        undo(session=session, actor=people["ada"], event_id=d.event.id or 0)


def test_snooze_wakes_by_itself_into_its_earlier_status(session: Session) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    assert f.id is not None
    decide(session=session, actor=people["ada"], finding_id=f.id, action="claim")
    now = utcnow()
    with pytest.raises(DecisionRefused, match="not in the future"):
        decide(session=session, actor=people["ada"], finding_id=f.id, action="snooze",
               until=now - timedelta(days=1))  # fmt: skip
    with pytest.raises(DecisionRefused, match="at most 180 days"):
        decide(session=session, actor=people["ada"], finding_id=f.id, action="snooze",
               until=now + timedelta(days=181))  # fmt: skip
    decide(session=session, actor=people["ada"], finding_id=f.id, action="snooze",
           until=now + timedelta(days=3))  # fmt: skip
    assert wake_snoozed(session=session, now=now + timedelta(days=2)) == 0
    assert wake_snoozed(session=session, now=now + timedelta(days=3, seconds=1)) == 1
    session.commit()
    back = session.get(Finding, f.id, populate_existing=True)
    assert back is not None and back.status == Status.in_review and back.snoozed_until is None
    assert _log(session, f.id)[-1] == ("wake", "snoozed", "in_review")


def test_reopen_a_dismissed_finding(session: Session) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    assert f.id is not None
    decide(session=session, actor=people["ada"], finding_id=f.id, action="dismiss",
           reason="data_error")  # fmt: skip
    d = decide(session=session, actor=people["bo"], finding_id=f.id, action="reopen")
    assert d.finding.status == Status.new and d.finding.dismissed_score is None
    with pytest.raises(DecisionRefused, match="resolve needs confirmed"):
        decide(session=session, actor=people["bo"], finding_id=f.id, action="resolve")


def test_assign_only_to_an_active_admin(session: Session) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    assert f.id is not None
    with pytest.raises(DecisionRefused, match="only admins review"):
        decide(session=session, actor=people["ada"], finding_id=f.id, action="assign",
               assignee_id=people["ivy"].id)  # fmt: skip
    d = decide(session=session, actor=people["ada"], finding_id=f.id, action="assign",
               assignee_id=people["bo"].id)  # fmt: skip
    assert d.finding.assignee_id == people["bo"].id and d.finding.status == Status.in_review


@pytest.mark.parametrize("who", ["ivy", "max"])
def test_only_admins_decide(session: Session, who: str) -> None:
    people = add_people(session)
    f = add_finding(session, 1)
    for action in ("claim", "confirm", "resolve", "reopen"):
        with pytest.raises(PermissionError, match="needs the admin role"):
            decide(session=session, actor=people[who], finding_id=f.id or 0, action=action)
    with pytest.raises(PermissionError):
        next_finding(session=session, actor=people[who])
    with pytest.raises(PermissionError):
        bulk_decide(session=session, actor=people[who], finding_ids=[f.id or 0], action="confirm")


def test_next_hands_out_the_highest_priority_unclaimed_finding(session: Session) -> None:
    people = add_people(session)
    low, high, mid = (
        add_finding(session, i, priority=p) for i, p in [(1, 0.1), (2, 0.9), (3, 0.5)]
    )
    first = next_finding(session=session, actor=people["ada"])
    second = next_finding(session=session, actor=people["bo"])
    third = next_finding(session=session, actor=people["bo"])
    session.commit()
    assert first and second and third
    assert [first.finding.id, second.finding.id, third.finding.id] == [high.id, mid.id, low.id]
    assert next_finding(session=session, actor=people["ada"]) is None


def test_bulk_preview_then_apply_one_row_per_finding(session: Session) -> None:
    people = add_people(session)
    fs = [add_finding(session, i) for i in range(5)]
    ids = [f.id or 0 for f in fs]
    decide(session=session, actor=people["ada"], finding_id=ids[0], action="confirm")
    session.commit()
    preview = preview_bulk(
        session=session, actor=people["bo"], finding_ids=[*ids, 777], action="dismiss"
    )
    assert preview.changed == ids[1:] and set(preview.skipped) == {ids[0], 777}
    # the preview names what it will change (and what it skips), not only how many
    assert preview.titles == {f.id: f.title for f in fs}
    with pytest.raises(DecisionRefused, match="needs a reason"):
        bulk_decide(session=session, actor=people["bo"], finding_ids=ids, action="dismiss")
    session.rollback()
    result = bulk_decide(session=session, actor=people["bo"], finding_ids=ids, action="dismiss",
                         reason="expected")  # fmt: skip
    session.commit()
    assert result.changed == ids[1:] and ids[0] in result.skipped
    for fid in ids[1:]:
        assert _log(session, fid) == [("dismiss", "new", "dismissed")]
    assert verify_chain(session=session).ok


def test_concurrent_next_never_hands_out_the_same_finding(db: Engine) -> None:
    with Session(db) as s:
        people = add_people(s)
        for i in range(30):
            add_finding(s, i, priority=i / 30)
    got: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def reviewer(name: str) -> None:
        try:
            for _ in range(6):
                with Session(db, expire_on_commit=False) as s:
                    d = next_finding(session=s, actor=people[name])
                    s.commit()
                if d is not None:
                    with lock:
                        got.append(d.finding.id or 0)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in ("ada", "bo") * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(got) == 24 and len(set(got)) == 24
    with Session(db) as s:
        assert verify_chain(session=s).ok
        claims = s.exec(select(FeedbackEvent).where(col(FeedbackEvent.action) == "claim")).all()
        assert len(claims) == 24


def test_the_database_refuses_to_rewrite_the_log(db: Engine) -> None:
    with Session(db) as s:
        people = add_people(s)
        f = add_finding(s, 1)
        decide(session=s, actor=people["ada"], finding_id=f.id or 0, action="confirm")
        s.commit()
    for statement in ("UPDATE feedback_log SET actor = 'mallory'", "DELETE FROM feedback_log"):
        with pytest.raises(Exception, match="append-only"), db.begin() as conn:
            conn.execute(text(statement))
