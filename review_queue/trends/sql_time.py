"""Cutting stored UTC times into local days of the reporting time zone, in SQL, on SQLite and
PostgreSQL alike; and reading back what an aggregate returns.

Metrics group by a local day in SQL and pandas rolls days up into ISO weeks (``weeks``). Bucketing
by day in SQL and by week in pandas keeps the SQL portable: SQLite and PostgreSQL disagree on week
functions, but both can name a day.

The reporting time zone is honoured in SQL: PostgreSQL converts with ``timezone(zone, at)``;
SQLite, which has no time zones, shifts each stored UTC time by the zone's offset in force at
that instant (a CASE over the zone's offset changes inside the range, computed here).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import ColumnElement, case, extract, func, literal

from review_queue.types import UTCDateTime


def local_day(
    column: Any, *, dialect: str, tz: str, start: datetime, end: datetime
) -> ColumnElement[Any]:
    """The local calendar day in ``tz`` of a UTC timestamp column, for times in [start, end]."""
    if dialect == "postgresql":
        return func.date(func.timezone(tz, column))
    segments = offset_segments(ZoneInfo(tz), start, end)
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


def minutes_between(earlier: Any, later: Any, *, dialect: str) -> ColumnElement[Any]:
    """Whole minutes from ``earlier`` to ``later`` (rounded)."""
    if dialect == "postgresql":
        return func.round(extract("epoch", later - earlier) / 60)
    return func.round((func.julianday(later) - func.julianday(earlier)) * 1440.0)


def as_utc(value: datetime | str) -> datetime:
    """A timestamp from an aggregate (SQLite may return text, without its column type)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_date(value: Any) -> date | None:
    """A day from a grouped row (a date, a timestamp or ISO text, as the dialect returns it)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def offset_segments(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
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
