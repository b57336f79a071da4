"""Detectors on notifications: learners they keep failing to reach, and channel outages."""

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
    USER_LABEL_READS,
    as_of_ts,
    day_label,
    day_number,
    label,
    user_labels,
    utc,
    with_names,
)
from models.detectors.constraints import Constraint, Interval
from models.detectors.series import weekday_baseline
from models.snapshot import Snapshot


class NotificationUndeliveredDetector(Detector):
    """Learners whom recent notifications keep failing to reach."""

    name = "notification_undelivered"
    version = "1.0"
    categories = ("notification_undelivered",)
    requires = ("lms_users", "notifications")
    optional = ("people",)
    # Without delivered_at every notification would look undelivered: it is needed, not optional.
    reads: ClassVar[dict[str, Columns]] = merge_reads(
        {"notifications": columns("user_id", "sent_at", "delivered_at", "bounced")},
        USER_LABEL_READS,
    )
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "window_days": [Interval(Real, 0, None, closed="neither")],
        "min_sent": [Interval(Integral, 1, None)],
        "min_bounced": [Interval(Integral, 1, None)],
    }

    def __init__(
        self,
        *,
        window_days: float = 30.0,
        min_sent: int = 3,
        min_bounced: int = 3,
        max_evidence_rows: int = 10,
    ) -> None:
        self.window_days = window_days
        self.min_sent = min_sent
        self.min_bounced = min_bounced
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        as_of = as_of_ts(snapshot)
        notes = snapshot["notifications"]
        sent_at = utc(notes["sent_at"])
        recent = (sent_at > as_of - pd.Timedelta(days=self.window_days)) & (sent_at <= as_of)
        n = notes[recent.fillna(False)]
        if n.empty:
            return []
        delivered_at = utc(n["delivered_at"])
        bounced = n["bounced"].fillna(False).astype(bool)
        delivered = (delivered_at.notna() & (delivered_at <= as_of)).fillna(False) & ~bounced
        per_user = (
            pd.DataFrame(
                {"user_id": n["user_id"], "sent": 1, "bounced": bounced, "delivered": delivered}
            )
            .groupby("user_id", sort=True)[["sent", "bounced", "delivered"]]
            .sum()
        )
        hit = (per_user["sent"] >= self.min_sent) & (
            (per_user["bounced"] >= self.min_bounced) | (per_user["delivered"] == 0)
        )
        per_user = per_user[hit]
        if per_user.empty:
            return []
        fail_share = 1.0 - per_user["delivered"] / per_user["sent"]
        scores = 0.4 + 0.4 * fail_share.to_numpy() + 0.2 * saturating(per_user["bounced"], 5.0)
        never = per_user["delivered"].to_numpy() == 0
        severity = np.where(never & (per_user["sent"].to_numpy() >= 5), "high", "medium")
        sample = n[n["user_id"].isin(per_user.index)].sort_values("sent_at", ascending=False)
        sample = sample.groupby("user_id", sort=False).head(self.max_evidence_rows)
        by_user = dict(tuple(sample.groupby("user_id", sort=False)))
        who = label(pd.Series(per_user.index.astype(str)), user_labels(snapshot))
        out = []
        for (user, row), name, score, sev in zip(
            per_user.iterrows(), who, scores, severity, strict=True
        ):
            s, b, d = int(row["sent"]), int(row["bounced"]), int(row["delivered"])
            out.append(
                self._proposal(
                    category="notification_undelivered",
                    entity_key=f"user={user}",
                    title=f"{name} was not reached: {s} notifications in the last "
                    f"{self.window_days:.0f} days, {b} bounced, {d} delivered",
                    score=score,
                    severity=sev,
                    evidence={
                        "notifications": records(
                            with_names(by_user[user].head(self.max_evidence_rows), snapshot),
                            self.max_evidence_rows,
                        )
                    },
                    features={
                        "sent": s,
                        "bounced": b,
                        "delivered": d,
                        "failure_share": round(1 - d / s, 4),
                    },
                    explanation="Repeated bounces or no delivery at all: this learner does not "
                    "hear about enrolments, reminders or deadlines.",
                )
            )
        return out


class NotificationOutageDetector(Detector):
    """Channel-days whose delivery failure share is far above the channel's usual share."""

    name = "notification_outage"
    version = "1.0"
    categories = ("notification_outage",)
    requires = ("notifications",)
    reads: ClassVar[dict[str, Columns]] = {
        "notifications": columns("channel", "sent_at", "delivered_at", "bounced")
    }
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "undelivered_after_hours": [Interval(Real, 0, None, closed="neither")],
        "min_sent": [Interval(Integral, 1, None)],
        "z_threshold": [Interval(Real, 0, None)],
        "min_share_excess": [Interval(Real, 0, 1)],
        "share_scale_floor": [Interval(Real, 0, 1, closed="right")],
    }

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
