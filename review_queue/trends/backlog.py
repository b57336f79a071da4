"""Trend metrics for managers: are the programme's gaps being found, owned and closed?

Every metric is aggregated in the database (GROUP BY a local day, a category, a department ...)
and only the small per-day results reach pandas, which rolls days up into ISO weeks (Monday
start) of the reporting time zone. Bucketing by day in SQL and by week in pandas keeps the SQL
portable: SQLite and PostgreSQL disagree on week functions, but both can name a day.

The reporting time zone is honoured in SQL: PostgreSQL converts with ``timezone(zone, at)``;
SQLite, which has no time zones, shifts each stored UTC time by the zone's offset in force at
that instant (a CASE over the zone's offset changes inside the range, computed here).

Percentiles (time to triage and to resolve) are not portable SQL (SQLite has none), so the
database returns a histogram of whole-minute durations per day and pandas takes the median
and 90th percentile of it.

Conventions, for everyone who reads a chart:
- a gap is *open* (unresolved) until it is dismissed or resolved; snoozed gaps stay open;
- a decision that was undone is taken back in the week of the undo;
- a finding's department is its ``department`` column (else ``evidence["department"]``, else
  ``features["department"]``, else ``unknown``); its course is its ``course_id`` column, else
  the ``course=`` part of its entity key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, and_, case, extract, func, literal, null, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import Select
from sqlmodel import Session, col

from models.taxonomy import CATEGORIES
from review_queue.permissions import Actor, require_role
from review_queue.tables import (
    FeedbackEvent,
    FeedbackLogHead,
    Finding,
    ModelVersion,
    Role,
    Status,
)
from review_queue.types import UTCDateTime, utcnow

TRENDS_ROLES = (Role.admin, Role.manager)
UNKNOWN_DEPARTMENT = "unknown"
DEFAULT_SLA_DAYS = 14
TOP_COURSES = 15

CLOSED_STATUSES = (Status.dismissed.value, Status.resolved.value)
DECIDED_STATUSES = (Status.confirmed.value, Status.dismissed.value)
FLOW_MEASURES = ("opened", "confirmed", "dismissed", "resolved")
UNDO_ACTION = "undo"
COMPLIANCE_CATEGORY = "compliance_overdue"
ALL_DETECTORS = "all detectors"
# Precision lines beyond this many detectors are unreadable; the rest are in "all detectors".
MAX_DETECTOR_LINES = 5
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "under 7 days"),
    (7, "7 to 14 days"),
    (14, "14 to 30 days"),
    (30, "30 to 60 days"),
    (60, "60 to 90 days"),
    (90, "90 days or more"),
)


# --------------------------------------------------------------------------- filters and results


@dataclass(frozen=True)
class TrendFilters:
    """What the manager looks at: local dates ``start``..``end`` (inclusive) and optional filters.

    Empty ``departments`` or ``categories`` mean all of them.
    """

    start: date
    end: date
    tz: str = "UTC"
    departments: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the date range ends ({self.end}) before it starts ({self.start})")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown reporting time zone {self.tz!r}") from None
        unknown = sorted(set(self.categories) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown gap categories: {', '.join(unknown)}")

    @classmethod
    def last_weeks(
        cls,
        weeks: int,
        *,
        tz: str = "UTC",
        today: date | None = None,
        departments: Iterable[str] = (),
        categories: Iterable[str] = (),
    ) -> TrendFilters:
        """The last ``weeks`` ISO weeks up to today (the current week included, so far)."""
        if weeks < 1:
            raise ValueError(f"weeks must be at least 1, not {weeks}")
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown reporting time zone {tz!r}") from None
        today = today or utcnow().astimezone(zone).date()
        start = _monday(today) - timedelta(weeks=weeks - 1)
        return cls(start, today, tz, tuple(departments), tuple(categories))

    @property
    def zone(self) -> ZoneInfo:
        """The reporting time zone."""
        return ZoneInfo(self.tz)

    @property
    def start_utc(self) -> datetime:
        """The instant the range starts: local midnight of ``start``."""
        return _local_midnight(self.start, self.zone)

    @property
    def end_utc(self) -> datetime:
        """The instant the range ends (exclusive): local midnight after ``end``."""
        return _local_midnight(self.end + timedelta(days=1), self.zone)

    def weeks(self) -> list[date]:
        """The Mondays of every ISO week the range touches, in order."""
        first, last = _monday(self.start), _monday(self.end)
        return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]

    def describe(self) -> str:
        """One line naming the range and filters, for a report's heading."""
        parts = [f"{self.start:%d %b %Y} to {self.end:%d %b %Y} ({self.tz})"]
        parts.append("departments: " + (", ".join(self.departments) or "all"))
        parts.append("categories: " + (", ".join(self.categories) or "all"))
        return " · ".join(parts)


