"""Learning from decisions, the database side: retrain, gate, promote, roll back, rescore the
queue, store model files safely, and retrain by itself after every N new decisions.

The learning itself is pure (``models.feedback``); this module reads the feedback log, writes
``ModelVersion`` rows and model files under ``<home>/models``, and rewrites open findings'
priorities when a model is promoted. Model files are joblib pickles, so they are only ever loaded
after their SHA-256 matches the one recorded in the database and only when the scikit-learn
version that wrote them is the one running; a file from another version is retrained instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sqlalchemy import text, update
from sqlmodel import Session, col, func, select

from app.core.errors import UserError
from app.core.records import DetectorConfig
from app.core.settings import get_settings
from app.detection.configuration import configure_detector, detector_settings
from models.detectors.registry import REGISTRY
from models.feedback.aad import ActiveAnomalyDetector
from models.feedback.ledger import (
    ExceptionSuggestion,
    ThresholdSuggestion,
    exception_suggestions,
    rule_ledger,
    threshold_suggestions,
)
from models.feedback.priority import (
    DEFAULT_EXPLORATION_SHARE,
    DEFAULT_K,
    NotEnoughDecisions,
    PriorityModel,
    base_priority,
    combined_priority,
    explore_queue,
    judge,
    time_split,
)
from review_queue.permissions import ADMIN_ONLY, SYSTEM, Actor, require_role
from review_queue.tables import FeedbackEvent, Finding, ModelVersion, Status
from review_queue.types import utcnow

logger = logging.getLogger(__name__)

KIND = "priority"
DEFAULT_RETRAIN_EVERY = 25
RETRAIN_EVERY_ENV = "GAPDESK_RETRAIN_EVERY"
DEFAULT_HOLDOUT_SHARE = 0.25
# Key of the PostgreSQL advisory lock that serialises learning steps' writes across processes.
LEARNING_LOCK = 0x6761706465736B
# Findings still waiting for a decision: these are the ones whose priority orders the queue.
QUEUE_STATUSES = (Status.new.value, Status.in_review.value)


class ModelFileRefused(UserError):
    """A model file is missing or fails its checksum: it is never loaded."""


class NotEnoughToTrain(UserError):
    """The feedback log does not yet hold enough decisions (of both kinds) to train on."""


class ModelOutdated(Exception):
    """A model file was written by another scikit-learn version: retrain, never load it."""


@dataclass(frozen=True)
class RetrainResult:
    """What ``retrain`` did: the version written, whether it was promoted, and why."""

    version: ModelVersion
    promoted: bool
    reason: str
    rescored: int


# ---------------------------------------------------------------- reading the feedback log
def decided_frame(*, session: Session, until: datetime | None = None) -> pd.DataFrame:
    """One row per decided finding: its fields and its latest confirm/dismiss (undone ones are
    ignored), with ``decided_at`` and ``confirmed``."""
    undone = select(FeedbackEvent.undoes_event_id).where(
        col(FeedbackEvent.undoes_event_id).is_not(None)
    )
    query = (
        select(FeedbackEvent, Finding)
        .join(Finding, col(Finding.id) == col(FeedbackEvent.finding_id))
        .where(col(FeedbackEvent.action).in_(["confirm", "dismiss"]))
        .where(col(FeedbackEvent.id).not_in(undone))
        .order_by(col(FeedbackEvent.id))
    )
    if until is not None:
        query = query.where(col(FeedbackEvent.at) <= until)
    latest: dict[int, dict[str, Any]] = {}
    for event, finding in session.exec(query):
        latest[finding.id or 0] = {
            "finding_id": finding.id,
            "category": finding.category,
            "detector": finding.detector,
            "entity_key": finding.entity_key,
            "score": float(finding.score),
            "severity": finding.severity,
            "features": dict(finding.features or {}),
            "course_id": finding.course_id,
            "department": finding.department,
            "decided_at": pd.Timestamp(event.at),
            "confirmed": event.action == "confirm",
            "reason": event.reason,
        }
    columns = [
        "finding_id", "category", "detector", "entity_key", "score", "severity", "features",
        "course_id", "department", "decided_at", "confirmed", "reason",
    ]  # fmt: skip
    frame = pd.DataFrame(list(latest.values()), columns=columns)
    if len(frame):
        frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True)
    return frame


def open_frame(*, session: Session) -> pd.DataFrame:
    """The findings waiting in the queue, with the fields the priority model reads."""
    rows = session.exec(select(Finding).where(col(Finding.status).in_(QUEUE_STATUSES))).all()
    return pd.DataFrame(
        [
            {
                "finding_id": f.id,
                "category": f.category,
                "detector": f.detector,
                "entity_key": f.entity_key,
                "score": float(f.score),
                "severity": f.severity,
                "features": dict(f.features or {}),
                "course_id": f.course_id,
                "department": f.department,
                "priority": float(f.priority),
            }
            for f in rows
        ],
        columns=[
            "finding_id", "category", "detector", "entity_key", "score", "severity",
            "features", "course_id", "department", "priority",
        ],
    )  # fmt: skip


# ---------------------------------------------------------------- model files
def models_dir(home: Path | None = None) -> Path:
    """Where model files live: ``<home>/models``."""
    return (home or get_settings().home) / "models"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(model: PriorityModel, *, version: str, home: Path | None = None) -> tuple[str, str]:
    """Write a model file; returns its path and SHA-256 (recorded in the database)."""
    folder = models_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{KIND}-{version}.joblib"
    tmp = path.with_suffix(".tmp")
    joblib.dump({"model": model, "sklearn_version": sklearn.__version__}, tmp)
    os.replace(tmp, path)  # never leave a half-written file under the final name
    return str(path), sha256_of(path)


def load_model(row: ModelVersion) -> PriorityModel:
    """The model of a version row, after checking its scikit-learn version and its checksum."""
    if row.sklearn_version != sklearn.__version__:
        raise ModelOutdated(
            f"model {row.version} was made with scikit-learn {row.sklearn_version}, "
            f"this is {sklearn.__version__}"
        )
    path = Path(row.artifact_path or "")
    if not row.artifact_path or not path.is_file():
        raise ModelFileRefused(f"model {row.version}: file {path} is missing; run gapdesk retrain")
    found = sha256_of(path)
    if found != row.artifact_sha256:
        raise ModelFileRefused(
            f"model {row.version}: file {path} fails its checksum (recorded "
            f"{(row.artifact_sha256 or '')[:12]}…, found {found[:12]}…); refusing to load it — "
            "restore the file or run gapdesk retrain"
        )
    payload = joblib.load(path)
    return payload["model"]


def promoted_version(*, session: Session) -> ModelVersion | None:
    """The priority model the queue uses now (none before the first promotion)."""
    return session.exec(
        select(ModelVersion)
        .where(col(ModelVersion.kind) == KIND, col(ModelVersion.status) == "promoted")
        .order_by(col(ModelVersion.promoted_at).desc())
    ).first()


def list_versions(*, session: Session) -> list[ModelVersion]:
    """Every priority model version, newest first."""
    return list(
        session.exec(
            select(ModelVersion)
            .where(col(ModelVersion.kind) == KIND)
            .order_by(col(ModelVersion.id).desc())
        )
    )


def usable_model(*, session: Session, row: ModelVersion, home: Path | None = None) -> PriorityModel:
    """Load a version's model; one made by another scikit-learn version is retrained on the
    decisions it was trained on (up to its creation) and its file and checksum replaced."""
    try:
        return load_model(row)
    except ModelOutdated:
        decided = decided_frame(session=session, until=row.created_at)
        model = PriorityModel().fit(decided)
        row.artifact_path, row.artifact_sha256 = save_model(model, version=row.version, home=home)
        row.sklearn_version = sklearn.__version__
        row.metrics = {**(row.metrics or {}), "retrained_for_sklearn": sklearn.__version__}
        session.add(row)
        return model


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
    cur = base_priority(held["score"].to_numpy(), held["severity"])
    if current_row is not None:
        current = usable_model(session=session, row=current_row, home=home)
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


rollback = promote


def rescore_queue(
    *,
    session: Session,
    model: PriorityModel | None,
    exploration_share: float = DEFAULT_EXPLORATION_SHARE,
    k: int = DEFAULT_K,
) -> int:
    """Rewrite the priority of every finding waiting in the queue with ``model`` (``None``: the
    base priority), giving the exploration share of the top ``k`` to the least certain ones and
    marking them with ``features["exploration"] = 1``."""
    params = queue_priorities(
        session=session, model=model, exploration_share=exploration_share, k=k
    )
    return write_priorities(session=session, params=params)


def write_priorities(*, session: Session, params: list[dict[str, Any]]) -> int:
    """Write priorities computed by ``queue_priorities``: one executemany by primary key."""
    if params:
        session.execute(update(Finding), params)
    return len(params)


def queue_priorities(
    *,
    session: Session,
    model: PriorityModel | None,
    exploration_share: float = DEFAULT_EXPLORATION_SHARE,
    k: int = DEFAULT_K,
) -> list[dict[str, Any]]:
    """The new priority (and exploration mark) of every finding waiting in the queue; reads
    only."""
    frame = open_frame(session=session)
    if frame.empty:
        return []
    # Findings of model-based detectors are ranked by their leaf-reweighted anomaly score.
    learned = anomaly_feedback_scores(session=session)
    score = np.array(
        [
            learned.get(int(fid), s)
            for fid, s in zip(frame["finding_id"], frame["score"], strict=True)
        ]
    )
    if model is None:
        prob = np.full(len(frame), 0.5)
        priority = base_priority(score, frame["severity"])
        marked = np.zeros(len(frame), dtype=bool)
    else:
        prob = model.predict_proba(frame)
        priority = combined_priority(prob, score, frame["severity"])
        priority, marked = explore_queue(priority, prob, top_n=k, share=exploration_share)
    params = []
    for fid, value, feats, flag in zip(
        frame["finding_id"], priority, frame["features"], marked, strict=True
    ):
        features = {key: v for key, v in feats.items() if key != "exploration"}
        if flag:
            features["exploration"] = 1
        params.append({"id": int(fid), "priority": float(value), "features": features})
    return params


def queue_diff(
    *, session: Session, version: str, k: int = DEFAULT_K, home: Path | None = None
) -> dict[str, list[int]]:
    """Which open findings would enter and leave the top ``k`` if ``version`` were promoted."""
    row = session.exec(
        select(ModelVersion).where(
            col(ModelVersion.kind) == KIND, col(ModelVersion.version) == version
        )
    ).first()
    if row is None:
        raise UserError(f"no priority model version {version!r}")
    frame = open_frame(session=session)
    if frame.empty:
        return {"enter": [], "leave": []}
    model = usable_model(session=session, row=row, home=home)
    new = combined_priority(model.predict_proba(frame), frame["score"], frame["severity"])
    now_top = set(frame.sort_values("priority", ascending=False)["finding_id"].head(k))
    new_top = set(frame.assign(p=new).sort_values("p", ascending=False)["finding_id"].head(k))
    return {"enter": sorted(new_top - now_top), "leave": sorted(now_top - new_top)}


# ---------------------------------------------------------------- anomaly models learn from labels
def model_detector_names() -> set[str]:
    """Names of the detectors whose score is a learned anomaly score (``kind == "model"``)."""
    return {name for name, cls in REGISTRY.items() if getattr(cls, "kind", "rule") == "model"}


def anomaly_feedback_scores(
    *, session: Session, min_findings: int = 8, random_state: int = 0
) -> dict[int, float]:
    """Open findings of model-based detectors, rescored by active anomaly discovery.

    Per category, every finding those detectors proposed is an item described by its numeric
    features; an isolation forest over them, with leaf weights moved by the category's confirm
    and dismiss decisions (``models.feedback.aad``), gives each open finding a new score in
    [0, 1] (its rank among the category's items), which replaces the detector's score in the
    queue priority. Categories with fewer than ``min_findings`` findings keep their scores.
    """
    names = model_detector_names()
    findings = [f for f in session.exec(select(Finding)) if set(f.detector.split("+")) & names]
    if not findings:
        return {}
    decided = decided_frame(session=session)
    label_of = dict(zip(decided["finding_id"], decided["confirmed"], strict=True))
    out: dict[int, float] = {}
    by_category: dict[str, list[Finding]] = {}
    for f in findings:
        by_category.setdefault(f.category, []).append(f)
    for group in by_category.values():
        if len(group) < min_findings:
            continue
        table = pd.DataFrame([f.features or {} for f in group]).apply(
            pd.to_numeric, errors="coerce"
        )
        table = table.drop(columns=[c for c in table.columns if c == "exploration"])
        # Features most findings carry; a missing value is the category's typical one.
        table = table.loc[:, table.notna().mean() >= 0.5]
        if table.shape[1] == 0:
            continue
        X = table.fillna(table.median()).to_numpy(dtype=float)
        detector = ActiveAnomalyDetector(random_state=random_state).fit(X)
        labelled = [i for i, f in enumerate(group) if f.id in label_of]
        if labelled:
            detector.add_labels(labelled, [bool(label_of[group[i].id]) for i in labelled])
        ranks = np.empty(len(group))
        ranks[np.argsort(detector.score_samples(), kind="stable")] = np.arange(len(group))
        for f, r in zip(group, ranks, strict=True):
            if f.status in QUEUE_STATUSES and f.id is not None:
                out[f.id] = float(r / max(len(group) - 1, 1))
    return out


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
    if finding is not None and set(finding.detector.split("+")) & model_detector_names():
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


def after_decision(
    *, session: Session, finding_id: int, every: int | None = None, home: Path | None = None
) -> RetrainResult | None:
    """What the decision path calls once a decision is committed: retrain when due, otherwise
    re-rank the queue when the decided finding came from an anomaly model (its label moves
    the leaf weights at once). Returns the retraining result when one ran. In one session;
    ``app.review`` plans in a read-only one and writes in a short one."""
    step = plan_learning(session=session, finding_id=finding_id, every=every, home=home)
    return apply_learning(session=session, step=step, home=home)


# ---------------------------------------------------------------- retraining by itself
def retrain_every() -> int:
    """N of 'retrain after every N new decisions' (``GAPDESK_RETRAIN_EVERY``, 0 turns it off)."""
    raw = os.environ.get(RETRAIN_EVERY_ENV, str(DEFAULT_RETRAIN_EVERY))
    try:
        return max(0, int(raw))
    except ValueError:
        raise UserError(f"{RETRAIN_EVERY_ENV} must be a whole number, not {raw!r}") from None


def decisions_since_last_training(*, session: Session) -> int:
    """Confirm/dismiss decisions logged after the newest priority model version was made."""
    newest = session.exec(
        select(func.max(ModelVersion.created_at)).where(col(ModelVersion.kind) == KIND)
    ).one()
    query = (
        select(func.count())
        .select_from(FeedbackEvent)
        .where(col(FeedbackEvent.action).in_(["confirm", "dismiss"]))
    )
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


def retrain_if_due(
    *, session: Session, every: int | None = None, home: Path | None = None
) -> RetrainResult | None:
    """Retrain (as the system) when ``every`` new decisions have arrived since the last
    training; meant to be called right after a decision has been committed, in its own
    transaction."""
    plan = _retraining_plan_if_due(session=session, every=every, home=home)
    if plan is None:
        return None
    return _apply_retrain(session=session, plan=plan, actor=SYSTEM, home=home)


# ---------------------------------------------------------------- the rule ledger
Suggestion = ThresholdSuggestion | ExceptionSuggestion


def rule_ledger_tables(
    *, session: Session, actor: Actor, now: datetime | None = None
) -> tuple[pd.DataFrame, list[Suggestion]]:
    """The per-detector ledger, and its threshold and exception suggestions, from the queue's
    tables; admins only."""
    require_role(actor, ADMIN_ONLY, "reading the rule ledger")
    undone = select(FeedbackEvent.undoes_event_id).where(
        col(FeedbackEvent.undoes_event_id).is_not(None)
    )
    findings = pd.DataFrame(
        [
            {
                "finding_id": f.id,
                "detector": f.detector,
                "features": dict(f.features or {}),
                "course_id": f.course_id,
                "department": f.department,
            }
            for f in session.exec(select(Finding))
        ],
        columns=["finding_id", "detector", "features", "course_id", "department"],
    )
    events = pd.DataFrame(
        [
            {"finding_id": e.finding_id, "action": e.action, "reason": e.reason, "at": e.at}
            for e in session.exec(
                select(FeedbackEvent)
                .where(col(FeedbackEvent.action).in_(["confirm", "dismiss"]))
                .where(col(FeedbackEvent.id).not_in(undone))
            )
        ],
        columns=["finding_id", "action", "reason", "at"],
    )
    when = pd.Timestamp(now) if now is not None else None
    suggestions: list[Suggestion] = [
        *exception_suggestions(findings, events),
        *threshold_suggestions(findings, events),
    ]
    # Most dismissals removed first, then fewest confirmations lost (stable within equals);
    # a condition already in force is not suggested again.
    in_force = {s.name: s.require for s in detector_settings(session=session)}
    suggestions = [s for s in suggestions if s.condition() not in in_force.get(s.detector, ())]
    suggestions.sort(key=lambda s: (-s.removes_dismissed, s.removes_confirmed))
    return rule_ledger(findings, events, now=when), suggestions


def apply_suggestion(*, session: Session, actor: Actor, suggestion: Suggestion) -> DetectorConfig:
    """Apply a ledger suggestion as the detector's next configuration version (admins only): its
    condition joins the ones in force, replacing one on the same feature and direction (or the
    same place)."""
    require_role(actor, ADMIN_ONLY, "configuring detectors")
    new = suggestion.condition()
    setting = next(
        (s for s in detector_settings(session=session) if s.name == suggestion.detector), None
    )
    if setting is None:
        raise UserError(f"no detector named {suggestion.detector!r}")

    def target(rule: dict[str, Any]) -> tuple[Any, ...]:
        if "place" in rule:
            return ("place", rule["place"], rule["value"])
        return ("feature", rule["feature"], rule["op"])

    rules = [r for r in setting.require if target(r) != target(new)] + [new]
    return configure_detector(
        session=session, actor=actor, name=suggestion.detector, require=rules,
        note=f"from the rule ledger: {suggestion.describe()}",
    )  # fmt: skip
