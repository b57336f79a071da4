"""Daily series and their robust weekly rhythm, for detectors that judge a day against its usual.

Each stream (a channel, a course, the whole site) gets a baseline per weekday: the median and the
MAD (median absolute deviation, scaled by 1.4826 to read like a standard deviation) of its values
on the same weekday. A quiet Sunday is then compared with other Sundays, and a failing Tuesday
with other Tuesdays. Medians and MADs are robust: the bad day itself barely moves them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from models.detectors.common import (
    weekday_of,
)

MAD_TO_SIGMA = 1.4826


def complete_days(
    counts: pd.DataFrame, stream: Sequence[str], last_day: int | None = None
) -> pd.DataFrame:
    """Rows for every day from each stream's first to last observed day (or ``last_day``), zeros
    where the stream had nothing: a missing day is information, not an absent row."""
    if counts.empty:
        return counts
    spans = counts.groupby(list(stream), sort=True, observed=True)["day"].agg(["min", "max"])
    if last_day is not None:
        spans["max"] = np.maximum(spans["max"], last_day)
    lengths = (spans["max"] - spans["min"] + 1).to_numpy(dtype="int64")
    starts = np.repeat(spans["min"].to_numpy(dtype="int64"), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    grid = spans.index.to_frame(index=False).loc[np.repeat(np.arange(len(spans)), lengths)]
    grid = grid.reset_index(drop=True)
    grid["day"] = starts + offsets
    out = grid.merge(counts, on=[*stream, "day"], how="left")
    value_cols = [c for c in counts.columns if c not in (*stream, "day")]
    out[value_cols] = out[value_cols].fillna(0)
    return out


def weekday_baseline(
    frame: pd.DataFrame,
    stream: Sequence[str],
    value: str,
    *,
    min_same_weekday: int = 3,
    scale_floor: float | pd.Series = 0.0,
    weight_ok: pd.Series | None = None,
) -> pd.DataFrame:
    """Columns ``median``, ``scale`` and ``z`` of ``value``: robust baseline per stream, weekday.

    Weekdays seen fewer than ``min_same_weekday`` times fall back to the stream's all-days
    baseline. ``scale`` never drops below ``scale_floor`` (a stream that is always exactly 0 must
    not turn one failure into an infinite z). Rows where ``weight_ok`` is False (too few events to
    trust their share) are left out of the baseline but still scored.
    """
    keys = list(stream)
    f = frame[[*keys, "day", value]].copy()
    f["weekday"] = weekday_of(f["day"])
    v = f[value].astype(float)
    basis = v if weight_ok is None else v.where(weight_ok)
    f["_basis"] = basis
    g_w = f.groupby([*keys, "weekday"], sort=False, observed=True)["_basis"]
    med_w = g_w.transform("median")
    n_w = g_w.transform("count")
    f["_dev_w"] = (f["_basis"] - med_w).abs()
    mad_w = f.groupby([*keys, "weekday"], sort=False, observed=True)["_dev_w"].transform("median")
    g_s = f.groupby(keys, sort=False, observed=True)["_basis"]
    med_s = g_s.transform("median")
    f["_dev_s"] = (f["_basis"] - med_s).abs()
    mad_s = f.groupby(keys, sort=False, observed=True)["_dev_s"].transform("median")
    use_w = n_w >= min_same_weekday
    median = med_w.where(use_w, med_s)
    mad = mad_w.where(use_w, mad_s)
    scale = np.maximum(MAD_TO_SIGMA * mad.fillna(0.0), scale_floor)
    out = pd.DataFrame(index=frame.index)
    out["median"] = median
    out["scale"] = scale
    out["z"] = (v - median) / scale
    return out
