"""The open backlog: how many gaps are open at the end of the range and how old they are, its
size at the end of each week, and the compliance slice of it (open overdue mandatory enrolments).

"Open" is every status but ``query.CLOSED_STATUSES``; snoozed gaps stay open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise

import pandas as pd
from sqlalchemy import and_, case, func, null, or_, select
from sqlmodel import Session, col

from review_queue.permissions import Actor, require_role
from review_queue.tables import FeedbackEvent, Finding
from review_queue.trends import rollup_read
from review_queue.trends.filters import TRENDS_ROLES, TrendFilters
from review_queue.trends.query import CLOSED_STATUSES, TrendQuery, fetch_rows
from review_queue.trends.results import TrendMetric
from review_queue.trends.rollup_read import use_rollups
from review_queue.trends.sql_time import as_utc
from review_queue.trends.takeaways import backlog_takeaway, compliance_takeaway
from review_queue.trends.weeks import with_week_columns
from review_queue.types import utcnow

DEFAULT_SLA_DAYS = 14
COMPLIANCE_CATEGORY = "compliance_overdue"
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "under 7 days"),
    (7, "7 to 14 days"),
    (14, "14 to 30 days"),
    (30, "30 to 60 days"),
    (60, "60 to 90 days"),
    (90, "90 days or more"),
)


def open_backlog(
    *,
    session: Session,
    actor: Actor,
    filters: TrendFilters,
    sla_days: int = DEFAULT_SLA_DAYS,
    as_of: datetime | None = None,
) -> TrendMetric:
    """The open backlog at the end of the range (or now, if sooner) by age, and its weekly size.

    Frame: ``age_band``, ``min_days``, ``open``, ``older_than_sla``. Extras: ``weekly``
    (``week``, ``week_label``, ``open`` at each week's end). Age is time since first seen.
    """
    require_role(actor, TRENDS_ROLES, "seeing trends")
    if sla_days < 1:
        raise ValueError(f"the SLA must be at least 1 day, not {sla_days}")
    q = TrendQuery(session, filters)
    now = as_of or utcnow()
    moment = min(now, filters.end_utc)
    if moment >= now and use_rollups(q):
        age_rows = _ages_from_rollups(q, moment=moment, sla_days=sla_days)
    else:
        age_rows = _backlog_ages(q, moment=moment, sla_days=sla_days, use_current=moment >= now)
    weekly = _open_per_week(q, categories=None)
    takeaway = backlog_takeaway(
        age_rows, weekly, moment=moment, zone=filters.zone, sla_days=sla_days
    )
    frame = age_rows.reset_index(drop=True)
    frame.attrs = {}
    return TrendMetric(
        "backlog",
        "Open backlog and its age",
        frame,
        takeaway,
        {"weekly": weekly},
    )


def compliance_exposure(*, session: Session, actor: Actor, filters: TrendFilters) -> TrendMetric:
    """Overdue mandatory enrolments (open ``compliance_overdue`` gaps) at the end of each week.

    Frame: ``week``, ``week_label``, ``open``.
    """
    require_role(actor, TRENDS_ROLES, "seeing trends")
    title = "Compliance exposure: overdue mandatory enrolments"
    if filters.categories and COMPLIANCE_CATEGORY not in filters.categories:
        empty = with_week_columns(pd.DataFrame({"week": filters.weeks(), "open": 0}))
        return TrendMetric(
            "compliance", title, empty, "Compliance exposure is left out by the category filter."
        )
    q = TrendQuery(session, filters)
    weekly = _open_per_week(q, categories=(COMPLIANCE_CATEGORY,))
    return TrendMetric("compliance", title, weekly, compliance_takeaway(weekly))


def _open_per_week(q: TrendQuery, *, categories: Sequence[str] | None) -> pd.DataFrame:
    """How many gaps were open at the end of each week (or of the range): ``week``, ``open``.

    Open count = findings first seen so far, minus closing changes (to dismissed or resolved),
    plus reopenings, each summed per day in SQL; everything before the range folds into one
    starting figure (day NULL).
    """
    if use_rollups(q):
        before, per_day = rollup_read.open_changes(q, categories)
    else:
        before, per_day = _open_changes(q, categories)
    weeks = q.filters.weeks()
    values = []
    for monday in weeks:
        last_day = min(monday + timedelta(days=6), q.filters.end)
        values.append(before + int(per_day[per_day.index <= last_day].sum()))
    return with_week_columns(pd.DataFrame({"week": weeks, "open": values}))


def _open_changes(q: TrendQuery, categories: Sequence[str] | None) -> tuple[int, pd.Series]:
    """The scan behind ``_open_per_week``: open before the range, and the change per day."""
    filters = q.finding_filters()
    if categories is not None:
        filters.append(col(Finding.category).in_(categories))
    seen = col(Finding.first_seen_at)
    bucket = case((seen < q.filters.start_utc, null()), else_=q.day(seen))
    opened = q.rows(
        select(bucket.label("day")).where(seen < q.filters.end_utc, *filters), group=("day",)
    )
    at, frm, to = (
        col(FeedbackEvent.at),
        col(FeedbackEvent.from_status),
        col(FeedbackEvent.to_status),
    )
    closes = and_(frm.not_in(CLOSED_STATUSES), to.in_(CLOSED_STATUSES))
    reopens = and_(frm.in_(CLOSED_STATUSES), to.not_in(CLOSED_STATUSES))
    ev_bucket = case((at < q.filters.start_utc, null()), else_=q.day(at))
    inner = select(ev_bucket.label("day"), case((closes, -1), else_=1).label("delta"))
    inner = inner.select_from(FeedbackEvent)
    if filters:
        # Only the filters need the findings table; unfiltered, the log is read alone.
        inner = inner.join(Finding, col(Finding.id) == col(FeedbackEvent.finding_id))
    inner = inner.where(at < q.filters.end_utc, frm.is_not(None), or_(closes, reopens), *filters)
    changes = q.rows(inner, ("day", "delta"))
    changes["count"] = changes["count"] * changes["delta"]
    deltas = pd.concat([opened[["day", "count"]], changes[["day", "count"]]], ignore_index=True)
    before = int(deltas.loc[deltas["day"].isna(), "count"].sum())
    per_day = deltas.dropna(subset=["day"]).groupby("day")["count"].sum()
    return before, per_day


def _ages_from_rollups(q: TrendQuery, *, moment: datetime, sla_days: int) -> pd.DataFrame:
    """``_backlog_ages`` now, from the open gaps per first-seen day: a day wholly inside one
    band counts from its roll-up, a day an edge (a band's, the SLA's, now) cuts through is read
    from its findings, and days older than every edge are the total less the days read."""
    edges = [moment - timedelta(days=upper) for upper, _ in AGE_BANDS[1:]]
    sla_at = moment - timedelta(days=sla_days)
    since = min(edges[-1], sla_at).astimezone(q.filters.zone).date() - timedelta(days=2)
    total, per_day, first = rollup_read.open_by_first_seen(q, since)
    counts = {label: [0, 0] for _, label in AGE_BANDS}
    cut: list[tuple[datetime, datetime]] = []
    for day, n in per_day.items():
        a, b = rollup_read.day_span(day, q)
        if any(a <= t < b for t in (*edges, sla_at, moment)):
            cut.append((a, b))
        elif b <= moment:
            label = next((lb for t, (_, lb) in zip(edges, AGE_BANDS, strict=False) if a > t), None)
            band = counts[label or AGE_BANDS[-1][1]]
            band[0] += n
            band[1] += n if b <= sla_at else 0
    rest = total - sum(per_day.values())
    counts[AGE_BANDS[-1][1]][0] += rest
    counts[AGE_BANDS[-1][1]][1] += rest
    exact = (
        _backlog_ages(q, moment=moment, sla_days=sla_days, use_current=True, within=cut)
        if cut
        else None
    )
    rows = []
    for low, label in AGE_BANDS:
        n, older = counts[label]
        if exact is not None:
            hit = exact[exact["age_band"] == label].iloc[0]
            n, older = n + int(hit["open"]), older + int(hit["older_than_sla"])
        rows.append((label, low, n, older))
    frame = pd.DataFrame(rows, columns=["age_band", "min_days", "open", "older_than_sla"])
    frame.attrs["oldest"] = None if first is None else _oldest_open(q, first, moment)
    return frame


def _oldest_open(q: TrendQuery, first: date, moment: datetime) -> datetime | None:
    """When the oldest open gap was first seen, read from the first day any open one was."""
    seen = col(Finding.first_seen_at)
    start, _ = rollup_read.day_span(first, q)
    rows = fetch_rows(
        q.session,
        select(seen)
        .where(
            seen >= start,
            seen < moment,
            col(Finding.status).not_in(CLOSED_STATUSES),
            *q.finding_filters(),
        )
        .order_by(seen)
        .limit(1),
    )
    return as_utc(rows[0][0]) if rows else None


def _backlog_ages(
    q: TrendQuery,
    *,
    moment: datetime,
    sla_days: int,
    use_current: bool,
    within: Sequence[tuple[datetime, datetime]] = (),
) -> pd.DataFrame:
    """Open findings at ``moment`` counted per age band, with how many are older than the SLA.

    With ``use_current`` the findings' own status is used (moment is now); otherwise each
    finding's status at ``moment`` is its last feedback-log change before then. ``within``
    keeps only findings first seen inside those spans.
    """
    seen = col(Finding.first_seen_at)
    conditions = [seen < moment, *q.finding_filters()]
    if within:
        conditions.append(rollup_read.first_seen_within(seen, within))
    if use_current:
        conditions.append(col(Finding.status).not_in(CLOSED_STATUSES))
    else:
        # The log is append-only, so the highest id before the moment is the last change.
        last = (
            select(
                col(FeedbackEvent.finding_id).label("finding_id"),
                func.max(FeedbackEvent.id).label("last_id"),
            )
            .where(col(FeedbackEvent.at) < moment)
            .group_by(col(FeedbackEvent.finding_id))
            .subquery()
        )
        closed_then = (
            select(last.c.finding_id)
            .join(FeedbackEvent, col(FeedbackEvent.id) == last.c.last_id)
            .where(col(FeedbackEvent.to_status).in_(CLOSED_STATUSES))
        )
        conditions.append(col(Finding.id).not_in(closed_then))
    whens = [
        (seen > moment - timedelta(days=upper), label)
        for (_, label), (upper, _) in pairwise(AGE_BANDS)
    ]
    band = case(*whens, else_=AGE_BANDS[-1][1])
    older = case((seen < moment - timedelta(days=sla_days), 1), else_=0)
    inner = select(band.label("band"), older.label("older"), seen.label("seen")).where(*conditions)
    sub = inner.subquery()
    rows = fetch_rows(
        q.session,
        select(sub.c.band, func.count(), func.sum(sub.c.older), func.min(sub.c.seen)).group_by(
            sub.c.band
        ),
    )
    found = {band_: (int(n), int(o or 0), s) for band_, n, o, s in rows}
    frame = pd.DataFrame(
        [
            (label, low, found.get(label, (0, 0, None))[0], found.get(label, (0, 0, None))[1])
            for low, label in AGE_BANDS
        ],
        columns=["age_band", "min_days", "open", "older_than_sla"],
    )
    oldest = [as_utc(s) for _, _, s in found.values() if s is not None]
    frame.attrs["oldest"] = min(oldest) if oldest else None
    return frame
