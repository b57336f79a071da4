"""Learning from decisions on both databases: retrain, gate, promote, rollback, model files,
exploration, retraining by itself, and the active-discovery bench through the real queue."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.learning.after_decision import (
    apply_learning,
    decisions_since_last_training,
    plan_learning,
)
from app.learning.discovery_bench import bench_discovery
from app.learning.model_store import ModelFileRefused, list_versions, promoted_version
from app.learning.retraining import NotEnoughToTrain, RetrainResult, promote, retrain
from review_queue.decisions import current_model_version, decide, undo
from review_queue.permissions import Actor
from review_queue.states import Status
from review_queue.tables import Finding, ModelVersion
from review_queue.types import utcnow
from tests.conftest import SHARED
from tests.helpers.queue_fixtures import add_finding, add_people

TOY2 = SHARED / "data" / "anomaly" / "toy2.csv"


def _decided_queue(
    session: Session, admin: Actor, *, decided: int = 60, waiting: int = 20, seed: int = 0
) -> None:
    """Findings a reviewer confirms exactly when ``late_share`` > 0.5 (the score does not say),
    decided one every few hours in the past, plus some still waiting in the queue."""
    rng = np.random.default_rng(seed)
    start = utcnow() - timedelta(days=30)
    for n in range(decided + waiting):
        late = float(rng.uniform(0, 1))
        finding = add_finding(
            session, n, score=float(rng.uniform(0.3, 0.9)), features={"late_share": late}
        )
        if n < decided:
            assert finding.id is not None
            decide(
                session=session, actor=admin, finding_id=finding.id,
                action="confirm" if late > 0.5 else "dismiss",
                reason=None if late > 0.5 else "false_positive_rule",
                now=start + timedelta(hours=6 * n),
            )  # fmt: skip
    session.commit()


def _learn(session: Session, *, every: int, finding_id: int | None = None) -> RetrainResult | None:
    """The learning step the decision path runs after a decision (planned, then applied)."""
    if finding_id is None:
        finding_id = int(session.exec(select(Finding.id)).first() or 0)
    step = plan_learning(session=session, finding_id=finding_id, every=every)
    return apply_learning(session=session, step=step)


def test_retrain_promotes_a_better_model_and_rescores_the_queue(
    session: Session, gapdesk_home: Path
) -> None:
    admin = add_people(session)["ada"]
    _decided_queue(session, admin)
    result = retrain(session=session, actor=admin, k=10)
    session.commit()
    assert result.promoted, result.reason
    row = result.version
    assert (row.status, row.training_size) == ("promoted", 60)
    assert row.promoted_by == "gate (ada)"
    assert row.metrics["precision_at_k"] > row.metrics["current_precision_at_k"]
    assert row.sklearn_version and len(row.artifact_sha256 or "") == 64
    assert Path(row.artifact_path or "").is_relative_to(gapdesk_home / "models")
    # Later decisions record which model ranked the queue.
    assert current_model_version(session=session) == row.version
    waiting = session.exec(select(Finding).where(col(Finding.status) == Status.new.value)).all()
    assert result.rescored == len(waiting) == 20
    # The learned priority puts the findings reviewers would confirm first.
    ranked = sorted(waiting, key=lambda f: -f.priority)
    top_late = [f.features["late_share"] for f in ranked[:8] if "exploration" not in f.features]
    assert np.mean(top_late) > 0.5
    # Exploration: 10% of the top 10 (k) goes to the least certain, marked as such.
    assert sum("exploration" in f.features for f in waiting) == 1


def test_gate_keeps_a_model_that_does_not_beat_the_current_as_candidate(
    session: Session, gapdesk_home: Path
) -> None:
    admin = add_people(session)["ada"]
    _decided_queue(session, admin)
    first = retrain(session=session, actor=admin, k=10)
    second = retrain(session=session, actor=admin, k=10)
    session.commit()
    assert first.promoted and not second.promoted
    assert second.version.status == "candidate"
    assert "does not beat" in second.reason
    assert promoted_version(session=session) == first.version
    assert second.version.metrics["compared_with"] == f"model {first.version.version}"


def test_rollback_to_an_earlier_version(session: Session, gapdesk_home: Path) -> None:
    admin = add_people(session)["ada"]
    _decided_queue(session, admin)
    first = retrain(session=session, actor=admin, k=10).version
    second = retrain(session=session, actor=admin, k=10).version
    promote(session=session, actor=admin, version=second.version)
    session.commit()
    assert current_model_version(session=session) == second.version
    promote(session=session, actor=admin, version=first.version)
    session.commit()
    statuses = {v.version: v.status for v in list_versions(session=session)}
    assert statuses == {first.version: "promoted", second.version: "retired"}
    assert current_model_version(session=session) == first.version


def test_a_model_file_failing_its_checksum_is_refused(session: Session, gapdesk_home: Path) -> None:
    admin = add_people(session)["ada"]
    _decided_queue(session, admin)
    row = retrain(session=session, actor=admin, k=10).version
    session.commit()
    Path(row.artifact_path or "").write_bytes(b"not the model that was trained")
    with pytest.raises(ModelFileRefused, match="fails its checksum"):
        promote(session=session, actor=admin, version=row.version)


def test_a_model_from_another_sklearn_version_is_retrained_not_loaded(
    session: Session, gapdesk_home: Path
) -> None:
    admin = add_people(session)["ada"]
    _decided_queue(session, admin)
    row = retrain(session=session, actor=admin, k=10).version
    row.sklearn_version = "0.1.0"
    # Even a file that would not load proves it is never opened: it is rewritten.
    Path(row.artifact_path or "").write_bytes(b"pickle from another age")
    session.add(row)
    session.commit()
    promote(session=session, actor=admin, version=row.version)
    session.commit()
    stored = session.exec(select(ModelVersion).where(col(ModelVersion.id) == row.id)).one()
    assert stored.sklearn_version != "0.1.0"
    assert stored.metrics["retrained_for_sklearn"] == stored.sklearn_version
    assert Path(stored.artifact_path or "").read_bytes() != b"pickle from another age"


def test_retraining_needs_an_admin_and_enough_decisions(
    session: Session, gapdesk_home: Path
) -> None:
    people = add_people(session)
    with pytest.raises(PermissionError, match="admin"):
        retrain(session=session, actor=people["ivy"])
    with pytest.raises(NotEnoughToTrain, match="at least 8"):
        retrain(session=session, actor=people["ada"])


def test_retrains_by_itself_after_every_n_decisions(session: Session, gapdesk_home: Path) -> None:
    admin = add_people(session)["ada"]
    _decided_queue(session, admin, decided=40, waiting=10)
    assert _learn(session, every=5) is not None
    session.commit()
    assert _learn(session, every=5) is None  # nothing new since
    waiting = session.exec(select(Finding).where(col(Finding.status) == Status.new.value)).all()
    for finding in waiting[:5]:
        assert finding.id is not None
        decide(session=session, actor=admin, finding_id=finding.id, action="confirm")
    session.commit()
    assert _learn(session, every=6) is None
    again = _learn(session, every=5)
    assert again is not None and again.version.training_size == 45


def test_an_undone_decision_does_not_count_towards_retraining(
    session: Session, gapdesk_home: Path
) -> None:
    admin = add_people(session)["ada"]
    _decided_queue(session, admin, decided=40, waiting=4)
    assert _learn(session, every=5) is not None
    session.commit()
    waiting = session.exec(select(Finding).where(col(Finding.status) == Status.new.value)).all()
    for finding in waiting:
        done = decide(session=session, actor=admin, finding_id=int(finding.id or 0),
                      action="confirm")  # fmt: skip
        session.commit()
        undo(session=session, actor=admin, event_id=int(done.event.id or 0))
        session.commit()
    assert decisions_since_last_training(session=session) == 0
    assert _learn(session, every=4) is None


@pytest.mark.skipif(not TOY2.exists(), reason="shared anomaly data not present")
def test_bench_feedback_on_toy2_through_the_queue(tmp_path: Path) -> None:
    lines: list[str] = []
    [run] = bench_discovery(TOY2, budget=15, runs=1, echo=lines.append)
    assert run.found >= run.plain and run.found > 0
    assert lines[-1].startswith("toy2 @ 15, mean of 1: found")


def test_a_damaged_model_file_never_breaks_the_decision_path(
    session: Session, gapdesk_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    admin = add_people(session)["ada"]
    _decided_queue(session, admin, decided=40, waiting=5)
    row = retrain(session=session, actor=admin, k=10).version
    promote(session=session, actor=admin, version=row.version)
    session.commit()
    Path(row.artifact_path or "").write_bytes(b"tampered")
    waiting = session.exec(select(Finding).where(col(Finding.status) == Status.new.value)).all()
    for finding in waiting:
        decide(session=session, actor=admin, finding_id=int(finding.id or 0), action="confirm")
    session.commit()
    learned = _learn(session, every=5)
    # The refused file is never loaded, and it does not block the way out: the retrained model
    # is judged against the base priority instead (issue 15.5).
    assert learned is not None
    assert "fails its checksum" in learned.version.metrics["compared_with"]
    with pytest.raises(ModelFileRefused):
        promote(session=session, actor=admin, version=row.version)


def test_decisions_on_anomaly_findings_rerank_their_category(
    session: Session, gapdesk_home: Path
) -> None:
    admin = add_people(session)["ada"]
    rng = np.random.default_rng(0)
    left, right = [], []
    # Course-weeks from the anomaly model: a normal mass and two equally odd groups.
    for n in range(70):
        group = "left" if n < 10 else "right" if n < 20 else "mass"
        centre = {"left": (-6.0, 0.0), "right": (6.0, 0.0), "mass": (0.0, 0.0)}[group]
        spread = 1.0 if group == "mass" else 0.3
        x, z = rng.normal(centre, spread)
        finding = add_finding(
            session, n, category="engagement_anomaly", detector="engagement_course_week",
            entity_key=f"course=C{n}|week=2026-W40", score=0.8,
            features={"z_failure_share": float(x), "z_completion_rate": float(z)},
        )  # fmt: skip
        (left if group == "left" else right if group == "right" else []).append(finding)
    for finding, action in [(f, "confirm") for f in left[:3]] + [(f, "dismiss") for f in right[:3]]:
        decide(
            session=session, actor=admin, finding_id=int(finding.id or 0), action=action,
            reason="false_positive_rule" if action == "dismiss" else None,
        )  # fmt: skip
        session.commit()
        assert _learn(session, every=0, finding_id=int(finding.id or 0)) is None
    session.commit()
    priority = {
        f.id: f.priority
        for f in session.exec(select(Finding).where(col(Finding.status) == Status.new.value))
    }
    # The confirmed region now outranks the dismissed one (same detector score before).
    assert np.mean([priority[f.id] for f in left[3:]]) > np.mean(
        [priority[f.id] for f in right[3:]]
    )


def test_learning_is_planned_without_the_write_lock_and_written_once(
    db: Engine, gapdesk_home: Path
) -> None:
    """The learning step fits its models from a read: on SQLite it runs while another writer
    holds the write lock. Two steps planned from the same log write one model version."""
    from app.core.db import session_scope
    from app.learning.after_decision import apply_learning, plan_learning

    with Session(db) as s:
        admin = add_people(s)["ada"]
        _decided_queue(s, admin, decided=30, waiting=5)
        finding_id = int(s.exec(select(Finding.id).where(col(Finding.status) == "new")).first())
    blocker = db.connect() if db.dialect.name == "sqlite" else None
    if blocker is not None:
        blocker.begin()  # BEGIN IMMEDIATE: another reviewer's write transaction, open
    try:
        with session_scope(db, read_only=True) as s:
            first = plan_learning(session=s, finding_id=finding_id, every=5)
            second = plan_learning(session=s, finding_id=finding_id, every=5)
    finally:
        if blocker is not None:
            blocker.rollback()
            blocker.close()
    assert first.retrain is not None and second.retrain is not None
    with session_scope(db) as s:
        written = apply_learning(session=s, step=first)
    with session_scope(db) as s:
        assert apply_learning(session=s, step=second) is None  # planned before the first landed
    with Session(db) as s:
        assert written is not None and [v.version for v in list_versions(session=s)] == [
            written.version.version
        ]
