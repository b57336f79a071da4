"""Detectors on the integrations that feed Gapdesk: sync runs that fail, lose records or stop, and
days the activity feed did not report."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd

from models.detectors.base import (
    Columns,
    Detector,
    Proposal,
    columns,
    merge_reads,
    records,
    saturating,
)
from models.detectors.common import (
    ACTIVITY_READS,
    COURSE_LABEL_READS,
    ONE_DAY,
    activity_days,
    as_of_ts,
    course_labels,
    day_label,
    day_number,
    label,
    utc,
    weekday_of,
)
from models.detectors.constraints import Boolean, Constraint, Interval
from models.detectors.series import complete_days, weekday_baseline
from models.snapshot import Snapshot


class SyncFailureDetector(Detector):
    """Integration runs that failed, lost records, never finished, or stopped coming."""

    name = "sync_failure"
    version = "1.0"
    categories = ("sync_failure",)
    requires = ("sync_runs",)
    # Without finished_at every run would look unfinished: it is needed, not optional.
    reads: ClassVar[dict[str, Columns]] = {
        "sync_runs": columns(
            "integration", "started_at", "finished_at", "status", "records_read", "records_written"
        )
    }
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "unfinished_after_hours": [Interval(Real, 0, None, closed="neither")],
        "overdue_factor": [Interval(Real, 1, None)],
        "min_runs_for_interval": [Interval(Integral, 2, None)],
    }

    def __init__(
        self,
        *,
        unfinished_after_hours: float = 24.0,
        overdue_factor: float = 2.0,
        min_runs_for_interval: int = 3,
        max_evidence_rows: int = 10,
    ) -> None:
        self.unfinished_after_hours = unfinished_after_hours
        self.overdue_factor = overdue_factor
        self.min_runs_for_interval = min_runs_for_interval
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        as_of = as_of_ts(snapshot)
        runs = snapshot["sync_runs"].copy()
        runs["started_at"] = utc(runs["started_at"])
        runs["finished_at"] = utc(runs["finished_at"])
        runs = runs[(runs["started_at"] <= as_of).fillna(False)]
        if runs.empty:
            return []
        status = runs["status"].astype(str)
        late = pd.Timedelta(hours=self.unfinished_after_hours)
        unfinished = runs["finished_at"].isna() & (runs["started_at"] + late < as_of)
        read = pd.to_numeric(runs["records_read"], errors="coerce")
        written = pd.to_numeric(runs["records_written"], errors="coerce")
        # A run still inside its allowed time may not have written everything yet.
        settled = runs["finished_at"].notna() | (runs["started_at"] + late < as_of)
        lost = (written < read).fillna(False) & settled
        failed = status.eq("failed")
        partial = status.eq("partial")
        bad = failed | partial | unfinished | lost
        lost_share = ((read - written) / read.where(read > 0)).clip(0, 1).fillna(0.0)
        score = np.select(
            [failed, unfinished, partial, lost],
            [0.9, 0.85, 0.7, 0.6 + 0.3 * saturating(lost_share, 0.1)],
            default=0.0,
        )
        runs["problem"] = np.select(
            [failed, unfinished, partial, lost],
            ["failed", "never finished", "partial", "wrote fewer records than it read"],
            default="",
        )
        runs["score"] = score
        runs["day"] = day_number(runs["started_at"]).astype("int64")
        items: list[dict[str, object]] = []
        for (integration, day), group in runs[bad].groupby(["integration", "day"], sort=True):
            problems = sorted(set(group["problem"]))
            severe = bool(group["problem"].isin(["failed", "never finished"]).any())
            items.append(
                {
                    "integration": integration,
                    "day": day,
                    "score": float(group["score"].max()),
                    "severity": "high" if severe else "medium",
                    "title": f"Integration {integration}: {len(group)} run(s) on "
                    f"{day_label([day])[0]} {' / '.join(problems)}",
                    "explanation": "A sync run " + ", ".join(problems) + ": records may be "
                    "missing downstream.",
                    "evidence": {"sync_runs": records(group, self.max_evidence_rows)},
                    "features": {
                        "runs": len(group),
                        "failed": int((group["problem"] == "failed").sum()),
                        "records_lost": float(
                            (read[group.index] - written[group.index]).clip(lower=0).sum()
                        ),
                    },
                }
            )
        items.extend(self._overdue(runs, as_of))
        # Several problems on one integration and day are one finding: keep the strongest.
        best: dict[tuple[object, object], dict[str, object]] = {}
        for it in items:
            k = (it["integration"], it["day"])
            if k not in best or float(it["score"]) > float(best[k]["score"]):  # type: ignore[arg-type]
                best[k] = it
        out = []
        for (integration, day), it in sorted(best.items(), key=lambda kv: str(kv[0])):
            out.append(
                self._proposal(
                    category="sync_failure",
                    entity_key=f"integration={integration};date={day_label([day])[0]}",
                    title=str(it["title"]),
                    score=float(it["score"]),  # type: ignore[arg-type]
                    severity=str(it["severity"]),
                    evidence=it["evidence"],  # type: ignore[arg-type]
                    features=it["features"],  # type: ignore[arg-type]
                    explanation=str(it["explanation"]),
                )
            )
        return out

    def _overdue(self, runs: pd.DataFrame, as_of: pd.Timestamp) -> list[dict[str, object]]:
        """Silences longer than ``overdue_factor`` times the integration's median interval."""
        out: list[dict[str, object]] = []
        for integration, group in runs.groupby("integration", sort=True):
            starts = group["started_at"].sort_values()
            if len(starts) < self.min_runs_for_interval:
                continue
            gaps = starts.diff().dropna()
            usual = gaps.median()
            if pd.isna(usual) or usual <= pd.Timedelta(0):
                continue
            limit = self.overdue_factor * usual
            # Gaps in the history, then the silence from the last run up to as_of.
            prev = starts.shift().iloc[1:]
            ends = starts.iloc[1:]
            spans = [*list(zip(prev, ends, strict=True)), (starts.iloc[-1], as_of)]
            for start, end in spans:
                silence = end - start
                if silence <= limit:
                    continue
                became_due = start + limit
                ratio = silence / usual
                out.append(
                    {
                        "integration": integration,
                        "day": int((became_due - pd.Timestamp("1970-01-01", tz="UTC")) // ONE_DAY),
                        "score": 0.6 + 0.4 * float(saturating(ratio - self.overdue_factor, 3.0)),
                        "severity": "critical" if ratio > 5 * self.overdue_factor else "high",
                        "title": f"Integration {integration} stopped running: no run for "
                        f"{silence / pd.Timedelta(hours=1):.0f} h after {start.isoformat()} "
                        f"(usually every {usual / pd.Timedelta(hours=1):.1f} h)",
                        "explanation": f"No run for {ratio:.1f} times the integration's usual "
                        "interval "
                        "(median gap between its runs).",
                        "evidence": {
                            "last_run_before_silence": start,
                            "next_run": None if end is as_of else end,
                            "usual_interval_hours": usual / pd.Timedelta(hours=1),
                        },
                        "features": {
                            "silence_hours": silence / pd.Timedelta(hours=1),
                            "usual_interval_hours": usual / pd.Timedelta(hours=1),
                            "ratio": ratio,
                        },
                    }
                )
        return out


class ReportingGapDetector(Detector):
    """Days with no (or far too few) activity events in a stream that normally reports daily."""

    name = "reporting_gap"
    version = "1.0"
    categories = ("reporting_gap",)
    requires = ("courses", "activity")
    reads: ClassVar[dict[str, Columns]] = merge_reads(ACTIVITY_READS, COURSE_LABEL_READS)
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "expected_share": [Interval(Real, 0, 1)],
        "min_same_weekday": [Interval(Integral, 1, None)],
        "low_ratio": [Interval(Real, 0, 1)],
        "z_threshold": [Interval(Real, 0, None)],
        "min_usual_events": [Interval(Real, 0, None)],
        "course_streams": [Boolean()],
        "feed_down_share": [Interval(Real, 0, 1)],
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
        max_evidence_rows: int = 10,
    ) -> None:
        self.expected_share = expected_share
        self.min_same_weekday = min_same_weekday
        self.low_ratio = low_ratio
        self.z_threshold = z_threshold
        self.min_usual_events = min_usual_events
        self.course_streams = course_streams
        self.feed_down_share = feed_down_share
        self.max_evidence_rows = max_evidence_rows

    def _gaps(self, counts: pd.DataFrame, stream: list[str], last_day: int) -> pd.DataFrame:
        """Daily counts with columns ``kind`` ('' when fine, 'none' or 'low') and baseline stats."""
        daily = complete_days(counts, stream)
        # The day of as_of (and anything later) is incomplete: never judge it.
        daily = daily[daily["day"] <= last_day].reset_index(drop=True)
        if daily.empty:
            return daily.assign(kind="")
        daily["weekday"] = weekday_of(daily["day"])
        daily["active"] = (daily["events"] > 0).astype(int)
        g = daily.groupby([*stream, "weekday"], sort=False, observed=True)["active"]
        n_same = g.transform("size") - 1
        active_others = g.transform("sum") - daily["active"]
        # "Normally reports" on this weekday: judged leaving the day itself out.
        expected = (n_same >= self.min_same_weekday) & (
            active_others >= self.expected_share * n_same.clip(lower=1)
        )
        base = weekday_baseline(
            daily, stream, "events", min_same_weekday=self.min_same_weekday, scale_floor=1.0
        )
        poisson = np.sqrt(np.maximum(base["median"], 1.0))
        base["scale"] = np.maximum(base["scale"], poisson)
        base["z"] = (daily["events"] - base["median"]) / base["scale"]
        daily = pd.concat([daily, base], axis=1)
        daily["expected"] = expected
        return self._judge(daily, None)

    def _judge(self, daily: pd.DataFrame, day_factor: pd.Series | None) -> pd.DataFrame:
        """Set ``kind``: 'none' (no events on a reporting weekday), 'low' (far fewer) or ''.

        ``day_factor`` (day → the typical events/usual ratio across all course streams that day)
        lowers the bar on organisation-wide quiet days such as public holidays: a stream that is
        as quiet as everyone else is not missing data.
        """
        if daily.empty:
            return daily.assign(kind="")
        factor = np.ones(len(daily))
        if day_factor is not None:
            factor = daily["day"].map(day_factor).fillna(1.0).clip(0.0, 1.0).to_numpy()
        usual = daily["median"].to_numpy() * factor
        scale = np.maximum(daily["scale"].to_numpy() * factor, np.sqrt(np.maximum(usual, 1.0)))
        z = (daily["events"].to_numpy() - usual) / scale
        expected = daily["expected"].to_numpy(dtype=bool)
        none = expected & (daily["events"].to_numpy() == 0)
        low = (
            expected
            & ~none
            & (usual >= self.min_usual_events)
            & (daily["events"].to_numpy() <= self.low_ratio * usual)
            & (z <= -self.z_threshold)
        )
        daily["kind"] = np.select([none, low], ["none", "low"], default="")
        return daily

    @staticmethod
    def _day_factor(courses: pd.DataFrame) -> pd.Series:
        """Per day, the median over course streams of events / their weekday's usual count."""
        busy = courses[courses["median"] >= 5]
        ratio = busy["events"] / busy["median"]
        return ratio.groupby(busy["day"]).median()

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        act = activity_days(snapshot)
        if act.empty:
            return []
        as_of = as_of_ts(snapshot)
        as_of_day = int(day_number(pd.Series([as_of])).iloc[0])
        # Counting by integer codes (bincount) rather than group-by: this pass sees every event.
        course = act["course_id"].cat.codes.to_numpy().astype("int64")
        day = act["day"].to_numpy()
        d0, n_days = int(day.min()), int(day.max() - day.min()) + 1
        # The site-level stream is what arrives without a course (logins and the like).
        site_n = np.bincount(day[course < 0] - d0, minlength=n_days)
        site_counts = pd.DataFrame({"day": np.arange(n_days) + d0, "events": site_n})
        site_counts = site_counts[site_counts["events"] > 0].assign(stream="site")
        site = self._gaps(site_counts, ["stream"], as_of_day - 1)
        known = course >= 0
        per = np.bincount(course[known] * n_days + (day[known] - d0))
        keys = np.flatnonzero(per)
        cc = pd.DataFrame(
            {
                "course_id": np.asarray(act["course_id"].cat.categories.astype(str))[
                    keys // n_days
                ],
                "day": keys % n_days + d0,
                "events": per[keys],
            }
        )
        courses = self._gaps(cc, ["course_id"], as_of_day - 1)
        if not courses.empty:
            factor = self._day_factor(courses)
            courses = self._judge(courses, factor)
            site = self._judge(site, factor)
        site_hits = site[site["kind"] != ""]
        out = [self._make(row, site, None, snapshot) for row in site_hits.to_dict("records")]
        if self.course_streams and not courses.empty:
            hit = courses["kind"] != ""
            # When the site stream and most courses go silent together the whole feed was lost:
            # report that once (the site day) rather than once per course.
            share = hit.groupby(courses["day"]).mean()
            feed_down = share[share >= self.feed_down_share].index
            feed_down = feed_down[feed_down.isin(site_hits["day"])]
            hits = courses[hit & ~courses["day"].isin(feed_down)]
            out.extend(
                self._make(row, courses, "course_id", snapshot) for row in hits.to_dict("records")
            )
        return out

    def _make(
        self, row: dict[str, object], daily: pd.DataFrame, stream: str | None, snapshot: Snapshot
    ) -> Proposal:
        day = int(row["day"])  # type: ignore[call-overload]
        date = day_label([day])[0]
        sel = daily[stream] == row[stream] if stream else np.ones(len(daily), dtype=bool)
        series = daily[sel & (daily["day"].sub(day).abs() <= 7)]
        series = series.assign(date=day_label(series["day"]))[["date", "events", "median"]]
        events, usual = int(row["events"]), float(row["median"])  # type: ignore[call-overload,arg-type]
        if stream:
            course = str(row[stream])
            where = label(pd.Series([course]), course_labels(snapshot)).iloc[0]
            key = f"course={course};date={date}"
        else:
            where, key = "the site", f"date={date}"
        if row["kind"] == "none":
            what = f"No activity events arrived for {where} on {date}"
            score = 0.75 + 0.25 * float(saturating(usual, 50.0))
        else:
            what = f"Only {events} activity events arrived for {where} on {date}"
            score = 0.5 + 0.3 * (1.0 - events / max(usual, 1.0))
        return self._proposal(
            category="reporting_gap",
            entity_key=key,
            title=f"{what} (usually about {usual:.0f} on that weekday)",
            score=score,
            severity="high" if stream is None else "medium",
            evidence={"daily_series": records(series, 15)},
            features={
                "events": events,
                "usual_events": round(usual, 2),
                "robust_z": round(float(row["z"]), 2),  # type: ignore[arg-type]
            },
            explanation=f"This stream normally reports every {pd.Timestamp(date).day_name()}; "
            f"{date} has {events} events against a usual {usual:.0f}, so reports built on it "
            "are wrong.",
        )
