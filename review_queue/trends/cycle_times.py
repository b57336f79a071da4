"""Cycle times: how long gaps wait for triage (first confirm or dismiss) and for resolution.

Percentiles are not portable SQL (SQLite has none), so the database returns a histogram of
whole-minute durations per day and pandas takes the median and 90th percentile of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from review_queue.permissions import Actor, require_role
from review_queue.tables import FeedbackEvent, Finding
from review_queue.trends.filters import TRENDS_ROLES, TrendFilters
from review_queue.trends.query import DECIDED_STATUSES, UNDO_ACTION, TrendQuery
from review_queue.trends.results import TrendMetric
from review_queue.trends.rollup_read import first_move_minutes, use_rollups
from review_queue.trends.takeaways import cycle_takeaway
from review_queue.trends.weeks import monday_of, with_week_columns


def cycle_times(*, session: Session, actor: Actor, filters: TrendFilters) -> TrendMetric:
    """Time to triage (first confirm or dismiss) and to resolve, per week: median and p90.

    Each finding counts in the week of its first triage (or resolution), measured from when it
    was first seen. Frame: ``week``, ``week_label``, ``measure``, ``findings``, ``median_hours``,
    ``p90_hours`` (empty weeks have 0 findings and no times).
    """
    require_role(actor, TRENDS_ROLES, "seeing trends")
    q = TrendQuery(session, filters)
    parts = []
    rollups = use_rollups(q)
    for measure, statuses in (
        ("time to triage", DECIDED_STATUSES),
        ("time to resolve", ("resolved",)),
    ):
        if rollups:
            hist = first_move_minutes(q, "triage" if statuses == DECIDED_STATUSES else "resolve")
        else:
            hist = _duration_histogram(q, statuses)
        parts.append(_weekly_percentiles(hist, filters.weeks(), measure))
    frame = with_week_columns(pd.concat(parts, ignore_index=True))
    return TrendMetric(
        "cycle",
        "Time to triage and to resolve",
        frame,
        cycle_takeaway(frame),
    )


def _duration_histogram(q: TrendQuery, statuses: Sequence[str]) -> pd.DataFrame:
    """Findings whose first move to one of ``statuses`` falls in the range: per local day of
    that move, how many took each whole number of minutes since first seen."""
    event = FeedbackEvent
    earlier = aliased(FeedbackEvent)
    counted = and_(col(event.to_status).in_(statuses), col(event.action) != UNDO_ACTION)
    # A finding's first such move is in the range exactly when it has one in the range and
    # none before it: read the range through the time index, probe each finding's past.
    moved_before = (
        select(literal(1))
        .where(
            col(earlier.finding_id) == col(event.finding_id),
            col(earlier.at) < q.filters.start_utc,
            col(earlier.to_status).in_(statuses),
            col(earlier.action) != UNDO_ACTION,
        )
        .exists()
    )
    first = (
        select(col(event.finding_id).label("finding_id"), func.min(event.at).label("at"))
        .where(*q.in_range(col(event.at)), counted, ~moved_before)
        .group_by(col(event.finding_id))
        .subquery()
    )
    inner = (
        select(
            q.day(first.c.at).label("day"),
            q.minutes_between(col(Finding.first_seen_at), first.c.at).label("minutes"),
        )
        .join(Finding, col(Finding.id) == first.c.finding_id)
        .where(*q.finding_filters())
    )
    frame = q.rows(inner, ("day", "minutes"))
    frame["minutes"] = frame["minutes"].astype("float64").clip(lower=0)
    return frame


def _weekly_percentiles(hist: pd.DataFrame, weeks: list[date], measure: str) -> pd.DataFrame:
    """Median and p90 (hours, numpy's linear interpolation) per week of a minutes histogram."""
    rows = []
    by_week = (
        dict(tuple(hist.assign(week=hist["day"].map(monday_of)).groupby("week")))
        if not hist.empty
        else {}
    )
    for monday in weeks:
        part = by_week.get(monday)
        n = int(part["count"].sum()) if part is not None else 0
        if part is None or n == 0:
            rows.append((monday, measure, 0, np.nan, np.nan))
            continue
        # A histogram, not rows: expand by count to get exact percentiles of the findings.
        minutes = np.repeat(part["minutes"].to_numpy(), part["count"].to_numpy())
        median, p90 = np.percentile(minutes, [50, 90]) / 60
        rows.append((monday, measure, n, float(median), float(p90)))
    return pd.DataFrame(rows, columns=["week", "measure", "findings", "median_hours", "p90_hours"])
