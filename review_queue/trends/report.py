"""The Trends page's whole report: every metric for one set of filters, in the page's order."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from review_queue.permissions import Actor, require_role
from review_queue.trends.backlog import DEFAULT_SLA_DAYS, compliance_exposure, open_backlog
from review_queue.trends.cycle_times import cycle_times
from review_queue.trends.filters import TRENDS_ROLES, TrendFilters
from review_queue.trends.flow import gap_flow
from review_queue.trends.locations import gap_locations
from review_queue.trends.precision import detector_precision
from review_queue.trends.results import TrendReport
from review_queue.types import utcnow


def trend_report(
    *,
    session: Session,
    actor: Actor,
    filters: TrendFilters,
    sla_days: int = DEFAULT_SLA_DAYS,
    learners: int | Mapping[str, int] | None = None,
    as_of: datetime | None = None,
    course_titles: Mapping[str, str] | None = None,
) -> TrendReport:
    """Every metric of the Trends page for ``filters``, in the page's order; ``course_titles``
    (course id → title, from the LMS data) names the courses beside their ids."""
    require_role(actor, TRENDS_ROLES, "seeing trends")
    kwargs: dict[str, Any] = {"session": session, "actor": actor, "filters": filters}
    metrics = (
        gap_flow(**kwargs),
        open_backlog(**kwargs, sla_days=sla_days, as_of=as_of),
        cycle_times(**kwargs),
        detector_precision(**kwargs),
        gap_locations(**kwargs, learners=learners, course_titles=course_titles),
        compliance_exposure(**kwargs),
    )
    return TrendReport(filters, as_of or utcnow(), sla_days, metrics)
