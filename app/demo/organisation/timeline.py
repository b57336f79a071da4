"""Time in the demo organisation: units, public holidays, ISO dates and weeks."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

DAY = 86_400
HOUR = 3_600
NA = -1  # "no timestamp" in the int64 epoch-second arrays used during generation


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def public_holidays(years: range) -> set[date]:
    """US federal public holidays (fixed-date ones not moved to a weekday) for ``years``."""
    out: set[date] = set()
    for y in years:
        out |= {
            date(y, 1, 1),
            _nth_weekday(y, 1, 0, 3),
            _nth_weekday(y, 2, 0, 3),
            _last_weekday(y, 5, 0),
            date(y, 6, 19),
            date(y, 7, 4),
            _nth_weekday(y, 9, 0, 1),
            _nth_weekday(y, 10, 0, 2),
            date(y, 11, 11),
            _nth_weekday(y, 11, 3, 4),
            date(y, 12, 25),
        }
    return out


def iso_weeks(epoch_seconds: np.ndarray) -> np.ndarray:
    """ISO week (``2026-W07``) of each timestamp (UTC)."""
    dates = pd.to_datetime(np.asarray(epoch_seconds, dtype=np.int64), unit="s")
    iso = dates.isocalendar()
    return (iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)).to_numpy()


def iso_day(epoch_seconds: int | np.integer) -> str:
    """``YYYY-MM-DD`` of one timestamp (UTC)."""
    return (date(1970, 1, 1) + timedelta(days=int(epoch_seconds) // DAY)).isoformat()
