"""Daily series and their robust weekly rhythm, for detectors that judge a day against its usual.

Each stream (a channel, a course, the whole site) gets a baseline per weekday: the median and the
MAD (median absolute deviation, scaled by 1.4826 to read like a standard deviation) of its values
on the same weekday. A quiet Sunday is then compared with other Sundays, and a failing Tuesday
with other Tuesdays. Medians and MADs are robust: the bad day itself barely moves them.

For reporting gaps: the window each course is judged in, how many of the days before a day a
stream reported, runs of flagged days, and the distinct learners of a stream over some days.
For course-weeks: which weeks open or close a run of a course's activity (a term's edges).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from models.detectors.base import Columns, columns
from models.detectors.common import day_number, utc, weekday_of
from models.snapshot import Snapshot

MAD_TO_SIGMA = 1.4826

# What ``course_windows`` reads: a course's own dates when the snapshot carries them.
COURSE_WINDOW_READS: dict[str, Columns] = {
    "courses": columns("course_id", optional=("starts_at", "ends_at"))
}


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


def days_reported_before(
    daily: pd.DataFrame, stream: Sequence[str], value: str, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``daily`` (complete days, sorted by stream then day): how many of the ``days``
    days before it belong to the stream's series, and on how many of them ``value`` was > 0."""
    keys = daily[list(stream)]
    new = np.ones(len(daily), dtype=bool)
    if len(daily) > 1:
        new[1:] = (keys.iloc[1:].to_numpy() != keys.iloc[:-1].to_numpy()).any(axis=1)
    idx = np.arange(len(daily))
    first = np.maximum.accumulate(np.where(new, idx, 0))
    lo = np.maximum(first, idx - days)
    seen = np.concatenate([[0], np.cumsum(daily[value].to_numpy() > 0)])
    return idx - lo, seen[idx] - seen[lo]


def runs(daily: pd.DataFrame, stream: Sequence[str], flag: np.ndarray) -> pd.DataFrame:
    """Runs of consecutive flagged days per stream: ``first`` and ``last`` row positions in
    ``daily`` (complete days, sorted by stream then day) of each run."""
    keys = daily[list(stream)].to_numpy()
    flag = np.asarray(flag, dtype=bool)
    same = np.zeros(len(daily), dtype=bool)
    if len(daily) > 1:
        same[1:] = (keys[1:] == keys[:-1]).all(axis=1)
    prev = np.zeros(len(daily), dtype=bool)
    prev[1:] = flag[:-1]
    starts = np.flatnonzero(flag & ~(prev & same))
    nxt = np.zeros(len(daily), dtype=bool)
    nxt[:-1] = flag[1:] & same[1:]
    ends = np.flatnonzero(flag & ~nxt)
    return pd.DataFrame({"first": starts, "last": ends})


def cohort_sizes(
    keys: Callable[[np.ndarray, np.ndarray], np.ndarray],
    stream: np.ndarray,
    found: pd.DataFrame,
    daily: pd.DataFrame,
    days: int,
    span: tuple[int, int, int],
) -> np.ndarray:
    """Distinct users active in each run's stream in the ``days`` days before its first day
    (``found``: ``first`` row positions in ``daily``; ``stream``: each run's stream code).

    Where the stream's series began less than ``days`` before, its first ``days`` days are
    counted instead: a cohort's size does not depend on where an export happens to begin (the
    run's silent days add nobody). ``keys(lo, hi)`` gives the sorted distinct
    ``(stream * n_days + day) * n_users + user`` of the events on at least the days
    ``[lo, hi)`` of each run (days counted from the first day of the data), built only when
    there are runs; ``span`` is (first day of the data, n_days, n_users)."""
    if found.empty:
        return np.zeros(0, dtype="int64")
    d0, n_days, n_users = span
    rows = found["first"].to_numpy()
    day = daily["day"].to_numpy()[rows] - d0
    days_before = daily["days_before"].to_numpy()[rows]
    start = day - days_before
    short = days_before < days
    lo = np.clip(np.where(short, start, day - days), 0, n_days)
    hi = np.clip(np.where(short, start + days, day), 0, n_days)
    sorted_keys = keys(lo, hi)
    first = np.searchsorted(sorted_keys, (stream * n_days + lo) * n_users)
    stop = np.searchsorted(sorted_keys, (stream * n_days + hi) * n_users)
    # Per candidate (few): a slice holds each user once per day, so count distinct users.
    return np.array(
        [len(np.unique(sorted_keys[a:b] % n_users)) for a, b in zip(first, stop, strict=True)],
        dtype="int64",
    )


def day_factor(courses: pd.DataFrame) -> pd.Series:
    """Per day, the median over course streams of events / their weekday's usual count."""
    busy = courses[courses["median"] >= 5]
    ratio = busy["events"] / busy["median"]
    return ratio.groupby(busy["day"]).median()


def course_windows(
    snapshot: Snapshot, counts: pd.DataFrame, d0: int, last_day: int
) -> pd.DataFrame:
    """(course_id, start, end) days judged: the course's ``starts_at`` to ``ends_at`` where the
    snapshot carries them, else its first and last event; never before the data or after the
    last whole day before ``as_of``."""
    span = counts.groupby("course_id", sort=True, observed=True)["day"].agg(["min", "max"])
    windows = span.rename(columns={"min": "start", "max": "end"})
    courses = snapshot["courses"].drop_duplicates("course_id").set_index("course_id")
    courses.index = courses.index.astype(str)
    for column, edge in (("starts_at", "start"), ("ends_at", "end")):
        if column not in courses:
            continue
        when = utc(courses[column]).reindex(windows.index)
        if edge == "end":
            # A course that ends at midnight has no part of that day left.
            when = when - pd.Timedelta(microseconds=1)
        days = day_number(when)
        windows[edge] = days.where(days.notna(), windows[edge]).astype("int64")
    windows["start"] = windows["start"].clip(lower=d0)
    windows["end"] = windows["end"].clip(upper=last_day)
    return windows.reset_index()


