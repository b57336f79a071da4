"""Gap flow: gaps opened, confirmed, dismissed and resolved per week, by category."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from review_queue.permissions import Actor, require_role
from review_queue.tables import Finding
from review_queue.trends import rollup_read
from review_queue.trends.filters import TRENDS_ROLES, TrendFilters
from review_queue.trends.query import DECIDED_STATUSES, TrendQuery, net_decisions
from review_queue.trends.results import TrendMetric
from review_queue.trends.rollup_read import use_rollups
from review_queue.trends.takeaways import flow_takeaway
from review_queue.trends.weeks import monday_of, with_week_columns

FLOW_MEASURES = ("opened", "confirmed", "dismissed", "resolved")


def gap_flow(*, session: Session, actor: Actor, filters: TrendFilters) -> TrendMetric:
    """Gaps opened, confirmed, dismissed and resolved per week, by category.

    Frame: ``week``, ``week_label``, ``measure``, ``category``, ``count`` with a row for every
    week, measure and category seen (zero where nothing happened, so empty weeks show).
    """
    require_role(actor, TRENDS_ROLES, "seeing trends")
    q = TrendQuery(session, filters)
    statuses = (*DECIDED_STATUSES, "resolved")
    if use_rollups(q):
        opened = rollup_read.opened_per_day(q)
        decisions = rollup_read.net_decisions(q, by="category", statuses=statuses)
    else:
        opened = q.rows(
            select(q.day(col(Finding.first_seen_at)).label("day"), col(Finding.category)).where(
                *q.in_range(col(Finding.first_seen_at)), *q.finding_filters()
            ),
            group=("day", "category"),
        )
        decisions = net_decisions(q, by="category", statuses=statuses)
    opened["measure"] = "opened"
    days = pd.concat([opened, decisions], ignore_index=True)
    weeks = filters.weeks()
    categories = sorted(set(days["category"])) if not days.empty else []
    grid = pd.MultiIndex.from_product(
        [weeks, FLOW_MEASURES, categories], names=["week", "measure", "category"]
    )
    if days.empty:
        counts = pd.Series(0, index=grid, dtype="int64")
    else:
        days["week"] = days["day"].map(monday_of)
        counts = days.groupby(["week", "measure", "category"])["count"].sum()
        counts = counts.reindex(grid, fill_value=0).astype("int64")
    frame = counts.rename("count").reset_index()
    frame = with_week_columns(frame)
    return TrendMetric(
        "flow",
        "Gaps opened and decided per week",
        frame,
        flow_takeaway(frame, filters),
    )
