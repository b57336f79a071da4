"""Local days and ISO weeks (Monday start) of the reporting time zone, in Python and pandas.

Their SQL counterparts, which cut a stored UTC time into a local day, are in ``sql_time``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd


def monday_of(day: date) -> date:
    """The Monday that starts ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` starts in ``zone``."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The local day in ``zone`` that ends at or contains ``moment``."""
    # The range's end instant is the midnight after its last day; name that last day.
    return (moment - timedelta(microseconds=1)).astimezone(zone).date()


def with_week_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``week`` as a timestamp (Monday) and ``week_label`` as the ISO week ``YYYY-Www``."""
    frame = frame.copy()
    weeks = pd.to_datetime(pd.Series(frame["week"], dtype=object))
    frame["week"] = weeks
    # Labelled once per distinct week (a chart has a dozen), not once per row through pandas.
    labels = {w: _iso_label(w) for w in set(weeks)}
    frame["week_label"] = pd.Series([labels[w] for w in weeks], index=frame.index, dtype=object)
    first = ["week", "week_label"]
    return frame[first + [c for c in frame.columns if c not in first]]


def _iso_label(week: pd.Timestamp) -> str:
    year, number, _ = week.isocalendar()
    return f"{year}-W{number:02d}"