@dataclass(frozen=True)
class TrendMetric:
    """One chart's data: a tidy frame, a one-line takeaway, and any side tables it needs."""

    key: str
    title: str
    frame: pd.DataFrame
    takeaway: str
    extras: Mapping[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class TrendReport:
    """Every metric of the Trends page, for one set of filters."""

    filters: TrendFilters
    generated_at: datetime
    sla_days: int
    metrics: tuple[TrendMetric, ...]

    def metric(self, key: str) -> TrendMetric:
        """The metric called ``key``."""
        for m in self.metrics:
            if m.key == key:
                return m
        raise KeyError(key)


@dataclass(frozen=True)
class TrendFilterOptions:
    """The departments and categories that occur in the queue, for the filter widgets."""

    departments: list[str]
    categories: list[str]


# --------------------------------------------------------------------------- services


def trend_filter_options(*, session: Session, actor: Actor) -> TrendFilterOptions:
    """The departments and categories present among findings (departments include 'unknown')."""
    require_role(actor, TRENDS_ROLES, "seeing trends")
    stored = col(Finding.department)
    # The stored column is indexed; only findings without it need their JSON read.
    named = _run(session, select(stored).where(stored.is_not(None), stored != "").distinct())
    fallback = select(_department().label("department")).where(or_(stored.is_(None), stored == ""))
    sub = fallback.subquery()
    others = _run(session, select(sub.c.department).distinct())
    present = {str(c) for (c,) in _run(session, select(col(Finding.category)).distinct())}
    return TrendFilterOptions(
        departments=sorted({str(d) for (d,) in [*named, *others]}),
        categories=[c for c in CATEGORIES if c in present],
    )


def trends_data_version(*, session: Session) -> tuple[str, str]:
    """What a cached trend report keys on: the hash of the feedback log's newest event (every
    proposal, decision, undo and reopening appends one, and the hash chains all before it, so it
    differs between databases too) and the newest model promotion or rollback.

    Two small reads, so checking it costs nothing next to computing a report.
    """
    head = session.get(FeedbackLogHead, 1)
    promoted = session.execute(select(func.max(col(ModelVersion.promoted_at)))).scalar()
    return (head.last_hash if head else ""), str(promoted)


def trend_report(
    *,
    session: Session,
    actor: Actor,
    filters: TrendFilters,
    sla_days: int = DEFAULT_SLA_DAYS,
    learners: int | Mapping[str, int] | None = None,
    as_of: datetime | None = None,
) -> TrendReport:
    """Every metric of the Trends page for ``filters``, in the page's order."""
    require_role(actor, TRENDS_ROLES, "seeing trends")
    kwargs: dict[str, Any] = {"session": session, "actor": actor, "filters": filters}
    metrics = (
        gap_flow(**kwargs),
        open_backlog(**kwargs, sla_days=sla_days, as_of=as_of),
        cycle_times(**kwargs),
        detector_precision(**kwargs),
        gap_locations(**kwargs, learners=learners),
        compliance_exposure(**kwargs),
    )
    return TrendReport(filters, as_of or utcnow(), sla_days, metrics)


def gap_flow(*, session: Session, actor: Actor, filters: TrendFilters) -> TrendMetric:
    """Gaps opened, confirmed, dismissed and resolved per week, by category.

    Frame: ``week``, ``week_label``, ``measure``, ``category``, ``count`` with a row for every
    week, measure and category seen (zero where nothing happened, so empty weeks show).
    """
    require_role(actor, TRENDS_ROLES, "seeing trends")
    q = _Query(session, filters)
    opened = q.rows(
        select(q.day(col(Finding.first_seen_at)).label("day"), col(Finding.category)).where(
            *q.in_range(col(Finding.first_seen_at)), *q.finding_filters()
        ),
        group=("day", "category"),
    )
    opened["measure"] = "opened"
    decisions = _net_decisions(q, by="category", statuses=(*DECIDED_STATUSES, "resolved"))
    days = pd.concat([opened, decisions], ignore_index=True)
    weeks = filters.weeks()
    categories = sorted(set(days["category"])) if not days.empty else []
    grid = pd.MultiIndex.from_product(
        [weeks, FLOW_MEASURES, categories], names=["week", "measure", "category"]
    )
    if days.empty:
        counts = pd.Series(0, index=grid, dtype="int64")
    else:
        days["week"] = days["day"].map(_monday)
        counts = days.groupby(["week", "measure", "category"])["count"].sum()
        counts = counts.reindex(grid, fill_value=0).astype("int64")
    frame = counts.rename("count").reset_index()
    frame = _with_week_columns(frame)
    return TrendMetric(
        "flow",
        "Gaps opened and decided per week",
        frame,
        _flow_takeaway(frame, filters),
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
    q = _Query(session, filters)
    now = as_of or utcnow()
    moment = min(now, filters.end_utc)
    age_rows = _backlog_ages(q, moment=moment, sla_days=sla_days, use_current=moment >= now)
    weekly = _open_per_week(q, categories=None)
    total = int(age_rows["open"].sum())
    older = int(age_rows["older_than_sla"].sum())
    if total == 0:
        takeaway = f"No gaps were open on {_local_date(moment, filters):%d %b %Y}."
    else:
        oldest = (moment - age_rows.attrs["oldest"]).days
        takeaway = (
            f"{total:,} gaps open on {_local_date(moment, filters):%d %b %Y}; "
            f"{older / total:.0%} are older than the {sla_days}-day SLA "
            f"(oldest {oldest} days)."
        )
        if len(weekly) > 1:
            takeaway += f" Backlog {_change(weekly['open'].iloc[0], weekly['open'].iloc[-1])}."
    frame = age_rows.reset_index(drop=True)
    frame.attrs = {}
    return TrendMetric(
        "backlog",
        "Open backlog and its age",
        frame,
        takeaway,
        {"weekly": weekly},
    )


def cycle_times(*, session: Session, actor: Actor, filters: TrendFilters) -> TrendMetric:
    """Time to triage (first confirm or dismiss) and to resolve, per week: median and p90.

    Each finding counts in the week of its first triage (or resolution), measured from when it
    was first seen. Frame: ``week``, ``week_label``, ``measure``, ``findings``, ``median_hours``,
    ``p90_hours`` (empty weeks have 0 findings and no times).
    """
    require_role(actor, TRENDS_ROLES, "seeing trends")
    q = _Query(session, filters)
    parts = []
    for measure, statuses in (
        ("time to triage", DECIDED_STATUSES),
        ("time to resolve", ("resolved",)),
    ):
        hist = _duration_histogram(q, statuses)
        parts.append(_weekly_percentiles(hist, filters.weeks(), measure))
    frame = _with_week_columns(pd.concat(parts, ignore_index=True))
    return TrendMetric(
        "cycle",
        "Time to triage and to resolve",
        frame,
        _cycle_takeaway(frame),
    )


def detector_precision(*, session: Session, actor: Actor, filters: TrendFilters) -> TrendMetric:
    """Per week, confirmed ÷ decided (confirmed + dismissed), overall and per busiest detector.

    Frame: ``week``, ``week_label``, ``detector``, ``confirmed``, ``dismissed``, ``decided``,
    ``precision`` (missing where nothing was decided). Extras: ``promotions`` (``kind``,
    ``version``, ``promoted_at`` in local time) of models promoted in the range.
    """
    require_role(actor, TRENDS_ROLES, "seeing trends")
    q = _Query(session, filters)
    days = _net_decisions(q, by="detector", statuses=DECIDED_STATUSES)
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
    days["week"] = days["day"].map(_monday)
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
    frame = _with_week_columns(wide.reset_index())
    frame.columns.name = None
    promotions = _promotions(q)
    return TrendMetric(
        "precision",
        "Detector precision (confirmed ÷ decided)",
        frame,
        _precision_takeaway(frame, promotions),
        {"promotions": promotions},
    )


def gap_locations(
    *,
    session: Session,
    actor: Actor,
    filters: TrendFilters,
    learners: int | Mapping[str, int] | None = None,
) -> TrendMetric:
    """Where the gaps first seen in the range are: by department, and the top 15 courses.

    ``confirmed`` counts gaps confirmed real (confirmed now, or since resolved). ``learners`` is
    the programme's learner count (or a count per department) for confirmed per 1,000 learners.
    Frame: ``department``, ``found``, ``confirmed``, ``open``, ``learners``,
    ``confirmed_per_1000``. Extras: ``courses`` (``course``, ``found``, ``confirmed``, ``open``).
    """
    require_role(actor, TRENDS_ROLES, "seeing trends")
    q = _Query(session, filters)
    status = col(Finding.status)
    confirmed = case((status.in_((Status.confirmed.value, Status.resolved.value)), 1), else_=0)
    still_open = case((status.in_(CLOSED_STATUSES), 0), else_=1)
    base = [*q.in_range(col(Finding.first_seen_at)), *q.finding_filters()]

    inner = (
        select(_department().label("department"), confirmed.label("c"), still_open.label("o"))
        .where(*base)
        .subquery()
    )
    by_dept = _run(
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

    course = q.course()
    inner_c = (
        select(course.label("course"), confirmed.label("c"), still_open.label("o"))
        .where(*base, course.is_not(None))
        .subquery()
    )
    by_course = _run(
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
    total_learners = learners if isinstance(learners, int) else sum((learners or {}).values())
    return TrendMetric(
        "where",
        "Where the gaps are",
        departments,
        _where_takeaway(departments, courses, total_learners),
        {"courses": courses},
    )


def compliance_exposure(*, session: Session, actor: Actor, filters: TrendFilters) -> TrendMetric:
    """Overdue mandatory enrolments (open ``compliance_overdue`` gaps) at the end of each week.

    Frame: ``week``, ``week_label``, ``open``.
    """
    require_role(actor, TRENDS_ROLES, "seeing trends")
    title = "Compliance exposure: overdue mandatory enrolments"
    if filters.categories and COMPLIANCE_CATEGORY not in filters.categories:
        empty = _with_week_columns(pd.DataFrame({"week": filters.weeks(), "open": 0}))
        return TrendMetric(
            "compliance", title, empty, "Compliance exposure is left out by the category filter."
        )
    q = _Query(session, filters)
    weekly = _open_per_week(q, categories=(COMPLIANCE_CATEGORY,))
    first, last = int(weekly["open"].iloc[0]), int(weekly["open"].iloc[-1])
    if weekly["open"].max() == 0:
        takeaway = "No overdue mandatory enrolments were open in this period."
    else:
        n = len(weekly)
        takeaway = (
            f"{last:,} overdue mandatory enrolments open at the end of the period; "
            f"{_change(first, last)} over {n} week{'s' if n != 1 else ''}."
        )
    return TrendMetric("compliance", title, weekly, takeaway)


# --------------------------------------------------------------------------- SQL building blocks


class _Query:
    """SQL expressions for one request: the dialect's local day, course, and the filters."""

    def __init__(self, session: Session, filters: TrendFilters) -> None:
        self.session = session
        self.filters = filters
        self.dialect = session.get_bind().dialect.name

    def in_range(self, column: Any) -> list[ColumnElement[bool]]:
        """``column`` falls inside the range."""
        return [column >= self.filters.start_utc, column < self.filters.end_utc]

    def finding_filters(self) -> list[ColumnElement[bool]]:
        """The department and category filters, on the findings table."""
        out: list[ColumnElement[bool]] = []
        if self.filters.categories:
            out.append(col(Finding.category).in_(self.filters.categories))
        if self.filters.departments:
            out.append(_department().in_(self.filters.departments))
        return out

    def day(self, column: Any) -> ColumnElement[Any]:
        """The local calendar day (reporting time zone) of a UTC timestamp column."""
        if self.dialect == "postgresql":
            return func.date(func.timezone(self.filters.tz, column))
        segments = _offset_segments(self.filters.zone, self.filters.start_utc, self.filters.end_utc)
        if len(segments) == 1:
            modifier: ColumnElement[Any] = literal(_sqlite_modifier(segments[0][1]))
        else:
            # Each branch: before the next offset change, the offset in force now.
            whens = [
                (column < literal(nxt_start, UTCDateTime()), _sqlite_modifier(minutes))
                for (_, minutes), (nxt_start, _) in pairwise(segments)
            ]
            modifier = case(*whens, else_=_sqlite_modifier(segments[-1][1]))
        return func.date(column, modifier)

    def minutes_between(self, earlier: Any, later: Any) -> ColumnElement[Any]:
        """Whole minutes from ``earlier`` to ``later`` (rounded)."""
        if self.dialect == "postgresql":
            return func.round(extract("epoch", later - earlier) / 60)
        return func.round((func.julianday(later) - func.julianday(earlier)) * 1440.0)

    def course(self) -> ColumnElement[Any]:
        """The finding's course: its own column, else the ``course=`` part of its entity key."""
        key = col(Finding.entity_key)
        from_key: ColumnElement[Any]
        if self.dialect == "postgresql":
            from_key = func.substring(key, "(?:^|;)course=([^;]*)")
        else:
            pos = func.instr(key, "course=")
            rest = func.substr(key, pos + len("course="))
            semi = func.instr(rest, ";")
            from_key = case(
                (pos == 0, null()),
                (semi == 0, rest),
                else_=func.substr(rest, 1, semi - 1),
            )
        return func.coalesce(func.nullif(col(Finding.course_id), ""), from_key)

    def rows(self, inner: Select[Any], group: Sequence[str]) -> pd.DataFrame:
        """``inner`` grouped by its ``group`` columns, with a ``count`` and ``day`` as dates.

        Grouping happens on a subquery's columns because PostgreSQL cannot tell that two
        separately bound copies of an expression (the time zone, a JSON key) are the same.
        """
        sub = inner.subquery()
        cols = [sub.c[name] for name in group]
        result = _run(self.session, select(*cols, func.count()).group_by(*cols))
        frame = pd.DataFrame([tuple(r) for r in result], columns=[*group, "count"])
        if "day" in frame:
            frame["day"] = frame["day"].map(_as_date)
        frame["count"] = frame["count"].astype("int64")
        return frame


def _run(session: Session, statement: Any) -> list[tuple[Any, ...]]:
    """Execute a Core statement in the session's transaction; all its rows as tuples."""
    return [tuple(row) for row in session.connection().execute(statement)]


def _department() -> ColumnElement[Any]:
    """A finding's department: its own column, else its evidence, else its features, else
    'unknown' (findings proposed before the column existed carry it only in their JSON)."""
    stored = func.nullif(col(Finding.department), "")
    evidence = func.nullif(col(Finding.evidence)["department"].as_string(), "")
    features = func.nullif(col(Finding.features)["department"].as_string(), "")
    return func.coalesce(stored, evidence, features, UNKNOWN_DEPARTMENT)


def _net_decisions(q: _Query, *, by: str, statuses: Sequence[str]) -> pd.DataFrame:
    """Per local day and ``by`` (a findings column), decisions to each status, net of undos.

    Returns ``day``, ``<by>``, ``measure`` (a status), ``count`` (an undo subtracts one from the
    status it undid, in the week of the undo).
    """
    event = FeedbackEvent
    is_undo = col(event.action) == UNDO_ACTION
    measure = case((is_undo, col(event.from_status)), else_=col(event.to_status))
    sign = case((is_undo, -1), else_=1)
    inner = (
        select(
            q.day(col(event.at)).label("day"),
            getattr(Finding, by).label(by),
            measure.label("measure"),
            sign.label("sign"),
        )
        .join(Finding, col(Finding.id) == col(event.finding_id))
        .where(
            *q.in_range(col(event.at)),
            or_(
                and_(~is_undo, col(event.to_status).in_(statuses)),
                and_(is_undo, col(event.from_status).in_(statuses)),
            ),
            *q.finding_filters(),
        )
    )
    frame = q.rows(inner, ("day", by, "measure", "sign"))
    frame["count"] = frame["count"] * frame["sign"]
    frame = frame.drop(columns="sign")
    return frame.groupby(["day", by, "measure"], as_index=False)["count"].sum()


def _open_per_week(q: _Query, *, categories: Sequence[str] | None) -> pd.DataFrame:
    """How many gaps were open at the end of each week (or of the range): ``week``, ``open``.

    Open count = findings first seen so far, minus closing changes (to dismissed or resolved),
    plus reopenings, each summed per day in SQL; everything before the range folds into one
    starting figure (day NULL).
    """
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
    weeks = q.filters.weeks()
    values = []
    for monday in weeks:
        last_day = min(monday + timedelta(days=6), q.filters.end)
        values.append(before + int(per_day[per_day.index <= last_day].sum()))
    return _with_week_columns(pd.DataFrame({"week": weeks, "open": values}))


def _backlog_ages(q: _Query, *, moment: datetime, sla_days: int, use_current: bool) -> pd.DataFrame:
    """Open findings at ``moment`` counted per age band, with how many are older than the SLA.

    With ``use_current`` the findings' own status is used (moment is now); otherwise each
    finding's status at ``moment`` is its last feedback-log change before then.
    """
    seen = col(Finding.first_seen_at)
    conditions = [seen < moment, *q.finding_filters()]
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
    rows = _run(
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
    oldest = [_aware(s) for _, _, s in found.values() if s is not None]
    frame.attrs["oldest"] = min(oldest) if oldest else None
    return frame


def _duration_histogram(q: _Query, statuses: Sequence[str]) -> pd.DataFrame:
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
    hist = hist.assign(week=hist["day"].map(_monday)) if not hist.empty else hist
    for monday in weeks:
        part = hist[hist["week"] == monday] if not hist.empty else hist
        n = int(part["count"].sum()) if not part.empty else 0
        if n == 0:
            rows.append((monday, measure, 0, np.nan, np.nan))
            continue
        # A histogram, not rows: expand by count to get exact percentiles of the findings.
        minutes = np.repeat(part["minutes"].to_numpy(), part["count"].to_numpy())
        median, p90 = np.percentile(minutes, [50, 90]) / 60
        rows.append((monday, measure, n, float(median), float(p90)))
    return pd.DataFrame(rows, columns=["week", "measure", "findings", "median_hours", "p90_hours"])


def _promotions(q: _Query) -> pd.DataFrame:
    """Models promoted inside the range, with their promotion time in the reporting zone."""
    promoted = col(ModelVersion.promoted_at)
    rows = _run(
        q.session,
        select(col(ModelVersion.kind), col(ModelVersion.version), promoted)
        .where(promoted.is_not(None), *q.in_range(promoted))
        .order_by(promoted),
    )
    local = [
        (kind, version, _aware(at).astimezone(q.filters.zone).replace(tzinfo=None))
        for kind, version, at in rows
        if at is not None
    ]
    frame = pd.DataFrame(local, columns=["kind", "version", "promoted_at"])
    frame["label"] = frame["kind"] + " " + frame["version"]
    return frame


# --------------------------------------------------------------------------- takeaways


def _flow_takeaway(frame: pd.DataFrame, filters: TrendFilters) -> str:
    """E.g. 'Confirmed gaps fell 40% (10 → 6), last 4 weeks against the 4 before; ...'."""
    totals = frame.groupby("measure")["count"].sum()
    if totals.sum() == 0:
        return (
            f"No gaps were opened or decided between {filters.start:%d %b} "
            f"and {filters.end:%d %b %Y}."
        )
    weekly = frame.groupby(["week", "measure"])["count"].sum().unstack("measure")
    n = len(weekly)
    what = "gaps" if len(filters.categories) != 1 else f"{filters.categories[0]} gaps"
    if n >= 2:
        half = n // 2
        before = int(weekly["confirmed"].iloc[:half].sum())
        after = int(weekly["confirmed"].iloc[n - half :].sum())
        text = (
            f"Confirmed {what} {_change(before, after)} in the last {half} "
            f"week{'s' if half != 1 else ''} against the {half} before"
        )
    else:
        text = f"confirmed {what} this week: {int(totals['confirmed']):,}"
    text += (
        f"; {int(totals['opened']):,} opened, {int(totals['dismissed']):,} dismissed, "
        f"{int(totals['resolved']):,} resolved in all."
    )
    return text[0].upper() + text[1:]


def _cycle_takeaway(frame: pd.DataFrame) -> str:
    """The latest week's median time to triage and resolve, against the first week's."""
    parts = []
    for measure in ("time to triage", "time to resolve"):
        weeks = frame[(frame["measure"] == measure) & (frame["findings"] > 0)]
        if weeks.empty:
            continue
        last = weeks.iloc[-1]
        text = (
            f"median {measure} {_duration(last['median_hours'])} "
            f"(p90 {_duration(last['p90_hours'])}) in the week of {last['week']:%d %b}"
        )
        if len(weeks) > 1:
            text += f", against {_duration(weeks.iloc[0]['median_hours'])} in the first"
        parts.append(text)
    if not parts:
        return "No finding was triaged or resolved in this period."
    sentence = "; ".join(parts) + "."
    return sentence[0].upper() + sentence[1:]


def _precision_takeaway(frame: pd.DataFrame, promotions: pd.DataFrame) -> str:
    """Overall precision over the range and in the latest week with decisions."""
    overall = frame[frame["detector"] == ALL_DETECTORS]
    decided = int(overall["decided"].sum())
    if decided == 0:
        return "No confirm or dismiss decisions in this period, so no precision to show."
    confirmed = int(overall["confirmed"].sum())
    text = (
        f"Detectors were right {confirmed / decided:.0%} of the time "
        f"({confirmed:,} confirmed of {decided:,} decided)"
    )
    active = overall[overall["decided"] > 0]
    if len(active) > 1:
        last = active.iloc[-1]
        text += f"; {last['precision']:.0%} in the week of {last['week']:%d %b}"
    if not promotions.empty:
        n = len(promotions)
        text += f"; {n} model promotion{'s' if n != 1 else ''} marked"
    return text + "."


def _where_takeaway(departments: pd.DataFrame, courses: pd.DataFrame, learners: int) -> str:
    """Which department and course carry the most confirmed gaps, and the rate per learner."""
    if departments.empty:
        return "No gaps were first seen in this period."
    total_found = int(departments["found"].sum())
    total_confirmed = int(departments["confirmed"].sum())
    top = departments.iloc[0]
    if total_confirmed == 0:
        text = f"{total_found:,} gaps found, none confirmed yet; most in {top['department']}"
    else:
        text = (
            f"{top['department']} has the most confirmed gaps "
            f"({int(top['confirmed']):,} of {total_confirmed:,})"
        )
        if not courses.empty and courses.iloc[0]["confirmed"] > 0:
            lead = courses.iloc[0]
            text += f"; course {lead['course']} leads with {int(lead['confirmed']):,}"
    if learners > 0:
        text += f"; {total_confirmed * 1000 / learners:.1f} confirmed gaps per 1,000 learners"
    return text + "."


# --------------------------------------------------------------------------- small helpers


def _change(before: float, after: float) -> str:
    """'rose 25% (8 → 10)', 'fell 40% (10 → 6)', 'held at 7' or 'went from 0 to 5'."""
    before, after = int(before), int(after)
    if before == after:
        return f"held at {after:,}"
    if before == 0:
        return f"went from 0 to {after:,}"
    pct = abs(after - before) / before
    verb = "rose" if after > before else "fell"
    return f"{verb} {pct:.0%} ({before:,} → {after:,})"


def _duration(hours: float) -> str:
    """Hours under two days, days beyond."""
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _local_date(moment: datetime, filters: TrendFilters) -> date:
    # The range's end instant is the midnight after its last day; name that last day.
    return (moment - timedelta(microseconds=1)).astimezone(filters.zone).date()


def _aware(value: datetime | str) -> datetime:
    """A timestamp from an aggregate (SQLite may return text, without its column type)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _with_week_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``week`` as a timestamp (Monday) and ``week_label`` as the ISO week ``YYYY-Www``."""
    frame = frame.copy()
    weeks = pd.to_datetime(pd.Series(frame["week"], dtype=object))
    frame["week"] = weeks
    iso = weeks.dt.isocalendar()
    frame["week_label"] = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    first = ["week", "week_label"]
    return frame[first + [c for c in frame.columns if c not in first]]


def _offset_segments(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offsets (minutes) in force over [start, end], as (from instant, offset).

    Scans a day at a time and narrows each change down to the minute.
    """

    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds() // 60) if delta is not None else 0

    lo = start - timedelta(days=1)
    segments = [(lo, offset(lo))]
    cursor = lo
    while cursor < end + timedelta(days=1):
        nxt = cursor + timedelta(days=1)
        if offset(nxt) != segments[-1][1]:
            a, b = cursor, nxt  # offset(a) is the old one, offset(b) the new one
            while b - a > timedelta(minutes=1):
                mid = a + (b - a) / 2
                if offset(mid) == segments[-1][1]:
                    a = mid
                else:
                    b = mid
            b = b.replace(second=0, microsecond=0)
            segments.append((b, offset(nxt)))
        cursor = nxt
    return segments


def _sqlite_modifier(minutes: int) -> str:
    return f"{minutes:+d} minutes"


def _learners_by_department(
    learners: int | Mapping[str, int] | None, departments: pd.Series
) -> list[float]:
    """Learners per department row: a mapping's own figure; a single total applies to none."""
    if isinstance(learners, Mapping):
        return [float(learners.get(str(d), np.nan)) for d in departments]
    return [np.nan] * len(departments)