def window_days(counts: pd.DataFrame, windows: pd.DataFrame, col: str) -> pd.DataFrame:
    """Every day of each stream's window, zeros where nothing arrived, sorted by stream then day:
    ``counts`` has (col, day, events), ``windows`` (col, start, end) days (events outside the
    window are left out)."""
    w = windows[windows["end"] >= windows["start"]]
    c = counts.merge(w, on=col, how="inner")
    c = c[(c["day"] >= c["start"]) & (c["day"] <= c["end"])]
    # Zero rows at both ends make the series span the window, not just the days with events.
    edges = [w[[col]].assign(day=w[edge].to_numpy(), events=0) for edge in ("start", "end")]
    c = pd.concat([c[[col, "day", "events"]], *edges], ignore_index=True)
    c = c.groupby([col, "day"], as_index=False, sort=True, observed=True)["events"].sum()
    return complete_days(c, [col]).reset_index(drop=True)


def site_stream(
    day: np.ndarray, events: np.ndarray, last_day: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts, window) of one site-wide stream from counts of its events (``events`` on day
    numbers ``day``, a day may come more than once): events per day with events, judged from
    its first day to its last (never after ``last_day``)."""
    if len(day) == 0 or int(np.sum(events)) == 0:
        return (
            pd.DataFrame(columns=["stream", "day", "events"]),
            pd.DataFrame({"stream": ["site"], "start": [0], "end": [-1]}),
        )
    d0 = int(day.min())
    n = np.bincount(day - d0, weights=events).astype("int64")
    on = np.flatnonzero(n)
    counts = pd.DataFrame({"stream": "site", "day": on + d0, "events": n[on]})
    end = min(int(on.max()) + d0, last_day)
    return counts, pd.DataFrame({"stream": ["site"], "start": [int(on.min()) + d0], "end": [end]})


def back_at_usual(
    daily: pd.DataFrame, col: str, found: pd.DataFrame, within: int, share: float
) -> pd.DataFrame:
    """The runs of ``found`` (``first``/``last`` row positions in ``daily``, complete days
    sorted by stream then day) with the usual level on both sides, and ``back``: the row back at
    it. "Its usual level" is the median day of the history before the run (``days_before``
    days): over the last ``within`` of those days the median is at least ``share`` of it, and
    within ``within`` days of the run's first day a day reaches ``share`` of it again. After the
    end of a term a stream trickles on, but is never back at what it was."""
    streams, events = daily[col].to_numpy(), daily["events"].to_numpy()
    before = daily["days_before"].to_numpy()[found["first"].to_numpy()]
    pairs = list(zip(found["first"], before, strict=True))
    level = np.array([np.median(events[i - n : i]) if n else np.nan for i, n in pairs])
    recent = np.array(
        [np.median(events[i - min(n, within) : i]) if n else np.nan for i, n in pairs]
    )
    steady = recent >= share * level
    found, level = found[steady].reset_index(drop=True), level[steady]
    first, last = found["first"].to_numpy(), found["last"].to_numpy()
    back = np.full(len(found), -1)
    for offset in range(within, 0, -1):
        # Latest offset first, so the earliest day back wins.
        k = np.where((first + offset > last) & (first + offset < len(daily)), first + offset, 0)
        ok = (k > 0) & (streams[k] == streams[first])
        ok &= events[k] >= np.maximum(share * level, 1.0)
        back = np.where(ok, k, back)
    return found.assign(back=back)[back >= 0].reset_index(drop=True)


def run_edges(weeks: pd.DataFrame, data_start: int, last_day: int, min_learners: int) -> np.ndarray:
    """Which course-weeks of ``weeks`` (``course_id``, ``monday``, ``learners``: distinct
    learners of the week's learner events, as ``event_passes.course_week_counts`` counts them)
    open or close a run of the course's activity: the week before (wholly inside the data, which
    begins on ``data_start``) or the days after (up to a week, as far as the learner events go:
    ``last_day``) had fewer than ``min_learners`` distinct learners. That is where a term starts
    or ends, often part way through the week; a log carries no term dates, so such a week looks
    falsely quiet against full teaching weeks. A week absent from ``weeks`` had no learner."""
    if weeks.empty:
        return np.zeros(0, dtype=bool)
    learners = pd.Series(
        weeks["learners"].to_numpy(dtype="int64"),
        index=pd.MultiIndex.from_arrays([weeks["course_id"], weeks["monday"]]),
    )
    monday = weeks["monday"].to_numpy(dtype="int64")

    def around(offset: int) -> np.ndarray:
        key = pd.MultiIndex.from_arrays([weeks["course_id"], weeks["monday"] + offset])
        return learners.reindex(key).fillna(0).to_numpy(dtype="int64")

    prev = np.where(monday - 7 >= data_start, around(-7), min_learners)
    nxt = np.where(monday + 7 <= last_day, around(7), min_learners)
    return np.asarray((prev < min_learners) | (nxt < min_learners), dtype=bool)
