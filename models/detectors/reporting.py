"""The detector of holes in the activity feed: days (or runs of days) a stream that reports
almost daily did not report, with its usual level on both sides."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd

from models.detectors.base import (
    Columns,
    Detector,
    Proposal,
    merge_reads,
    records,
    saturating,
)
from models.detectors.common import (
    ACTIVITY_READS,
    COURSE_LABEL_READS,
    as_of_ts,
    course_labels,
    day_label,
    day_number,
    label,
    unique_sorted,
    weekday_of,
)
from models.detectors.constraints import Boolean, Constraint, Interval
from models.detectors.event_passes import course_day_counts, event_span, stream_users
from models.detectors.series import (
    COURSE_WINDOW_READS,
    back_at_usual,
    cohort_sizes,
    course_windows,
    day_factor,
    days_reported_before,
    runs,
    site_stream,
    weekday_baseline,
    window_days,
)
from models.snapshot import Snapshot


class ReportingGapDetector(Detector):
    """Holes in the activity feed: a day (or run of days) with no events, or far fewer than usual
    for that weekday, in a stream that reports almost daily, with its usual level on both sides.

    A stream is the site's own events (no course: logins and the like) or one course's events,
    judged inside the course's ``starts_at`` to ``ends_at`` when the snapshot carries them, else
    from its first to its last event. A run of days is a gap (contract version 2) when:
    - in the ``history_days`` days before it, the stream reported on at least
      ``min_reporting_share`` of its days, with at least ``min_active_learners`` distinct
      learners active (where the data or the course began more recently: the share over the
      days there are, at least ``min_history_days``, and the learners of its first
      ``history_days`` days);
    - each day has no events, or far fewer than usual for its weekday (``low_ratio``,
      ``z_threshold``, ``min_usual_events``), on a weekday the stream normally reports
      (``expected_share`` of its other such weekdays, where there are ``min_same_weekday``);
    - the stream is back at ``recovered_share`` of its usual level (its median day in that
      history) within ``recover_within_days`` days of the run's first day: the end of a term
      (or of the data) is never a gap, even when a trickle of events follows, nor is a break
      longer than that.
    A day on which the whole site is silent is one site-level finding (``date=``) and no course
    finding; so is a site-stream gap that most courses share (``feed_down_share``). On
    organisation-wide quiet days (holidays) every stream's usual level is lowered alike.
    """

    name = "reporting_gap"
    version = "2.0"
    categories = ("reporting_gap",)
    requires = ("courses", "activity")
    reads: ClassVar[dict[str, Columns]] = merge_reads(
        ACTIVITY_READS, COURSE_LABEL_READS, COURSE_WINDOW_READS
    )
    # Without a course's dates it is judged from its first to its last event: a course that
    # fell silent from its start, or before its end, shows no hole.
    unchecked_without: ClassVar[dict[str, str]] = {
        "courses.starts_at": "courses silent from their start",
        "courses.ends_at": "courses silent before their end",
    }
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "expected_share": [Interval(Real, 0, 1)],
        "min_same_weekday": [Interval(Integral, 1, None)],
        "low_ratio": [Interval(Real, 0, 1)],
        "z_threshold": [Interval(Real, 0, None)],
        "min_usual_events": [Interval(Real, 0, None)],
        "course_streams": [Boolean()],
        "feed_down_share": [Interval(Real, 0, 1)],
        "history_days": [Interval(Integral, 1, None)],
        "min_history_days": [Interval(Integral, 1, None)],
        "min_reporting_share": [Interval(Real, 0, 1)],
        "min_active_learners": [Interval(Integral, 0, None)],
        "recover_within_days": [Interval(Integral, 1, None)],
        "recovered_share": [Interval(Real, 0, None)],
    }

    def __init__(
        self,
        *,
        expected_share: float = 0.8,
        min_same_weekday: int = 3,
        low_ratio: float = 0.25,
        z_threshold: float = 4.0,
        min_usual_events: float = 20.0,
        course_streams: bool = True,
        feed_down_share: float = 0.5,
        history_days: int = 28,
        min_history_days: int = 3,
        min_reporting_share: float = 0.9,
        min_active_learners: int = 10,
        recover_within_days: int = 7,
        recovered_share: float = 0.5,
        max_evidence_rows: int = 10,
    ) -> None:
        self.expected_share = expected_share
        self.min_same_weekday = min_same_weekday
        self.low_ratio = low_ratio
        self.z_threshold = z_threshold
        self.min_usual_events = min_usual_events
        self.course_streams = course_streams
        self.feed_down_share = feed_down_share
        self.history_days = history_days
        self.min_history_days = min_history_days
        self.min_reporting_share = min_reporting_share
        self.min_active_learners = min_active_learners
        self.recover_within_days = recover_within_days
        self.recovered_share = recovered_share
        self.max_evidence_rows = max_evidence_rows

    def _daily(self, counts: pd.DataFrame, windows: pd.DataFrame, col: str) -> pd.DataFrame:
        """Every day of each stream's window (zeros where nothing arrived) with its weekday
        baseline; ``counts`` has (col, day, events), ``windows`` (col, start, end) days."""
        daily = window_days(counts, windows, col)
        if daily.empty:
            return daily
        daily["weekday"] = weekday_of(daily["day"])
        active = (daily["events"] > 0).astype(int)
        g = active.groupby([daily[col], daily["weekday"]], sort=False, observed=True)
        n_same = g.transform("size") - 1
        active_others = g.transform("sum") - active
        # "Normally reports" on this weekday, judged leaving the day itself out; with too few
        # such weekdays to tell, the share of days reported before decides alone.
        daily["expected"] = (n_same < self.min_same_weekday) | (
            active_others >= self.expected_share * n_same.clip(lower=1)
        )
        base = weekday_baseline(
            daily, [col], "events", min_same_weekday=self.min_same_weekday, scale_floor=1.0
        )
        daily["median"], daily["base_scale"] = base["median"], base["scale"]
        n_before, reported = days_reported_before(daily, [col], "events", self.history_days)
        daily["days_before"], daily["reported_before"] = n_before, reported
        return daily

    def _judge(self, daily: pd.DataFrame, factors: pd.Series | None) -> pd.DataFrame:
        """Set ``usual``, ``z`` and ``kind``: 'none' (no events on a weekday the stream
        normally reports), 'low' (far fewer than usual) or ''.

        ``factors`` (day → the typical events/usual ratio across all course streams that day)
        lowers the bar on organisation-wide quiet days such as public holidays: a stream that is
        as quiet as everyone else is not missing data.
        """
        if daily.empty:
            return daily.assign(usual=0.0, z=0.0, kind="")
        factor = np.ones(len(daily))
        if factors is not None:
            factor = daily["day"].map(factors).fillna(1.0).clip(0.0, 1.0).to_numpy()
        usual = daily["median"].to_numpy() * factor
        scale = np.maximum(daily["base_scale"].to_numpy() * factor, np.sqrt(np.maximum(usual, 1.0)))
        events = daily["events"].to_numpy()
        z = (events - usual) / scale
        expected = daily["expected"].to_numpy(dtype=bool)
        none = expected & (events == 0)
        low = (
            expected
            & (events > 0)
            & (usual >= self.min_usual_events)
            & (events <= self.low_ratio * usual)
            & (z <= -self.z_threshold)
        )
        return daily.assign(usual=usual, z=z, kind=np.select([none, low], ["none", "low"], ""))

    def _gap_runs(self, daily: pd.DataFrame, col: str) -> pd.DataFrame:
        """Runs of gap days with enough history before them and the usual level soon after:
        ``first``/``last`` row positions in ``daily`` and ``back`` (the row back at usual,
        ``recovered_share`` of the median day in the history before the run)."""
        if daily.empty:
            return pd.DataFrame(columns=["first", "last", "back"])
        found = runs(daily, [col], daily["kind"].to_numpy() != "")
        first = found["first"].to_numpy()
        n_before = daily["days_before"].to_numpy()[first]
        share = daily["reported_before"].to_numpy()[first] / np.maximum(n_before, 1)
        keep = (n_before >= self.min_history_days) & (share >= self.min_reporting_share)
        found = found[keep].reset_index(drop=True)
        return back_at_usual(daily, col, found, self.recover_within_days, self.recovered_share)

    def _with_learners(
        self,
        found: pd.DataFrame,
        daily: pd.DataFrame,
        keys: Callable[[np.ndarray, np.ndarray], np.ndarray],
        stream: np.ndarray,
        span: tuple[int, int, int],
    ) -> pd.DataFrame:
        """``found`` runs with ``learners`` (distinct in the history days), only those with
        enough. ``keys(lo, hi)`` gives sorted (stream, day, user) codes of the runs' history
        days (built only when there are runs), ``stream`` is each run's code and ``span``
        (first day, number of days, number of users) what the codes count from."""
        found = found.assign(
            learners=cohort_sizes(keys, stream, found, daily, self.history_days, span)
        )
        return found[found["learners"] >= self.min_active_learners].reset_index(drop=True)

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        # Events per course-day (and the site's own per day), counted on the engine.
        counts = course_day_counts(snapshot)
        if counts.empty:
            return []
        last_day = int(day_number(pd.Series([as_of_ts(snapshot)])).iloc[0]) - 1
        span_of = event_span(snapshot)
        d0 = int(span_of["first_day"])
        n_days = int(span_of["last_day"]) - d0 + 1
        n_users = max(int(span_of["users"]), 1)
        span = (d0, n_days, n_users)
        known = counts["course_id"].notna().to_numpy()
        day = counts["day"].to_numpy(dtype="int64")
        n = counts["events"].to_numpy(dtype="int64")
        cc = counts[known].reset_index(drop=True)
        ids = pd.Index(sorted(set(cc["course_id"].astype(str))), dtype=object)

        def stream_days(
            courses: list[str] | None,
        ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
            """Sorted (stream, day, user) keys of a stream's events on the runs' days: every
            event (None), the site's own ([]) or these courses' (stream = course's code)."""

            def build(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
                ranges = sorted(
                    {(d0 + int(a), d0 + int(b)) for a, b in zip(lo, hi, strict=True) if b > a}
                )
                got = stream_users(snapshot, courses, ranges)
                if got.empty:
                    return np.zeros(0, dtype="int64")
                code = np.zeros(len(got), dtype="int64")
                if courses:
                    code = ids.get_indexer(got["course_id"]).astype("int64")
                user = pd.Index(sorted(set(got["user_id"])), dtype=object).get_indexer(
                    got["user_id"]
                )
                d = got["day"].to_numpy(dtype="int64")
                return unique_sorted((code * n_days + d - d0) * n_users + user.astype("int64"))

            return build

        # The whole site (every event) and the site's own stream (events without a course).
        total = self._judge(self._daily(*site_stream(day, n, last_day), "stream"), None)
        total = total.assign(kind=np.where(total["kind"] == "none", "none", ""))
        site_daily = self._daily(*site_stream(day[~known], n[~known], last_day), "stream")
        courses = self._daily(cc, course_windows(snapshot, cc, d0, last_day), "course_id")
        factor = day_factor(courses) if not courses.empty else None
        courses = self._judge(courses, factor)
        site_daily = self._judge(site_daily, factor)
        silent = self._gap_runs(total, "stream")
        none = np.zeros(len(silent), dtype="int64")
        silent = self._with_learners(silent, total, stream_days(None), none, span)
        site = self._gap_runs(site_daily, "stream")
        none = np.zeros(len(site), dtype="int64")
        site = self._with_learners(site, site_daily, stream_days([]), none, span)
        # A course's own log (one course, no site events such as logins) does not carry the
        # site: its silent day is that course's, not the whole site's.
        sole = list(ids) if not int(span_of["without_course"]) else []
        only = str(sole[0]) if len(sole) == 1 else None
        out = [
            self._make(r, total, None, snapshot, silent=True, course=only)
            for r in silent.to_dict("records")
        ]
        taken = {int(total["day"].iat[r]) for r in silent["first"]}
        out.extend(
            self._make(r, site_daily, None, snapshot)
            for r in site.to_dict("records")
            if int(site_daily["day"].iat[r["first"]]) not in taken
        )
        if not self.course_streams or courses.empty:
            return out
        hit = courses["kind"] != ""
        # The whole site silent, or its own stream lost together with most courses: the feed
        # was down, reported once (the site day) rather than once per course.
        share = hit.groupby(courses["day"]).mean()
        site_hit = site_daily.loc[site_daily["kind"] != "", "day"]
        feed_down = set(share[(share >= self.feed_down_share) & share.index.isin(site_hit)].index)
        feed_down |= set(total.loc[total["events"] == 0, "day"].astype(int))
        found = self._gap_runs(courses, "course_id")
        first_days = courses["day"].to_numpy()[found["first"].to_numpy()]
        found = found[~np.isin(first_days, list(feed_down))].reset_index(drop=True)
        cand = courses["course_id"].to_numpy()[found["first"].to_numpy()]
        code = ids.get_indexer(pd.Index(cand).astype(str)).astype("int64")
        # Learners only for the candidate courses' events: a few, not every event.
        found = self._with_learners(
            found, courses, stream_days(sorted({str(c) for c in cand})), code, span
        )
        out.extend(self._make(r, courses, "course_id", snapshot) for r in found.to_dict("records"))
        return out

    def _make(
        self,
        run: dict[str, object],
        daily: pd.DataFrame,
        stream: str | None,
        snapshot: Snapshot,
        *,
        silent: bool = False,
        course: str | None = None,
    ) -> Proposal:
        first, last, back = (int(run[k]) for k in ("first", "last", "back"))  # type: ignore[call-overload]
        row = daily.iloc[first]
        day, n_run = int(row["day"]), last - first + 1
        date, end_date, back_date = day_label([day, day + n_run - 1, daily["day"].iat[back]])
        part = daily.iloc[first : last + 1]
        series = daily.iloc[max(first - 7, 0) : back + 8]
        series = series[series[stream or "stream"] == row[stream or "stream"]]
        series = series.assign(date=day_label(series["day"]), usual=series["usual"].round(1))
        events, usual = int(part["events"].sum()), float(part["usual"].sum())
        if stream:
            course = str(row[stream])
        if course is not None:
            where = label(pd.Series([course]), course_labels(snapshot)).iloc[0]
            key = f"course={course};date={date}"
        else:
            where, key = ("the whole site" if silent else "the site"), f"date={date}"
        when = f"on {date}" if n_run == 1 else f"from {date} to {end_date} ({n_run} days)"
        if (part["kind"] == "none").all():
            what = f"No activity events arrived for {where} {when}"
            score = 0.75 + 0.25 * float(saturating(usual, 50.0))
        else:
            what = f"Only {events} activity events arrived for {where} {when}"
            score = 0.5 + 0.3 * (1.0 - events / max(usual, 1.0))
        share = float(row["reported_before"]) / max(float(row["days_before"]), 1.0)
        usual_s = f"usually about {usual:.0f}" + (" on that weekday" if n_run == 1 else "")
        return self._proposal(
            category="reporting_gap",
            entity_key=key,
            title=f"{what} ({usual_s})",
            score=score,
            severity="high" if course is None else "medium",
            evidence={"daily_series": records(series[["date", "events", "usual"]], 22)},
            features={
                "events": events,
                "usual_events": round(usual, 2),
                "robust_z": round(float(row["z"]), 2),
                "gap_days": n_run,
                "reported_share_before": round(share, 3),
                "active_learners_before": int(run["learners"]),  # type: ignore[call-overload]
                "days_until_back": int(daily["day"].iat[back]) - day,
            },
            explanation=f"In the {int(row['days_before'])} days before, {where} reported on "
            f"{share:.0%} of days with {int(run['learners'])} active learners "  # type: ignore[call-overload]
            f"and it was back to its usual level on {back_date}; {events} events {when} against "
            f"a usual {usual:.0f} means data went missing, so reports built on it are wrong.",
        )
