"""Findings: the queue's list (its filters and paging), one finding with evidence and history,
a decision on it, its comments."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.api.deps import EngineDep, Reader, Writer
from app.api.json_body import json_answer
from app.core.db import session_scope
from app.learning.after_decision import decide_and_learn
from review_queue import comments
from review_queue.findings import get_finding
from review_queue.history import entity_history
from review_queue.permissions import ADMIN_ONLY, require_role
from review_queue.queue import (
    MAX_PAGE,
    QueueFilter,
    QueueRow,
    list_findings,
    page_rows,
)
from review_queue.states import OPEN_STATUSES
from review_queue.tables import Finding

router = APIRouter(prefix="/api/findings", tags=["findings"])


_ROW_FIELDS = tuple(f.name for f in fields(QueueRow))


def _row(row: QueueRow) -> dict[str, Any]:
    # Flat fields only: asdict's deep copy cost more than the rest of the serialisation.
    return {name: getattr(row, name) for name in _ROW_FIELDS}


def finding_dict(finding: Finding) -> dict[str, Any]:
    """A finding as the API shows it (the stored fields, features left out)."""
    return finding.model_dump(exclude={"features"})


@router.get("", response_model=None)
def list_findings_route(
    actor: Reader,
    engine: EngineDep,
    status: Annotated[list[str] | None, Query(description="default: the open statuses")] = None,
    category: Annotated[list[str] | None, Query()] = None,
    severity: Annotated[list[str] | None, Query()] = None,
    detector: Annotated[list[str] | None, Query()] = None,
    assignee: Annotated[str | None, Query(description="'me', 'unassigned' or a name")] = None,
    course: str | None = None,
    department: str | None = None,
    text: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=0)] = 0,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    include_total: Annotated[
        bool, Query(description="also count every match (slower on a large queue)")
    ] = False,
) -> Response:
    """A page of findings matching the filters, highest priority first (admins); ``total`` is
    null unless ``include_total=true``."""
    queue_filter = QueueFilter(
        statuses=tuple(status) if status else tuple(s.value for s in OPEN_STATUSES),
        categories=tuple(category or ()),
        severities=tuple(severity or ()),
        detectors=tuple(detector or ()),
        assignee=assignee,
        course=course,
        department=department,
        text=text,
    )
    with session_scope(engine, read_only=True) as session:
        total: int | None = None
        if include_total:
            result = list_findings(
                session=session, actor=actor, queue_filter=queue_filter, page=page,
                page_size=page_size,
            )  # fmt: skip
            rows, total = result.rows, result.total
        else:
            rows = page_rows(
                session=session, actor=actor, queue_filter=queue_filter, page=page,
                page_size=page_size,
            )  # fmt: skip
    return json_answer(
        {"total": total, "page": page, "page_size": page_size,
         "findings": [_row(r) for r in rows]}
    )  # fmt: skip


@router.get("/{finding_id}")
def get_finding_route(finding_id: int, actor: Reader, engine: EngineDep) -> dict[str, Any]:
    """One finding with its evidence and the history of its entity (admins)."""
    # The role first: a 404 must not tell a non-reviewer which findings exist.
    require_role(actor, ADMIN_ONLY, "reviewing the queue")
    with session_scope(engine, read_only=True) as session:
        finding = get_finding(session=session, finding_id=finding_id)
        history = entity_history(session=session, actor=actor, finding=finding)
    return {**finding_dict(finding), "history": [asdict(h) for h in history]}


class DecisionIn(BaseModel):
    """A decision, as the Review queue page makes it."""

    action: str = Field(description="confirm, dismiss, snooze, assign, resolve, reopen, ...")
    expected_row_version: int | None = Field(
        default=None, description="the version you saw: refused (409) if someone changed it since"
    )
    reason: str | None = None
    comment: str | None = Field(default=None, max_length=4000)
    assignee_id: int | None = None
    until: datetime | None = None
    duplicate_of_id: int | None = None


@router.post("/{finding_id}/decisions")
def decide_route(
    finding_id: int, body: DecisionIn, actor: Writer, engine: EngineDep
) -> dict[str, Any]:
    """Decide on a finding (admins); logged under the token's user, then learning if due."""
    done = decide_and_learn(
        engine=engine, actor=actor, finding_id=finding_id, background=True,
        **body.model_dump(exclude_none=True),
    )  # fmt: skip
    return {
        "finding": finding_dict(done.finding),
        "event_id": done.event.id,
        "actor": done.event.actor,
        "repeated": done.repeated,
    }


class CommentIn(BaseModel):
    """A plain-text comment."""

    body: str = Field(max_length=4000)


@router.get("/{finding_id}/comments")
def list_comments_route(finding_id: int, actor: Reader, engine: EngineDep) -> list[dict[str, Any]]:
    """The comments on a finding, oldest first (admins; instructors on their own reports)."""
    with session_scope(engine, read_only=True) as session:
        rows = comments.list_comments(session=session, actor=actor, finding_id=finding_id)
    return [asdict(c) for c in rows]


@router.post("/{finding_id}/comments", status_code=201)
def add_comment_route(
    finding_id: int, body: CommentIn, actor: Writer, engine: EngineDep
) -> dict[str, Any]:
    """Comment on a finding (admins; instructors on their own reports)."""
    with session_scope(engine) as session:
        comment = comments.add_comment(
            session=session, actor=actor, finding_id=finding_id, body=body.body
        )
        out = {"id": comment.id, "finding_id": finding_id, "author": actor.name,
               "at": comment.at, "body": comment.body}  # fmt: skip
    return out
