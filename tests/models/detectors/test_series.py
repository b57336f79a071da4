"""The robust weekday baseline of daily series."""

from __future__ import annotations

import pandas as pd

from models.detectors.series import weekday_baseline
from tests.helpers.detector_snapshots import DAYS


def test_weekday_baseline_compares_a_day_with_the_same_weekday() -> None:
    days = [int((d - pd.Timestamp("1970-01-01", tz="UTC")).days) for d in DAYS]
    # Weekdays see 100 events, Sundays 5; one Tuesday sees 5.
    values = [5 if d.day_of_week == 6 else 100 for d in DAYS]
    tuesday = next(i for i, d in enumerate(DAYS) if d.day_of_week == 1 and d.day > 15)
    values[tuesday] = 5
    frame = pd.DataFrame({"s": "x", "day": days, "v": values})
    base = weekday_baseline(frame, ["s"], "v", scale_floor=1.0)
    sunday = next(i for i, d in enumerate(DAYS) if d.day_of_week == 6)
    assert base["z"].iloc[sunday] == 0  # a quiet Sunday is normal for a Sunday
    assert base["z"].iloc[tuesday] < -50  # a quiet Tuesday is not
