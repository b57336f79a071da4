"""The state machine in review_queue.states is the one the services enforce: every decision is
accepted from exactly the statuses the table allows, and leads where the table says."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from review_queue.decisions import DecisionRefused, decide
from review_queue.states import (
    DECISIONS,
    OPEN_STATUSES,
    TRANSITIONS,
    UNDOABLE_ACTIONS,
    WAITING_STATUSES,
    Action,
    Status,
    allowed_actions,
    past_tense,
)
from review_queue.types import utcnow
from tests.helpers.queue_fixtures import add_finding, add_people

REPO = Path(__file__).resolve().parents[2]


def _kwargs(action: Action, assignee: int) -> dict[str, object]:
    if action is Action.dismiss:
        return {"reason": "expected"}
    if action is Action.snooze:
        return {"until": utcnow() + timedelta(days=3)}
    if action is Action.assign:
        return {"assignee_id": assignee}
    return {}


@pytest.mark.parametrize("status", list(Status))
def test_each_decision_is_accepted_exactly_where_the_table_allows(
    session: Session, status: Status
) -> None:
    people = add_people(session)
    ada, bo = people["ada"], people["bo"]
    for n, action in enumerate(DECISIONS):
        # a claim is released by its holder
        holder = {"assignee_id": ada.id} if action is Action.release else {}
        finding = add_finding(session, n, status=status.value, **holder)
        assert finding.id is not None
        kwargs = _kwargs(action, bo.id or 0)
        if action in allowed_actions(status):
            done = decide(
                session=session, actor=ada, finding_id=finding.id, action=action, **kwargs
            )
            target = TRANSITIONS[action][1]
            if target is not None:
                assert done.finding.status == target.value, (status, action)
        else:
            with pytest.raises(DecisionRefused):
                decide(session=session, actor=ada, finding_id=finding.id, action=action, **kwargs)
        session.rollback()


def test_the_groups_of_statuses_and_actions_hang_together() -> None:
    assert set(WAITING_STATUSES) < set(OPEN_STATUSES)
    assert Status.snoozed not in OPEN_STATUSES
    assert allowed_actions(Status.snoozed) == ()
    assert set(DECISIONS) == UNDOABLE_ACTIONS
    assert not {Action.propose, Action.report, Action.regression, Action.wake} & UNDOABLE_ACTIONS
    assert past_tense(Action.snooze) == "snoozed" and past_tense("something") == "something"


def test_every_action_written_to_the_log_is_an_action_of_the_state_machine() -> None:
    """Each ``append_event(action=...)`` in the services names a member of ``Action``."""
    written: set[str] = set()
    for folder in ("review_queue", "app"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (
                    isinstance(node, ast.Call) and getattr(node.func, "id", "") == "append_event"
                ):
                    continue
                for kw in node.keywords:
                    if kw.arg == "action":
                        written.add(ast.unparse(kw.value))
    assert written, "no append_event call found"
    for expression in written:
        # either Action.<member>.value, or a variable holding one (checked by the tests above)
        if expression.startswith("Action."):
            member = expression.split(".")[1]
            assert member in Action.__members__, expression
        else:
            assert not expression.startswith(("'", '"')), f"bare string action {expression}"
