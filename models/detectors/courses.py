"""Detectors that judge a daily series against its own robust weekly rhythm.

Each stream (a channel, a course, the whole site) gets a baseline per weekday: the median and the
MAD (median absolute deviation, scaled by 1.4826 to read like a standard deviation) of its values
on the same weekday. A quiet Sunday is then compared with other Sundays, and a failing Tuesday
with other Tuesdays. Medians and MADs are robust: the bad day itself barely moves them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from models.detectors.base import Detector, Proposal, records, saturating
from models.detectors.common import (
    activity_days,
    as_of_ts,
    course_labels,
    day_label,
    day_number,
    label,
    utc,
    weekday_of,
)
from models.snapshot import Snapshot

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


class NotificationOutageDetector(Detector):
    """Channel-days whose delivery failure share is far above the channel's usual share."""

    name = "notification_outage"
    version = "1.0"
    categories = ("notification_outage",)
    requires = ("notifications",)

    def __init__(
        self,
        *,
        undelivered_after_hours: float = 24.0,
        min_sent: int = 10,
        z_threshold: float = 4.0,
        min_share_excess: float = 0.2,
        share_scale_floor: float = 0.03,
        max_evidence_rows: int = 10,
    ) -> None:
        self.undelivered_after_hours = undelivered_after_hours
        self.min_sent = min_sent
        self.z_threshold = z_threshold
        self.min_share_excess = min_share_excess
        self.share_scale_floor = share_scale_floor
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        as_of = as_of_ts(snapshot)
        notes = snapshot["notifications"]
        sent = utc(notes["sent_at"])
        wait = pd.Timedelta(hours=self.undelivered_after_hours)
        # Only notifications old enough to be judged: one sent an hour ago may still arrive.
        judged = (sent + wait <= as_of).fillna(False)
        n = notes[judged]
        if n.empty:
            return []
        sent = sent[judged]
        delivered = utc(n["delivered_at"])
        bounced = n["bounced"].fillna(False).astype(bool)
        failed = bounced | delivered.isna() | (delivered - sent > wait).fillna(False)
        daily = (
            pd.DataFrame(
                {
                    "channel": n["channel"].astype(str),
                    "day": day_number(sent).astype("int64"),
                    "sent": 1,
                    "failed": failed.astype(int),
                }
            )
            .groupby(["channel", "day"], sort=True)[["sent", "failed"]]
            .sum()
            .reset_index()
        )
        daily["share"] = daily["failed"] / daily["sent"]
        base = weekday_baseline(
            daily,
            ["channel"],
            "share",
            scale_floor=self.share_scale_floor,
            weight_ok=daily["sent"] >= self.min_sent,
        )
        daily = pd.concat([daily, base], axis=1)
        daily["excess"] = daily["share"] - daily["median"]
        hits = daily[
            (daily["sent"] >= self.min_sent)
            & (daily["z"] >= self.z_threshold)
            & (daily["excess"] >= self.min_share_excess)
        ]
        out = []
        for row in hits.to_dict("records"):
            date = day_label([row["day"]])[0]
            series = daily[
                (daily["channel"] == row["channel"]) & (daily["day"].sub(row["day"]).abs() <= 7)
            ]
            share, usual = row["share"], row["median"]
            severity = "critical" if share >= 0.8 else "high" if row["excess"] >= 0.4 else "medium"
            out.append(
                self._proposal(
                    category="notification_outage",
                    entity_key=f"channel={row['channel']};date={date}",
                    title=f"The {row['channel']} channel failed to deliver {share:.0%} of "
                    f"{int(row['sent'])} notifications on {date} (usually {usual:.0%})",
                    score=0.4 + 0.6 * saturating(row["excess"], 0.3),
                    severity=severity,
                    evidence={
                        "daily_series": records(
                            series[["day", "sent", "failed", "share"]].assign(
                                date=day_label(series["day"])
                            )[["date", "sent", "failed", "share"]],
                            15,
                        )
                    },
                    features={
                        "sent": int(row["sent"]),
                        "failed": int(row["failed"]),
                        "failure_share": round(share, 4),
                        "usual_share": round(usual, 4),
                        "robust_z": round(row["z"], 2),
                    },
                    explanation=f"Failure share {share:.0%} against a usual {usual:.0%} for this "
                    f"channel on that weekday ({row['z']:.1f} robust deviations above).",
                )
            )
        return out


