"""Gap locations: which departments and courses the gaps first seen in the range belong to,
how many were confirmed, and confirmed gaps per 1,000 learners."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sqlalchemy import case, func, select
from sqlmodel import Session, col

from review_queue.permissions import Actor, require_role
from review_queue.states import REAL_STATUSES, values
from review_queue.tables import Finding
from review_queue.trends.filters import TRENDS_ROLES, TrendFilters
from review_queue.trends.query import (
    CLOSED_STATUSES,
    UNKNOWN_DEPARTMENT,
    TrendQuery,
    fetch_rows,
    finding_department,
)
from review_queue.trends.results import TrendMetric
from review_queue.trends.rollup_read import use_rollups, where_by_course, where_by_department
from review_queue.trends.takeaways import locations_takeaway

TOP_COURSES = 15


def gap_locations(
    *,
    session: Session,
    actor: Actor,
    filters: TrendFilters,
    learners: int | Mapping[str, int] | None = None,
    course_titles: Mapping[str, str] | None = None,
) -> TrendMetric:
    """Where the gaps first seen in the range are: by department, and the top 15 courses.

    ``confirmed`` counts gaps confirmed real (confirmed now, or since resolved). ``learners`` is
    the programme's learner count (or a count per department) for confirmed per 1,000 learners.
    Frame: ``department``, ``found``, ``confirmed``, ``open``, ``learners``,
    ``confirmed_per_1000``. Extras: ``courses`` (``course``, ``title`` from ``course_titles``,
    empty where unknown, ``found``, ``confirmed``, ``open``).
    """
    require_role(actor, TRENDS_ROLES, "seeing trends")
    q = TrendQuery(session, filters)
    status = col(Finding.status)
    confirmed = case((status.in_(values(REAL_STATUSES)), 1), else_=0)
    still_open = case((status.in_(CLOSED_STATUSES), 0), else_=1)
    base = [*q.in_range(col(Finding.first_seen_at)), *q.finding_filters()]

    rollups = use_rollups(q)
    if rollups:
        by_dept = where_by_department(q)
    else:
        inner = (
            select(
                finding_department().label("department"),
                confirmed.label("c"),
                still_open.label("o"),
            )
            .where(*base)
            .subquery()
        )
        by_dept = fetch_rows(
            session,
            select(inner.c.department, func.count(), func.sum(inner.c.c), func.sum(inner.c.o))
            .group_by(inner.c.department)
            .order_by(func.sum(inner.c.c).desc(), func.count().desc(), inner.c.department),
        )
    departments = pd.DataFrame(
        [(str(d), int(n), int(c or 0), int(o or 0)) for d, n, c, o in by_dept],
        columns=["department", "found", "confirmed", "open"],
    )
    per_dept_learners = _learners_by_department(learners, departments["department"])
    departments["learners"] = per_dept_learners
    departments["confirmed_per_1000"] = (
        departments["confirmed"] * 1000 / departments["learners"]
    ).where(departments["learners"] > 0)

    if rollups:
        by_course = where_by_course(q, TOP_COURSES)
    else:
        course = q.course()
        inner_c = (
            select(course.label("course"), confirmed.label("c"), still_open.label("o"))
            .where(*base, course.is_not(None))
            .subquery()
        )
        by_course = fetch_rows(
            session,
            select(inner_c.c.course, func.count(), func.sum(inner_c.c.c), func.sum(inner_c.c.o))
            .group_by(inner_c.c.course)
            .order_by(func.sum(inner_c.c.c).desc(), func.count().desc(), inner_c.c.course)
            .limit(TOP_COURSES),
        )
    courses = pd.DataFrame(
        [(str(c), int(n), int(k or 0), int(o or 0)) for c, n, k, o in by_course],
        columns=["course", "found", "confirmed", "open"],
    )
    titles = course_titles or {}
    courses.insert(1, "title", [str(titles.get(c, "")) for c in courses["course"]])
    total_learners = learners if isinstance(learners, int) else sum((learners or {}).values())
    return TrendMetric(
        "where",
        "Where the gaps are",
        departments,
        locations_takeaway(departments, courses, total_learners, nowhere=UNKNOWN_DEPARTMENT),
        {"courses": courses},
    )


def _learners_by_department(
    learners: int | Mapping[str, int] | None, departments: pd.Series
) -> list[float]:
    """Learners per department row: a mapping's own figure; a single total applies to none."""
    if isinstance(learners, Mapping):
        return [float(learners.get(str(d), np.nan)) for d in departments]
    return [np.nan] * len(departments)
