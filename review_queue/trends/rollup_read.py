"""The trend metrics' figures read from the roll-ups (``rollup_sql``) rather than scanned.

Each function returns exactly the small frame its metric's full computation returns, so the
metric's own code (weeks, grids, takeaways) is the same on both paths; ``use_rollups`` says which
path a request takes. Rows whose count fell back to zero are left out, as the scan never saw
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlmodel import col

from review_queue.tables import TrendFindingCourse, TrendFirstMove, TrendRollup
from review_queue.trends.query import TrendQuery, fetch_rows
from review_queue.trends.rollup_sql import TOTAL_DAY, UNDONE
from review_queue.trends.rollups import built_zone, forced_full
from review_queue.trends.weeks import local_midnight


def use_rollups(q: TrendQuery) -> bool:
    """Whether the roll-ups answer ``q``: built for its zone, and no full computation asked."""
    return not forced_full() and built_zone(q.session.connection()) == q.filters.tz


def _narrow(
    q: TrendQuery, table: Any, categories: Sequence[str] | None = None, *, counted: bool = True
) -> list[Any]:
    f = q.filters
    out: list[ColumnElement[bool]] = [col(table.n) != 0] if counted else []
    if f.categories:
        out.append(col(table.category).in_(f.categories))
    if categories is not None:
        out.append(col(table.category).in_(categories))
    if f.departments:
        out.append(col(table.department).in_(f.departments))
    return out


def _in_days(q: TrendQuery, table: Any) -> list[Any]:
    return [col(table.day) >= q.filters.start, col(table.day) <= q.filters.end]


def measures_per_day(q: TrendQuery, measures: Sequence[str], by: str) -> pd.DataFrame:
    """``day``, ``<by>``, ``measure``, ``count`` of roll-up ``measures`` inside the range."""
    r = TrendRollup
    group = (col(r.day), getattr(r, by), col(r.measure))
    rows = fetch_rows(
        q.session,
        select(*group, func.sum(r.n))
        .where(col(r.measure).in_(measures), *_in_days(q, r), *_narrow(q, r))
        .group_by(*group)
        .having(func.sum(r.n) != 0),
    )
    frame = pd.DataFrame(rows, columns=["day", by, "measure", "count"])
    frame["count"] = frame["count"].astype("int64")
    return frame


def net_decisions(q: TrendQuery, *, by: str, statuses: Sequence[str]) -> pd.DataFrame:
    """``query.net_decisions`` from the roll-ups: decisions less their undos, per day."""
    undone = {UNDONE + s: s for s in statuses}
    frame = measures_per_day(q, [*statuses, *undone], by)
    minus = frame["measure"].isin(list(undone))
    frame.loc[minus, "count"] = -frame.loc[minus, "count"]
    frame["measure"] = frame["measure"].map(lambda m: undone.get(m, m))
    return frame.groupby(["day", by, "measure"], as_index=False)["count"].sum()


def opened_per_day(q: TrendQuery) -> pd.DataFrame:
    """Findings first seen per day and category in the range: ``day``, ``category``, ``count``."""
    frame = measures_per_day(q, ("opened",), "category")
    return frame.drop(columns="measure")


def open_changes(q: TrendQuery, categories: Sequence[str] | None) -> tuple[int, pd.Series]:
    """Gaps open before the range starts, and the change per day inside it (opened, less
    closed, plus reopened): the backlog's weekly figures without reading years of days."""
    r = TrendRollup
    signed = func.sum(case((col(r.measure) == "closed", -r.n), else_=r.n))
    measures = col(r.measure).in_(("opened", "closed", "reopened"))
    narrow = _narrow(q, r, categories)
    total = fetch_rows(q.session, select(signed).where(measures, col(r.day) == TOTAL_DAY, *narrow))
    rows = fetch_rows(
        q.session,
        select(col(r.day), signed)
        .where(measures, col(r.day) >= q.filters.start, *narrow)
        .group_by(col(r.day)),
    )
    per_day = pd.Series({day: int(n or 0) for day, n in rows}, dtype="int64")
    before = int(total[0][0] or 0) - int(per_day.sum())
    return before, per_day[per_day.index <= q.filters.end]


def open_by_first_seen(q: TrendQuery, since: date) -> tuple[int, dict[date, int], date | None]:
    """Gaps open now: how many in all, how many per first-seen day from ``since``, and the first
    day any was first seen."""
    r = TrendRollup
    narrow = [col(r.measure) == "open", *_narrow(q, r)]
    total = fetch_rows(q.session, select(func.sum(r.n)).where(*narrow, col(r.day) == TOTAL_DAY))
    rows = fetch_rows(
        q.session,
        select(col(r.day), func.sum(r.n)).where(*narrow, col(r.day) >= since).group_by(col(r.day)),
    )
    first = fetch_rows(
        q.session, select(func.min(r.day)).where(*narrow, col(r.n) > 0, col(r.day) > TOTAL_DAY)
    )
    return int(total[0][0] or 0), {d: int(n) for d, n in rows if n}, first[0][0]


def day_span(day: date, q: TrendQuery) -> tuple[datetime, datetime]:
    """The UTC instants a local day of the reporting zone starts and ends."""
    zone = q.filters.zone
    return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)


def first_move_minutes(q: TrendQuery, kind: str) -> pd.DataFrame:
    """``cycle_times``' histogram from ``trend_first_moves``: ``day``, ``minutes``, ``count``."""
    m = TrendFirstMove
    narrow = _narrow(q, m, counted=False)
    rows = fetch_rows(
        q.session,
        select(col(m.day), col(m.minutes), func.count())
        .where(col(m.kind) == kind, *_in_days(q, m), *narrow)
        .group_by(col(m.day), col(m.minutes)),
    )
    frame = pd.DataFrame(rows, columns=["day", "minutes", "count"])
    frame["count"] = frame["count"].astype("int64")
    frame["minutes"] = frame["minutes"].astype("float64").clip(lower=0)
    return frame


def _where_sums(table: Any, by: Any, q: TrendQuery, *, limit: int | None = None) -> list[Any]:
    def total(measure: str) -> Any:
        return func.sum(case((col(table.measure) == measure, table.n), else_=0))

    found, real, still_open = total("opened"), total("real"), total("open")
    statement = (
        select(by, found, real, still_open)
        .where(
            col(table.measure).in_(("opened", "real", "open")),
            *_in_days(q, table),
            *_narrow(q, table),
        )
        .group_by(by)
        .having(found > 0)
        .order_by(real.desc(), found.desc(), by)
    )
    return fetch_rows(q.session, statement if limit is None else statement.limit(limit))


def where_by_department(q: TrendQuery) -> list[Any]:
    """``gap_locations``' rows per department: department, found, confirmed, open."""
    return _where_sums(TrendRollup, col(TrendRollup.department), q)


def where_by_course(q: TrendQuery, limit: int) -> list[Any]:
    """The ``limit`` courses with most confirmed gaps: course, found, confirmed, open."""
    return _where_sums(TrendFindingCourse, col(TrendFindingCourse.course), q, limit=limit)


def first_seen_within(column: Any, spans: Sequence[tuple[datetime, datetime]]) -> Any:
    """``column`` inside one of ``spans`` ([start, end) each)."""
    return or_(*[and_(column >= a, column < b) for a, b in spans])
