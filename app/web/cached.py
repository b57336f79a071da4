"""Results pages keep between reruns: the Trends report, computed once per change of the data,
and the Review queue's filter choices."""

from __future__ import annotations

import streamlit as st

from app.sources.roster import course_titles
from app.web.units import reading
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.queue import FilterOptions, filter_options
from review_queue.trends.filters import TRENDS_ROLES, TrendFilters, trends_data_version
from review_queue.trends.report import trend_report
from review_queue.trends.results import TrendReport


@st.cache_data(ttl=600, max_entries=16, show_spinner="Computing the trends ...")
def _cached_trend_report(
    filters: TrendFilters,
    sla_days: int,
    learners: int | None,
    data_version: tuple[str, str],
    _actor: Actor,
) -> TrendReport:
    with reading() as session:
        return trend_report(
            session=session, actor=_actor, filters=filters, sla_days=sla_days, learners=learners,
            course_titles=course_titles(session=session),
        )  # fmt: skip


def trend_report_for(
    actor: Actor, filters: TrendFilters, *, sla_days: int, learners: int | None
) -> TrendReport:
    """The Trends page's report, computed once per change of the data (a decision, proposal or
    promotion) and of the settings, and at most ten minutes old: at a million findings a report
    takes tens of seconds, and every click on the page would otherwise compute it again. The
    role check runs on every call, before the cache is consulted."""
    require_role(actor, TRENDS_ROLES, "seeing trends")
    with reading() as session:
        version = trends_data_version(session=session)
    return _cached_trend_report(filters, sla_days, learners, version, actor)


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def _cached_filter_options(_actor: Actor) -> FilterOptions:
    with reading() as session:
        return filter_options(session=session, actor=_actor)


def queue_filter_options(actor: Actor) -> FilterOptions:
    """The Review queue's filter choices (categories, detectors, departments, admins), read at
    most once a minute: they change with detection runs and new accounts, not with decisions.
    The role check runs on every call, before the cache is consulted."""
    require_role(actor, ADMIN_ONLY, "reviewing the queue")
    return _cached_filter_options(actor)
