"""Reviewers racing over the same findings, and the log's chain catching tampering."""

from __future__ import annotations

import random
import threading
from collections import Counter

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from review_queue.decisions import AlreadyDecided, decide
from review_queue.feedback_log import verify_chain
from review_queue.tables import FeedbackEvent, Finding
from tests.helpers.queue_fixtures import add_finding, add_people


def test_eight_reviewers_racing_decide_each_finding_exactly_once(db: Engine) -> None:
    with Session(db) as s:
        people = add_people(s)
        findings = [add_finding(s, i) for i in range(40)]
        versions = {f.id: f.row_version for f in findings}
    admins = [people["ada"], people["bo"]]
    outcomes: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def reviewer(seed: int) -> None:
        rng = random.Random(seed)
        me = admins[seed % 2]
        order = list(versions)
        rng.shuffle(order)
        for fid in order:
            action, reason = rng.choice([("confirm", None), ("dismiss", "expected")])
            try:
                with Session(db, expire_on_commit=False) as s:
                    decide(session=s, actor=me, finding_id=fid or 0, action=action,
                           reason=reason, expected_row_version=versions[fid])  # fmt: skip
                    s.commit()
                with lock:
                    outcomes["won"] += 1
            except AlreadyDecided as exc:
                assert "already" in str(exc) and " by " in str(exc)
                with lock:
                    outcomes["told"] += 1
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=reviewer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    with Session(db) as s:
        decided = s.exec(
            select(FeedbackEvent).where(col(FeedbackEvent.action).in_(["confirm", "dismiss"]))
        ).all()
        per_finding = Counter(e.finding_id for e in decided)
        assert verify_chain(session=s).ok
        statuses = {f.status for f in s.exec(select(Finding))}
    # Each finding decided exactly once; every other attempt was told who won. (A repeat by the
    # same person counts as a double-click and returns the first decision instead.)
    assert set(per_finding.values()) == {1} and len(per_finding) == 40
    assert outcomes["won"] + outcomes["told"] == 8 * 40
    assert statuses <= {"confirmed", "dismissed"}


def _disable_guard(conn: object, dialect: str) -> None:
    if dialect == "postgresql":
        conn.execute(text("ALTER TABLE feedback_log DISABLE TRIGGER USER"))  # type: ignore[attr-defined]
    else:
        conn.execute(text("DROP TRIGGER feedback_log_no_update"))  # type: ignore[attr-defined]
        conn.execute(text("DROP TRIGGER feedback_log_no_delete"))  # type: ignore[attr-defined]


def test_verify_names_the_first_edited_row(db: Engine) -> None:
    with Session(db) as s:
        people = add_people(s)
        for i in range(5):
            f = add_finding(s, i)
            decide(session=s, actor=people["ada"], finding_id=f.id or 0, action="confirm")
        s.commit()
        events = s.exec(select(FeedbackEvent).order_by(col(FeedbackEvent.id))).all()
        assert verify_chain(session=s).ok and verify_chain(session=s).rows == 5
    target = events[2].id
    with db.begin() as conn:
        _disable_guard(conn, db.dialect.name)
        conn.execute(
            text("UPDATE feedback_log SET reason = 'rewritten' WHERE id = :id"), {"id": target}
        )
    with Session(db) as s:
        check = verify_chain(session=s)
    assert not check.ok and check.first_broken_id == target
    assert check.problem == "its content does not match its hash"
    if db.dialect.name == "postgresql":
        with db.begin() as conn:
            conn.execute(text("ALTER TABLE feedback_log ENABLE TRIGGER USER"))


def test_verify_notices_a_deleted_row(db: Engine) -> None:
    with Session(db) as s:
        people = add_people(s)
        for i in range(4):
            f = add_finding(s, i)
            decide(session=s, actor=people["ada"], finding_id=f.id or 0, action="confirm")
        s.commit()
        ids = [e.id for e in s.exec(select(FeedbackEvent).order_by(col(FeedbackEvent.id)))]
    with db.begin() as conn:
        _disable_guard(conn, db.dialect.name)
        conn.execute(text("DELETE FROM feedback_log WHERE id = :id"), {"id": ids[1]})
    with Session(db) as s:
        check = verify_chain(session=s)
    assert not check.ok and check.first_broken_id == ids[2]
    assert check.problem == "it does not link to the row before it"
    if db.dialect.name == "postgresql":
        with db.begin() as conn:
            conn.execute(text("ALTER TABLE feedback_log ENABLE TRIGGER USER"))
