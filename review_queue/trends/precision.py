"""Detector precision: per week, how often a decided gap was confirmed (confirmed ÷ decided),
for all detectors and the busiest few, with model promotions marked."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from review_queue.permissions import Actor, require_role
from review_queue.tables import ModelVersion
from review_queue.trends import rollup_read
from review_queue.trends.filters import TRENDS_ROLES, TrendFilters
from review_queue.trends.query import DECIDED_STATUSES, TrendQuery, fetch_rows, net_decisions
from review_queue.trends.results import TrendMetric
from review_queue.trends.rollup_read import use_rollups
from review_queue.trends.sql_time import as_utc
from review_queue.trends.takeaways import precision_takeaway
from review_queue.trends.weeks import monday_of, with_week_columns

# The precision frame's label for every detector together (the overall line).
ALL_DETECTORS = "all detectors"

# Precision lines beyond this many detectors are unreadable; the rest are in "all detectors".
MAX_DETECTOR_LINES = 5


def detector_precision(*, session: Session, actor: Actor, filters: TrendFilters) -> TrendMetric:
    """Per week, confirmed ÷ decided (confirmed + dismissed), overall and per busiest detector.

    Frame: ``week``, ``week_label``, ``detector``, ``confirmed``, ``dismissed``, ``decided``,
    ``precision`` (missing where nothing was decided). Extras: ``promotions`` (``kind``,
    ``version``, ``promoted_at`` in local time) of models promoted in the range.
    """
    require_role(actor, TRENDS_ROLES, "seeing trends")
    q = TrendQuery(session, filters)
    if use_rollups(q):
        days = rollup_read.net_decisions(q, by="detector", statuses=DECIDED_STATUSES)
    else:
        days = net_decisions(q, by="detector", statuses=DECIDED_STATUSES)
    weeks = filters.weeks()
    if days.empty:
        detectors: list[str] = []
        days = pd.DataFrame(
            {
                "day": pd.Series([], dtype=object),
                "detector": pd.Series([], dtype=object),
                "measure": pd.Series([], dtype=object),
                "count": pd.Series([], dtype="int64"),
            }
        )
    else:
        busiest = days.groupby("detector")["count"].sum().sort_values(ascending=False)
        detectors = list(busiest.index[:MAX_DETECTOR_LINES])
    days["week"] = days["day"].map(monday_of)
    overall = days.assign(detector=ALL_DETECTORS)
    tidy = pd.concat([overall, days[days["detector"].isin(detectors)]], ignore_index=True)
    grid = pd.MultiIndex.from_product(
        [weeks, [ALL_DETECTORS, *detectors]], names=["week", "detector"]
    )
    wide = (
        tidy.pivot_table(
            index=["week", "detector"], columns="measure", values="count", aggfunc="sum"
        )
        .reindex(columns=list(DECIDED_STATUSES))
        .reindex(grid)
        .fillna(0)
        .astype("int64")
    )
    wide["decided"] = wide["confirmed"] + wide["dismissed"]
    wide["precision"] = (wide["confirmed"] / wide["decided"]).where(wide["decided"] > 0)
    frame = with_week_columns(wide.reset_index())
    frame.columns.name = None
    promotions = _promotions(q)
    return TrendMetric(
        "precision",
        "Detector precision (confirmed ÷ decided)",
        frame,
        precision_takeaway(frame[frame["detector"] == ALL_DETECTORS], promotions),
        {"promotions": promotions},
    )


def _promotions(q: TrendQuery) -> pd.DataFrame:
    """Models promoted inside the range, with their promotion time in the reporting zone."""
    promoted = col(ModelVersion.promoted_at)
    rows = fetch_rows(
        q.session,
        select(col(ModelVersion.kind), col(ModelVersion.version), promoted)
        .where(promoted.is_not(None), *q.in_range(promoted))
        .order_by(promoted),
    )
    local = [
        (kind, version, as_utc(at).astimezone(q.filters.zone).replace(tzinfo=None))
        for kind, version, at in rows
        if at is not None
    ]
    frame = pd.DataFrame(local, columns=["kind", "version", "promoted_at"])
    frame["label"] = frame["kind"] + " " + frame["version"]
    return frame
