"""Learner reports: an instructor files one (for a learner in one of their courses) and follows
its status."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import EngineDep, Reader, Writer
from app.core.db import session_scope
from app.sources.roster import instructor_roster
from review_queue.learner_reports import file_learner_report, my_reports
from review_queue.tables import Role

router = APIRouter(prefix="/api/reports", tags=["learner reports"])


class ReportIn(BaseModel):
    """A learner's problem, as the Report a problem page files it."""

    learner_user_id: str = Field(max_length=200)
    course_id: str = Field(max_length=100)
    what_happened: str = Field(max_length=4000)
    urgency: str = Field(default="medium", description="low, medium, high or critical")


@router.post("", status_code=201)
def file_report_route(body: ReportIn, actor: Writer, engine: EngineDep) -> dict[str, Any]:
    """File a learner report (instructors, in the courses they own; admins, any course)."""
    # Instructors: their courses, each with its roster (the service refuses anyone else).
    allowed: Mapping[str, Collection[str]] | None = None
    names: dict[str, str] = {}
    if actor.role is Role.instructor:
        roster = instructor_roster(engine=engine, actor=actor)
        allowed = roster.learners
        names = roster.learners.get(body.course_id.strip(), {})
    with session_scope(engine) as session:
        finding = file_learner_report(
            session=session, actor=actor, learner_user_id=body.learner_user_id,
            course_id=body.course_id, what_happened=body.what_happened, urgency=body.urgency,
            allowed_courses=allowed, learner_name=names.get(body.learner_user_id.strip()),
        )  # fmt: skip
        out = {"finding_id": finding.id, "status": finding.status, "title": finding.title}
    return out


@router.get("")
def my_reports_route(actor: Reader, engine: EngineDep) -> list[dict[str, Any]]:
    """The reports the token's user filed, newest first, with where each stands."""
    with session_scope(engine, read_only=True) as session:
        rows = my_reports(session=session, actor=actor)
    return [asdict(r) for r in rows]
