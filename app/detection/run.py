"""The detection run: every enabled detector over a stored snapshot, proposed in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.db import session_scope
from app.core.errors import UserError
from app.detection.configuration import NO_PLACE, detector_settings, enabled_detectors, meets
from app.detection.engine import DetectionEngine, load_for_detection, start_engine
from app.sources.store import find_snapshot
from models.detectors.base import Detector, Proposal, carried_columns
from models.detectors.coverage import coverage
from models.detectors.registry import run_detectors
from models.snapshot import Snapshot
from models.taxonomy import attribute_entities
from review_queue.decisions import current_model_version, wake_snoozed
from review_queue.outbox import EventKind, record_event
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.propose import propose_findings
from review_queue.tables import DetectionRun
from review_queue.types import utcnow

Progress = Callable[[str, int, int], None]


def places_of(snapshot: Snapshot, proposals: list[Proposal]) -> dict[str, tuple[Any, Any]]:
    """Entity key → (course, department) of each proposal, looked up in the snapshot."""
    where = attribute_entities(snapshot, sorted({p.entity_key for p in proposals}))
    return {key: (course, dept) for key, course, dept in where.itertuples(index=False, name=None)}


def run_detection(
    *,
    engine: Engine,
    actor: Actor,
    snapshot_id: str | None = None,
    snapshot: Snapshot | None = None,
    progress: Progress | None = None,
    detectors: list[Detector] | None = None,
    detection_engine: str | None = None,
) -> DetectionRun:
    """Run every enabled detector and propose into the queue (admins only).

    The proposals go in one transaction: if a detector or the proposal step fails, the queue is
    exactly as before and the run is recorded as failed with the reason. The run's stats keep
    its coverage: which categories were checked on this snapshot, which could not be, and why.
    A stored snapshot is read on ``detection_engine`` (default: ``GAPDESK_DETECTION_ENGINE``).
    """
    require_role(actor, ADMIN_ONLY, "running detection")
    frames: DetectionEngine | None = None
    if snapshot is None:
        with session_scope(engine) as session:
            record = find_snapshot(session=session, snapshot_id=snapshot_id)
        # An engine that cannot start is said before anything runs (no fallback).
        frames = start_engine(detection_engine)
        if progress:
            progress(f"reading snapshot {record.id} on {frames.spec}", 0, 1)
        snapshot = load_for_detection(record, frames)
    try:
        return _run(engine, actor, snapshot, progress, detectors, frames)
    finally:
        if frames is not None:
            frames.close()


def _run(
    engine: Engine,
    actor: Actor,
    snapshot: Snapshot,
    progress: Progress | None,
    detectors: list[Detector] | None,
    frames: DetectionEngine | None,
) -> DetectionRun:
    with session_scope(engine) as session:
        settings = detector_settings(session=session)
    if detectors is None:
        detectors = enabled_detectors(settings)
    # The run's row is written with its outcome, in the proposals' transaction (or as failed
    # below): a run killed half way leaves the database as it was, not a run "running" forever.
    run = DetectionRun(snapshot_id=snapshot.snapshot_id, started_by=actor.name)
    started = time.perf_counter()
    try:
        found = run_detectors(snapshot, detectors, on_progress=progress)
        conditions = {s.name: s.require for s in settings}
        places = places_of(snapshot, found.proposals)
        kept = [
            p
            for p in found.proposals
            if meets(p.features, conditions.get(p.detector, ()), places.get(p.entity_key, NO_PLACE))
        ]
        held_back = len(found.proposals) - len(kept)
        found.proposals = kept
        with session_scope(engine) as session:
            woken = wake_snoozed(session=session)
            stats = propose_findings(
                session=session,
                proposals=found.proposals,
                model_version=current_model_version(session=session),
                places=places,
            )
            run.status = "done"
            run.finished_at = utcnow()
            run.stats = {
                **stats.as_dict(),
                "woken": woken,
                "held_back_by_conditions": held_back,
                "skipped": found.skipped,
                "coverage": [r.to_dict() for r in coverage(carried_columns(snapshot), detectors)],
                "seconds": {k: round(v, 3) for k, v in found.seconds.items()},
                "cpu_seconds": {k: round(v, 3) for k, v in found.cpu_seconds.items()},
                "duration_s": round(time.perf_counter() - started, 3),
                "detectors": [d.name for d in detectors],
                "engine": frames.spec if frames is not None else "in memory",
            }
            session.add(run)
    except Exception as exc:
        with session_scope(engine) as session:
            failed = DetectionRun(
                snapshot_id=run.snapshot_id,
                started_by=run.started_by,
                started_at=run.started_at,
                finished_at=utcnow(),
                status="failed",
                error=f"{type(exc).__name__}: {exc}"[:4000],
            )
            session.add(failed)
            session.flush()
            record_event(
                session=session, kind=EventKind.detection_run_failed,
                payload={"run_id": failed.id, "snapshot_id": failed.snapshot_id,
                         "started_by": failed.started_by, "error": failed.error,
                         "at": failed.finished_at.isoformat() if failed.finished_at else None},
            )  # fmt: skip
        raise UserError(f"detection failed and the queue is unchanged: {exc}") from exc
    return run


def recent_runs(*, session: Session, actor: Actor, limit: int = 20) -> list[DetectionRun]:
    """The latest detection runs, newest first (admins only)."""
    require_role(actor, ADMIN_ONLY, "seeing detection runs")
    return list(
        session.exec(select(DetectionRun).order_by(col(DetectionRun.id).desc()).limit(limit))
    )


def detection_run(*, session: Session, actor: Actor, run_id: int) -> DetectionRun:
    """One detection run by its id (admins only); LookupError if there is none."""
    require_role(actor, ADMIN_ONLY, "seeing detection runs")
    run = session.get(DetectionRun, run_id)
    if run is None:
        raise LookupError(f"no detection run #{run_id}")
    return run