class AccessFailureDetector(Detector):
    """Course-days (launch failures) and site days (login failures) far above their usual level."""

    name = "access_failure"
    version = "1.0"
    categories = ("access_failure",)
    requires = ("courses", "activity")

    def __init__(
        self,
        *,
        min_failures: int = 5,
        z_threshold: float = 4.0,
        min_share_excess: float = 0.15,
        count_ratio: float = 3.0,
        count_min_failures: int = 10,
        count_share_excess: float = 0.10,
        share_scale_floor: float = 0.03,
        max_evidence_rows: int = 10,
    ) -> None:
        self.min_failures = min_failures
        self.z_threshold = z_threshold
        self.min_share_excess = min_share_excess
        self.count_ratio = count_ratio
        self.count_min_failures = count_min_failures
        self.count_share_excess = count_share_excess
        self.share_scale_floor = share_scale_floor
        self.max_evidence_rows = max_evidence_rows

    def _flag(self, daily: pd.DataFrame, stream: list[str]) -> pd.DataFrame:
        """Daily rows judged against their stream's weekday baseline, with hit mask ``hit``."""
        daily = daily.copy()
        daily["attempts"] = daily["ok"] + daily["failed"]
        daily["share"] = (daily["failed"] / daily["attempts"]).where(daily["attempts"] > 0, 0.0)
        # The usual share is the stream's pooled share on its *other* days (leave-one-out): it
        # stays meaningful for a quiet course with a handful of launches a day, where a median of
        # daily shares would be made of zeros or of the bad day alone. Noise is binomial.
        g = daily.groupby(stream, sort=False, observed=True)
        fail_others = g["failed"].transform("sum") - daily["failed"]
        att_others = g["attempts"].transform("sum") - daily["attempts"]
        usual = (fail_others / att_others).where(att_others > 0, 0.0)
        binomial = np.sqrt(usual * (1 - usual) / daily["attempts"].clip(lower=1))
        sb = pd.DataFrame(
            {
                "share_median": usual,
                "share_scale": np.maximum(binomial, self.share_scale_floor),
            },
            index=daily.index,
        )
        sb["share_z"] = (daily["share"] - sb["share_median"]) / sb["share_scale"]
        # Counts: Poisson-like noise, so the scale is at least sqrt of the usual count (and 1).
        cb = weekday_baseline(daily, stream, "failed").add_prefix("count_")
        poisson = np.sqrt(np.maximum(cb["count_median"], 1.0))
        cb["count_scale"] = np.maximum(cb["count_scale"], poisson)
        cb["count_z"] = (daily["failed"] - cb["count_median"]) / cb["count_scale"]
        daily = pd.concat([daily, sb, cb], axis=1)
        daily["share_excess"] = daily["share"] - daily["share_median"]
        by_share = (daily["share_z"] >= self.z_threshold) & (
            daily["share_excess"] >= self.min_share_excess
        )
        # A busy day has more failures in proportion: a count only counts if the share rose too.
        by_count = (
            (daily["failed"] >= self.count_min_failures)
            & (daily["count_z"] >= self.z_threshold)
            & (daily["failed"] >= self.count_ratio * np.maximum(daily["count_median"], 1.0))
            & (daily["share_excess"] >= self.count_share_excess)
        )
        daily["hit"] = (daily["failed"] >= self.min_failures) & (by_share | by_count)
        return daily

    def _daily(self, act: pd.DataFrame, ok: str, bad: str, stream: list[str]) -> pd.DataFrame:
        sub = act[act["verb"].isin([ok, bad])]
        if stream:
            sub = sub[sub["course_id"].notna()]
        if sub.empty:
            return pd.DataFrame(columns=[*stream, "day", "ok", "failed"])
        counts = (
            sub.assign(
                failed=(sub["verb"] == bad).astype("int64"), ok=(sub["verb"] == ok).astype("int64")
            )
            .groupby([*stream, "day"], observed=True, sort=True)[["ok", "failed"]]
            .sum()
            .reset_index()
        )
        if stream:
            counts[stream[0]] = counts[stream[0]].astype(str)
        else:
            counts["site"] = "site"
        return complete_days(counts, stream or ["site"])

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        act = activity_days(snapshot)
        as_of_day = int(day_number(pd.Series([as_of_ts(snapshot)])).iloc[0])
        out: list[Proposal] = []
        course_names = course_labels(snapshot)
        for stream, ok, bad in (
            (["course_id"], "launched", "launch_failed"),
            ([], "login", "login_failed"),
        ):
            daily = self._daily(act, ok, bad, stream)
            if daily.empty:
                continue
            keys = stream or ["site"]
            daily = self._flag(daily, keys)
            hits = daily[daily["hit"] & (daily["day"] <= as_of_day)]
            for row in hits.to_dict("records"):
                date = day_label([row["day"]])[0]
                sel = daily[keys[0]] == row[keys[0]]
                series = daily[sel & (daily["day"].sub(row["day"]).abs() <= 7)]
                series = series.assign(date=day_label(series["day"]))[
                    ["date", "ok", "failed", "share"]
                ]
                share, usual = row["share"], row["share_median"]
                if stream:
                    course = str(row["course_id"])
                    where = label(pd.Series([course]), course_names).iloc[0]
                    key = f"course={course};date={date}"
                    what, sev = (
                        f"Learners could not launch {where}",
                        ("high" if share >= 0.5 else "medium"),
                    )
                else:
                    key, where = f"date={date}", "the site"
                    what, sev = (
                        "Learners could not log in to the site",
                        ("critical" if share >= 0.5 else "high"),
                    )
                excess = max(row["share_excess"], 0.0)
                ratio = row["failed"] / max(row["count_median"], 1.0)
                out.append(
                    self._proposal(
                        category="access_failure",
                        entity_key=key,
                        title=f"{what} on {date}: {int(row['failed'])} failed of "
                        f"{int(row['ok'] + row['failed'])} attempts "
                        f"({share:.0%}; usually {usual:.0%})",
                        score=0.4
                        + 0.3 * saturating(excess, 0.3)
                        + 0.3 * saturating(max(ratio - 1, 0.0), 5.0),
                        severity=sev,
                        evidence={"daily_series": records(series, 15)},
                        features={
                            "failed": int(row["failed"]),
                            "attempts": int(row["ok"] + row["failed"]),
                            "failure_share": round(share, 4),
                            "usual_share": round(usual, 4),
                            "usual_failures": round(row["count_median"], 2),
                            "share_z": round(row["share_z"], 2),
                            "count_z": round(row["count_z"], 2),
                        },
                        explanation=f"{bad} events on {date} far above the usual level for "
                        f"{where} on that weekday (share {share:.0%} vs {usual:.0%}, "
                        f"count {int(row['failed'])} vs {row['count_median']:.0f}).",
                    )
                )
        return out


class ReportingGapDetector(Detector):
    """Days with no (or far too few) activity events in a stream that normally reports daily."""

    name = "reporting_gap"
    version = "1.0"
    categories = ("reporting_gap",)
    requires = ("courses", "activity")

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
