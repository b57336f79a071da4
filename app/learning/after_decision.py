"""After a decision: retraining when due, re-ranking when an anomaly model's finding was decided.

The learning step runs after the decision's own transaction has committed, so a decision is
never lost or delayed by a retraining problem (which is logged, not raised)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from app.core.db import session_scope
from app.core.settings import get_settings
from app.learning.discovery import model_detector_names
from app.learning.model_store import KIND, ModelFileRefused, promoted_version, usable_model
from app.learning.ranking import queue_priorities, write_priorities
from app.learning.retraining import (
    NotEnoughToTrain,
    RetrainPlan,
    RetrainResult,
    _apply_retrain,
    _plan_retrain,
)
from review_queue.decisions import BulkResult, Decision, bulk_decide, decide
from review_queue.feedback_log import standing_verdicts
from review_queue.findings import detectors_of
from review_queue.permissions import SYSTEM, Actor
from review_queue.states import LABEL_ACTIONS
from review_queue.tables import FeedbackEvent, Finding, ModelVersion

logger = logging.getLogger(__name__)


# Key of the PostgreSQL advisory lock that serialises learning steps' writes across processes.
LEARNING_LOCK = 0x6761706465736B


@dataclass
class LearningStep:
    """What a decision teaches, computed from a read: a retraining when one is due, and the
    queue's new priorities when the decided finding came from an anomaly model."""

    retrain: RetrainPlan | None = None
    priorities: list[dict[str, Any]] | None = None


def plan_learning(
    *, session: Session, finding_id: int, every: int | None = None, home: Path | None = None
) -> LearningStep:
    """The learning after a decision on ``finding_id``, reading only (on SQLite without the
    write lock: fitting models must not hold up other reviewers' decisions)."""
    step = LearningStep(retrain=_retraining_plan_if_due(session=session, every=every, home=home))
    if step.retrain is not None and step.retrain.promote:
        return step  # the promotion re-ranks the queue
    finding = session.get(Finding, finding_id)
    if finding is not None and detectors_of(finding.detector) & model_detector_names():
        row = promoted_version(session=session)
        model = None
        if row is not None:
            try:
                model = usable_model(session=session, row=row, home=home)
            except ModelFileRefused as exc:
                logger.warning("re-ranking without the priority model: %s", exc)
        step.priorities = queue_priorities(session=session, model=model)
    return step


def apply_learning(
    *, session: Session, step: LearningStep, home: Path | None = None
) -> RetrainResult | None:
    """Write a planned learning step in one short transaction. A retraining is dropped when
    another one was written since it was planned (many reviewers past the threshold at once)."""
    if session.get_bind().dialect.name == "postgresql":
        # Serialise the writers of model versions across processes (SQLite's BEGIN IMMEDIATE
        # already does): the version check below then sees every earlier one.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEARNING_LOCK})
    result = None
    if step.retrain is not None:
        newest = session.exec(
            select(func.max(ModelVersion.id)).where(col(ModelVersion.kind) == KIND)
        ).one()
        if newest == step.retrain.newest_version_id:
            result = _apply_retrain(session=session, plan=step.retrain, actor=SYSTEM, home=home)
    if step.priorities is not None and not (result is not None and result.promoted):
        write_priorities(session=session, params=step.priorities)
    return result


# ---------------------------------------------------------------- retraining by itself
def retrain_every() -> int:
    """N of 'retrain after every N new decisions' (``GAPDESK_RETRAIN_EVERY``, 0 turns it off)."""
    return get_settings().retrain_every


def decisions_since_last_training(*, session: Session) -> int:
    """Confirm/dismiss decisions logged after the newest priority model version was made, and
    not undone since (an undone decision teaches the models nothing)."""
    newest = session.exec(
        select(func.max(ModelVersion.created_at)).where(col(ModelVersion.kind) == KIND)
    ).one()
    query = select(func.count()).select_from(FeedbackEvent).where(*standing_verdicts())
    if newest is not None:
        query = query.where(col(FeedbackEvent.at) > newest)
    return int(session.exec(query).one())


def _retraining_due(*, session: Session, every: int | None) -> bool:
    every = retrain_every() if every is None else every
    return every > 0 and decisions_since_last_training(session=session) >= every


def _retraining_plan_if_due(
    *, session: Session, every: int | None, home: Path | None
) -> RetrainPlan | None:
    """A planned retraining (as the system) when ``every`` new decisions have arrived since the
    last training. Too few decisions is not an error; a damaged model file is logged, not
    raised: a reviewer's decision must never fail because of it (``gapdesk retrain`` run by
    hand reports the same refusal to an admin)."""
    if not _retraining_due(session=session, every=every):
        return None
    try:
        return _plan_retrain(session=session, actor=SYSTEM, home=home)
    except NotEnoughToTrain:
        return None
    except ModelFileRefused as exc:
        logger.warning("automatic retraining skipped: %s", exc)
        return None


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
                logger.exception("learning after the decision on finding #%s failed", finding_id)
    finally:
        _one_at_a_time.release()


def decide_and_learn(
    *, engine: Engine, actor: Actor, finding_id: int, background: bool = False, **kwargs: Any
) -> Decision:
    """One decision (see review_queue.decisions.decide), then retraining/re-ranking if due.

    With ``background`` the learning runs in a thread of its own and the decision returns at
    once: a person at the keyboard sees the confirmation without waiting for a model to be
    fitted (it takes hundreds of milliseconds), and the next ranking picks the result up.
    """
    with session_scope(engine) as session:
        decision = decide(session=session, actor=actor, finding_id=finding_id, **kwargs)
    if not decision.repeated and kwargs.get("action") in LABEL_ACTIONS:
        if background:
            threading.Thread(
                target=_learn, args=(engine, [finding_id]), name="gapdesk-learning", daemon=True
            ).start()
        else:
            _learn(engine, [finding_id])
    return decision


def bulk_decide_and_learn(
    *, engine: Engine, actor: Actor, finding_ids: Iterable[int], **kwargs: Any
) -> BulkResult:
    """A bulk decision in one transaction, then one learning step (it retrains when due)."""
    with session_scope(engine) as session:
        result = bulk_decide(session=session, actor=actor, finding_ids=finding_ids, **kwargs)
    if result.changed and kwargs.get("action") in LABEL_ACTIONS:
        _learn(engine, result.changed[-1:])
    return result
