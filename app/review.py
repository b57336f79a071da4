"""Decisions as the app makes them: decided and committed, then the models learn from them.

The learning step runs after the decision's own transaction has committed, so a decision is
never lost or delayed by a retraining problem (which is logged, not raised).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Engine

from app.core.db import session_scope
from app.learning import apply_learning, plan_learning
from review_queue.decisions import BulkResult, Decision, bulk_decide, decide
from review_queue.permissions import Actor

log = logging.getLogger(__name__)


# One learning step at a time in this process. With many reviewers, every decision past the
# retraining threshold started its own retraining of the same log (CPU-bound, and on SQLite
# holding the write lock) until one of them committed: 20 reviewers made 26 model versions in
# 200 decisions and other people's decisions waited behind them. A decision that finds a step
# running leaves the learning to it and to the next ones (each reads the whole feedback log).
_one_at_a_time = threading.Lock()


def _learn(engine: Engine, finding_ids: Iterable[int]) -> None:
    if not _one_at_a_time.acquire(blocking=False):
        return
    try:
        for finding_id in finding_ids:
            try:
                # Fit and score from a read (on SQLite without the write lock), then write the
                # results in a short transaction: other reviewers' decisions never wait on it.
                with session_scope(engine, read_only=True) as session:
                    step = plan_learning(session=session, finding_id=finding_id)
                if step.retrain is not None or step.priorities is not None:
                    with session_scope(engine) as session:
                        apply_learning(session=session, step=step)
            except Exception:  # learning must never undo or block a person's decision
                log.exception("learning after the decision on finding #%s failed", finding_id)
    finally:
        _one_at_a_time.release()


def decide_and_learn(*, engine: Engine, actor: Actor, finding_id: int, **kwargs: Any) -> Decision:
    """One decision (see review_queue.decisions.decide), then retraining/re-ranking if due."""
    with session_scope(engine) as session:
        decision = decide(session=session, actor=actor, finding_id=finding_id, **kwargs)
    if not decision.repeated and kwargs.get("action") in ("confirm", "dismiss"):
        _learn(engine, [finding_id])
    return decision


def bulk_decide_and_learn(
    *, engine: Engine, actor: Actor, finding_ids: Iterable[int], **kwargs: Any
) -> BulkResult:
    """A bulk decision in one transaction, then one learning step (it retrains when due)."""
    with session_scope(engine) as session:
        result = bulk_decide(session=session, actor=actor, finding_ids=finding_ids, **kwargs)
    if result.changed and kwargs.get("action") in ("confirm", "dismiss"):
        _learn(engine, result.changed[-1:])
    return result
