"""Detection runs: start one on the current (or a named) snapshot, read the recent ones."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.deps import EngineDep, Reader, Writer
from app.core.db import session_scope
from app.detection.run import detection_run, recent_runs, run_detection

router = APIRouter(prefix="/api/detection-runs", tags=["detection runs"])


class RunIn(BaseModel):
    """Which snapshot to run on (none: the latest stored)."""

    snapshot_id: str | None = Field(default=None, max_length=80)


@router.post("", status_code=201)
def start_run_route(body: RunIn, actor: Writer, engine: EngineDep) -> dict[str, Any]:
    """Run every enabled detector and propose into the queue (admins); answers when done."""
    run = run_detection(engine=engine, actor=actor, snapshot_id=body.snapshot_id)
    return run.model_dump()


@router.get("")
def recent_runs_route(
    actor: Reader, engine: EngineDep, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[dict[str, Any]]:
    """The latest detection runs, newest first (admins)."""
    with session_scope(engine, read_only=True) as session:
        return [r.model_dump() for r in recent_runs(session=session, actor=actor, limit=limit)]


@router.get("/{run_id}")
def run_route(run_id: int, actor: Reader, engine: EngineDep) -> dict[str, Any]:
    """One detection run: its status, stats (coverage, counts) or error (admins)."""
    with session_scope(engine, read_only=True) as session:
        return detection_run(session=session, actor=actor, run_id=run_id).model_dump()
