"""Retraining the priority model from the feedback log, its promotion gate, and promotion."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sqlmodel import Session, col, func, select

from app.core.errors import UserError
from app.learning.frames import decided_frame
from app.learning.model_store import (
    KIND,
    ModelFileRefused,
    list_versions,
    promoted_version,
    save_model,
    usable_model,
)
from app.learning.ranking import queue_priorities, write_priorities
from models.learning.priority import (
    DEFAULT_EXPLORATION_SHARE,
    DEFAULT_K,
    NotEnoughDecisions,
    PriorityModel,
    combined_priority,
    judge,
    time_split,
)
from models.taxonomy import base_priorities
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.tables import ModelVersion
from review_queue.types import utcnow

logger = logging.getLogger(__name__)

DEFAULT_HOLDOUT_SHARE = 0.25


class NotEnoughToTrain(UserError):
    """The feedback log does not yet hold enough decisions (of both kinds) to train on."""


@dataclass(frozen=True)
class RetrainResult:
    """What ``retrain`` did: the version written, whether it was promoted, and why."""

    version: ModelVersion
    promoted: bool
    reason: str
    rescored: int


# ---------------------------------------------------------------- training and the gate
def _next_version(session: Session, now: datetime) -> str:
    count = session.exec(
        select(func.count()).select_from(ModelVersion).where(col(ModelVersion.kind) == KIND)
    ).one()
    return f"{int(count) + 1}-{now:%Y%m%dT%H%M%S}"


@dataclass
class RetrainPlan:
    """A trained candidate and its held-out figures, computed from a read of the log; nothing
    written yet. ``priorities`` holds the queue's new priorities when the gate promotes it."""

    final: PriorityModel
    training_size: int
    metrics: dict[str, Any]
    promote: bool
    reason: str
    newest_version_id: int | None
    priorities: list[dict[str, Any]] | None = None


