"""Detectors on the machinery around learning: undelivered notifications, failing or stalled
integrations, and slow grading."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from models.detectors.base import Detector, Proposal, records, saturating
from models.detectors.common import (
    ONE_DAY,
    as_of_ts,
    course_labels,
    day_label,
    day_number,
    label,
    user_labels,
    utc,
)
from models.snapshot import Snapshot


class NotificationUndeliveredDetector(Detector):
    """Learners whom recent notifications keep failing to reach."""

    name = "notification_undelivered"
    version = "1.0"
    categories = ("notification_undelivered",)
    requires = ("lms_users", "notifications")

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
                    evidence={"notifications": records(by_user[user], self.max_evidence_rows)},
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


class SyncFailureDetector(Detector):
    """Integration runs that failed, lost records, never finished, or stopped coming."""

    name = "sync_failure"
    version = "1.0"
    categories = ("sync_failure",)
    requires = ("sync_runs",)

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


class FeedbackDelayedDetector(Detector):
    """Courses whose submissions wait longer for a grade than the course promises."""

    name = "feedback_delayed"
    version = "1.0"
    categories = ("feedback_delayed",)
    requires = ("courses", "submissions")

    def __init__(
        self,
        *,
        default_sla_days: float = 7.0,
        median_window_days: float = 30.0,
        max_evidence_rows: int = 10,
    ) -> None:
        self.default_sla_days = default_sla_days
        self.median_window_days = median_window_days
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        as_of = as_of_ts(snapshot)
        courses = snapshot["courses"]
        sla_by_course = pd.Series(
            pd.to_numeric(courses["grading_sla_days"], errors="coerce").to_numpy(),
            index=courses["course_id"].astype(str),
        )
        subs = snapshot["submissions"]
        submitted = utc(subs["submitted_at"])
        graded = utc(subs["graded_at"])
        subs = subs[(submitted <= as_of).fillna(False)]
        submitted, graded = submitted[subs.index], graded[subs.index]
        if subs.empty:
            return []
        sla = subs["course_id"].astype(str).map(sla_by_course).fillna(self.default_sla_days)
        # A grade stamped after as_of did not exist at as_of.
        pending = graded.isna() | (graded > as_of)
        age = (as_of - submitted).dt.total_seconds() / 86400.0
        overdue = pending & (age > sla)
        recent_grade = ~pending & (graded > as_of - pd.Timedelta(days=self.median_window_days))
        grading_days = (graded - submitted).dt.total_seconds() / 86400.0
        frame = pd.DataFrame(
            {
                "course_id": subs["course_id"].astype(str),
                "overdue": overdue,
                "overdue_age": age.where(overdue),
                "grading_days": grading_days.where(recent_grade),
                "sla": sla,
            }
        )
        per = frame.groupby("course_id", sort=True).agg(
            overdue=("overdue", "sum"),
            oldest=("overdue_age", "max"),
            median_grading=("grading_days", "median"),
            graded_recently=("grading_days", "count"),
            sla=("sla", "first"),
        )
        slow = (per["median_grading"] > per["sla"]).fillna(False)
        per = per[(per["overdue"] > 0) | slow]
        if per.empty:
            return []
        ratio = np.fmax(per["oldest"] / per["sla"], per["median_grading"] / per["sla"]).fillna(1.0)
        scores = (
            0.5
            + 0.3 * saturating((ratio - 1).to_numpy(), 1.0)
            + 0.2 * saturating(per["overdue"].to_numpy(), 10.0)
        )
        severity = np.where(
            (ratio > 3) | (per["overdue"] >= 20),
            "high",
            np.where(per["overdue"] > 0, "medium", "low"),
        )
        labels = label(pd.Series(per.index.astype(str)), course_labels(snapshot))
        waiting = (
            subs[overdue].assign(waiting_days=age[overdue].round(1)).sort_values("submitted_at")
        )
        by_course = dict(tuple(waiting.groupby("course_id", sort=False)))
        out = []
        for (course, row), name, score, sev in zip(
            per.iterrows(), labels, scores, severity, strict=True
        ):
            parts = []
            if row["overdue"] > 0:
                parts.append(
                    f"{int(row['overdue'])} submission(s) ungraded beyond the "
                    f"{row['sla']:.0f}-day SLA, oldest {row['oldest']:.0f} days"
                )
            if pd.notna(row["median_grading"]) and row["median_grading"] > row["sla"]:
                parts.append(
                    f"median grading time {row['median_grading']:.1f} days over the last "
                    f"{self.median_window_days:.0f} days"
                )
            evidence: dict[str, object] = {}
            if course in by_course:
                evidence["submissions"] = records(by_course[course], self.max_evidence_rows)
            out.append(
                self._proposal(
                    category="feedback_delayed",
                    entity_key=f"course={course}",
                    title=f"Learners wait too long for feedback in {name}: " + "; ".join(parts),
                    score=score,
                    severity=sev,
                    evidence=evidence,
                    features={
                        "overdue_submissions": int(row["overdue"]),
                        "oldest_waiting_days": row["oldest"],
                        "median_grading_days": row["median_grading"],
                        "sla_days": row["sla"],
                    },
                    explanation="Grading is slower than the course's promised "
                    f"{row['sla']:.0f} days.",
                )
            )
        return out
