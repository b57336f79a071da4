"""The feedback log (read, verify its chain) and the exports of findings and decisions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.api.deps import EngineDep, Reader
from app.core.db import session_scope
from review_queue import exports
from review_queue.feedback_log import log_page, verify_chain
from review_queue.permissions import require_role

router = APIRouter(prefix="/api", tags=["feedback log and exports"])


@router.get("/feedback-log")
def log_route(
    actor: Reader,
    engine: EngineDep,
    action: Annotated[list[str] | None, Query()] = None,
    actor_name: Annotated[str | None, Query(alias="actor", max_length=80)] = None,
    finding_id: int | None = None,
    page: Annotated[int, Query(ge=0)] = 0,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """A page of the log, newest first, with the total matching (admins and managers)."""
    with session_scope(engine, read_only=True) as session:
        rows, total = log_page(
            session=session, actor=actor, actions=tuple(action or ()), actor_name=actor_name,
            finding_id=finding_id, page=page, page_size=page_size,
        )  # fmt: skip
    return {"total": total, "page": page, "events": [e.model_dump() for e in rows]}


@router.get("/feedback-log/verify")
def verify_route(actor: Reader, engine: EngineDep) -> dict[str, Any]:
    """Recompute the log's hash chain; name the first bad row (admins and managers)."""
    # verify_chain takes no actor (the CLI runs it as the server's administrator): the page's
    # roles are checked here, as the Feedback log page's router does.
    require_role(actor, exports.EXPORTERS, "verifying the feedback log")
    with session_scope(engine, read_only=True) as session:
        check = verify_chain(session=session)
    return {
        "ok": check.ok,
        "rows": check.rows,
        "first_broken_id": check.first_broken_id,
        "problem": check.problem,
    }


@router.get("/exports/findings")
def findings_export_route(
    actor: Reader, engine: EngineDep, detail: bool = False
) -> list[dict[str, Any]]:
    """Every finding, in id order (admins and managers); ``detail`` adds evidence and features."""
    with session_scope(engine, read_only=True) as session:
        return list(exports.finding_rows(session=session, actor=actor, detail=detail))


@router.get("/exports/decisions")
def decisions_export_route(actor: Reader, engine: EngineDep) -> list[dict[str, Any]]:
    """Every feedback-log row, in the order they happened (admins and managers)."""
    with session_scope(engine, read_only=True) as session:
        return list(exports.decision_rows(session=session, actor=actor))
