"""Changes of several findings in one transaction take their locks before the log's head.

A single decision locks its finding (the UPDATE) and then the feedback log's head row. A bulk
decision or a snooze wake-up that locked finding A and the head and then waited for finding B,
while a single decision held B and waited for the head, was a deadlock on PostgreSQL (one of the
two refused after a second). The multi-finding services now lock all their findings first, in id
order (``lock_findings``); these tests hold B the way a single decision does between its two
steps and check that both transactions finish.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from review_queue.decisions import bulk_decide, wake_snoozed
from review_queue.feedback_log import append_event, verify_chain
from review_queue.findings import update_finding
from review_queue.permissions import Actor
from review_queue.states import Action
from review_queue.tables import FeedbackEvent, Finding
from review_queue.types import utcnow
from tests.conftest import empty_tables
from tests.helpers.queue_fixtures import add_finding, add_people

pytestmark = pytest.mark.postgres


def _waiting_on_a_lock(engine: Engine, timeout: float = 10.0) -> bool:
    """True once another backend waits for a row lock (the multi-finding transaction)."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
            if waiting:
                return True
            conn.rollback()
            time.sleep(0.05)
    return False


def _bulk_confirm(actor: Actor, ids: list[int]) -> Callable[[Session], int]:
    def run(session: Session) -> int:
        result = bulk_decide(session=session, actor=actor, finding_ids=ids, action="confirm")
        return len(result.changed)

    return run


def _wake(_: Actor, __: list[int]) -> Callable[[Session], int]:
    return lambda session: wake_snoozed(session=session)


@pytest.mark.parametrize("operation", [_bulk_confirm, _wake], ids=["bulk_decide", "wake_snoozed"])
def test_a_multi_finding_change_and_a_single_decision_do_not_deadlock(
    pg_engine: Engine, operation: Callable[[Actor, list[int]], Callable[[Session], int]]
) -> None:
    empty_tables(pg_engine)
    with Session(pg_engine, expire_on_commit=False) as s:
        people = add_people(s)
        a, b = add_finding(s, 1), add_finding(s, 2)
        assert a.id is not None and b.id is not None
        if operation is _wake:
            s.execute(
                text("UPDATE findings SET status = 'snoozed', status_before_snooze = 'new',"
                     " snoozed_until = :t WHERE id IN (:a, :b)"),
                {"t": utcnow() - timedelta(hours=1), "a": a.id, "b": b.id},
            )  # fmt: skip
            s.commit()
        version_b = s.exec(select(Finding.row_version).where(col(Finding.id) == b.id)).one()
    ada = people["ada"]
    outcome: dict[str, object] = {}

    def many() -> None:
        try:
            with Session(pg_engine) as s:
                outcome["changed"] = operation(ada, [a.id or 0, b.id or 0])(s)
                s.commit()
        except BaseException as exc:
            outcome["error"] = exc

    # The single decision's first step: its UPDATE holds finding B's row lock.
    with Session(pg_engine) as single:
        update_finding(session=single, finding_id=b.id, expected_row_version=version_b,
                       changes={"assignee_id": ada.id})  # fmt: skip
        worker = threading.Thread(target=many)
        worker.start()
        assert _waiting_on_a_lock(pg_engine), "the multi-finding change never waited for B"
        # Its second step: the log's head. Before the fix the other transaction held it.
        append_event(session=single, finding_id=b.id, actor=ada, action=Action.assign.value,
                     from_status="new", to_status="new")  # fmt: skip
        single.commit()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert outcome["changed"] == 2
    with Session(pg_engine) as s:
        actions = s.exec(select(FeedbackEvent.action).order_by(col(FeedbackEvent.id))).all()
        assert actions.count(Action.assign.value) == 1
        assert verify_chain(session=s).ok