def _plan_retrain(
    *,
    session: Session,
    actor: Actor,
    k: int = DEFAULT_K,
    holdout_share: float = DEFAULT_HOLDOUT_SHARE,
    exploration_share: float = DEFAULT_EXPLORATION_SHARE,
    home: Path | None = None,
) -> RetrainPlan:
    """Everything a retraining computes, reading only: on SQLite it runs without the write lock,
    so reviewers' decisions never wait behind model fitting. ``_apply_retrain`` then writes."""
    require_role(actor, ADMIN_ONLY, "retraining models")
    decided = decided_frame(session=session)
    if len(decided) < 8:
        raise NotEnoughToTrain(
            f"retraining needs at least 8 decided findings; the log has {len(decided)}"
        )
    train, held = time_split(decided, holdout_share)
    try:
        trial = PriorityModel().fit(train)
        final = PriorityModel().fit(decided)
    except NotEnoughDecisions as exc:
        raise NotEnoughToTrain(f"cannot retrain yet: {exc}") from None
    y = held["confirmed"].to_numpy()
    cand_prob = trial.predict_proba(held, at=held["decided_at"])
    cand = combined_priority(cand_prob, held["score"], held["severity"])
    current_row = promoted_version(session=session)
    current_label = "base priority (score and severity)"
    cur_prob: np.ndarray | None = None
    cur = base_priorities(held["score"].to_numpy(), held["severity"])
    current = None
    if current_row is not None:
        try:
            current = usable_model(session=session, row=current_row, home=home)
        except ModelFileRefused as exc:  # a refused file must not block the way out of it
            current_label = f"base priority (model {current_row.version} refused: {exc})"
    if current is not None and current_row is not None:
        cur_prob = current.predict_proba(held, at=held["decided_at"])
        cur = combined_priority(cur_prob, held["score"], held["severity"])
        current_label = f"model {current_row.version}"
    # With fewer held-out decisions than k, precision at k is the base rate for any ranking:
    # judge the top half of what is held out instead (recorded as k_evaluated).
    k_eval = min(k, max(1, len(held) // 2))
    gate = judge(y, cand, cur, k=k_eval, candidate_prob=cand_prob, current_prob=cur_prob)
    metrics = {
        "k": k,
        "k_evaluated": k_eval,
        "holdout_size": gate.holdout_size,
        "train_size_for_gate": len(train),
        "precision_at_k": gate.candidate_precision,
        "current_precision_at_k": gate.current_precision,
        "brier": gate.candidate_brier,
        "current_brier": None if np.isnan(gate.current_brier) else gate.current_brier,
        "compared_with": current_label,
        "gate": gate.reason,
        "trained_by": actor.name,
    }
    newest = session.exec(
        select(func.max(ModelVersion.id)).where(col(ModelVersion.kind) == KIND)
    ).one()
    plan = RetrainPlan(final, len(decided), metrics, gate.promote, gate.reason, newest)
    if gate.promote:
        plan.priorities = queue_priorities(
            session=session, model=final, exploration_share=exploration_share, k=k
        )
    return plan


def _apply_retrain(
    *,
    session: Session,
    plan: RetrainPlan,
    actor: Actor,
    home: Path | None = None,
    now: datetime | None = None,
) -> RetrainResult:
    """Write a planned retraining: the model file, its version row and, when the gate promoted
    it, the promotion and the queue's priorities. A few short statements."""
    require_role(actor, ADMIN_ONLY, "retraining models")
    now = now or utcnow()
    version = _next_version(session, now)
    path, digest = save_model(plan.final, version=version, home=home)
    row = ModelVersion(
        kind=KIND,
        version=version,
        status="candidate",
        created_at=now,
        training_size=plan.training_size,
        metrics=plan.metrics,
        artifact_path=path,
        artifact_sha256=digest,
        sklearn_version=sklearn.__version__,
    )
    session.add(row)
    session.flush()
    rescored = 0
    if plan.promote:
        _mark_promoted(session=session, row=row, by=f"gate ({actor.name})", now=now)
        rescored = write_priorities(session=session, params=plan.priorities or [])
    return RetrainResult(version=row, promoted=plan.promote, reason=plan.reason, rescored=rescored)


def retrain(
    *,
    session: Session,
    actor: Actor,
    k: int = DEFAULT_K,
    holdout_share: float = DEFAULT_HOLDOUT_SHARE,
    exploration_share: float = DEFAULT_EXPLORATION_SHARE,
    home: Path | None = None,
    now: datetime | None = None,
) -> RetrainResult:
    """Train a candidate from the feedback log and promote it only if it beats the current
    ranking on the latest decisions it did not train on (precision at ``k``); admins only."""
    plan = _plan_retrain(
        session=session, actor=actor, k=k, holdout_share=holdout_share,
        exploration_share=exploration_share, home=home,
    )  # fmt: skip
    return _apply_retrain(session=session, plan=plan, actor=actor, home=home, now=now)


def _mark_promoted(*, session: Session, row: ModelVersion, by: str, now: datetime) -> None:
    for other in session.exec(
        select(ModelVersion).where(
            col(ModelVersion.kind) == KIND, col(ModelVersion.status) == "promoted"
        )
    ):
        if other.id != row.id:
            other.status = "retired"
            session.add(other)
    row.status = "promoted"
    row.promoted_at = now
    row.promoted_by = by
    session.add(row)
    session.flush()


def promote(
    *,
    session: Session,
    actor: Actor,
    version: str,
    exploration_share: float = DEFAULT_EXPLORATION_SHARE,
    home: Path | None = None,
    now: datetime | None = None,
) -> int:
    """Promote any stored version by hand (this is also the rollback); admins only.

    Returns how many open findings were rescored.
    """
    require_role(actor, ADMIN_ONLY, "promoting models")
    row = session.exec(
        select(ModelVersion).where(
            col(ModelVersion.kind) == KIND, col(ModelVersion.version) == version
        )
    ).first()
    if row is None:
        known = ", ".join(v.version for v in list_versions(session=session)) or "none"
        raise UserError(f"no priority model version {version!r} (known: {known})")
    model = usable_model(session=session, row=row, home=home)
    params = queue_priorities(session=session, model=model, exploration_share=exploration_share)
    _mark_promoted(session=session, row=row, by=actor.name, now=now or utcnow())
    return write_priorities(session=session, params=params)
