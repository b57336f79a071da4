"""Detectors on courses: nobody owns them, grading lags, learners cannot get in."""

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
    as_of_ts,
    course_labels,
    day_label,
    day_number,
    label,
    user_labels,
    utc,
    with_names,
)
from models.detectors.constraints import Constraint, Interval
from models.detectors.event_passes import verb_day_counts
from models.detectors.series import complete_days, weekday_baseline
from models.snapshot import Snapshot


class UnownedCourseDetector(Detector):
    """Active courses whose owner is missing, unknown, inactive or has left."""

    name = "unowned_course"
    version = "1.0"
    categories = ("unowned_course",)
    # Only where the snapshot carries owners (taxonomy version 2): an absent owner_user_id column
    # says nothing about who owns a course, so it skips the detector.
    requires = ("lms_users", "courses")
    optional = ("people",)
    reads: ClassVar[dict[str, Columns]] = merge_reads(
        {
            "courses": columns("course_id", "status", "owner_user_id", "is_compliance"),
            "lms_users": columns("user_id", "status", optional=("person_id",)),
            "people": columns("person_id", "employment_status", "full_name"),
        },
        COURSE_LABEL_READS,
    )
    unchecked_without: ClassVar[dict[str, str]] = {
        "people": "owners who have left the organisation",
        "lms_users.person_id": "owners who have left the organisation",
    }

    def __init__(self, *, max_evidence_rows: int = 10) -> None:
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        courses = snapshot["courses"]
        users = snapshot["lms_users"]
        users = users[[c for c in ("user_id", "person_id", "status") if c in users]]
        active = courses[courses["status"].astype(str) == "active"]
        m = active.merge(
            users.rename(
                columns={
                    "user_id": "owner_user_id",
                    "person_id": "owner_person_id",
                    "status": "owner_status",
                }
            ),
            on="owner_user_id",
            how="left",
        )
        if snapshot.has("people") and "owner_person_id" in m:
            people = snapshot["people"][["person_id", "employment_status", "full_name"]]
            m = m.merge(
                people.rename(
                    columns={
                        "person_id": "owner_person_id",
                        "employment_status": "owner_employment",
                        "full_name": "owner_name",
                    }
                ),
                on="owner_person_id",
                how="left",
            )
        else:  # without the HR link nobody is known to have left
            m = m.assign(owner_employment=None, owner_name=None)
        no_owner = m["owner_user_id"].isna()
        # An owner whose account quarantine set aside is an owner, just not one to judge.
        held = (
            m["owner_user_id"].astype("str").isin(snapshot.set_aside_values("lms_users", "user_id"))
        )
        not_user = ~no_owner & m["owner_status"].isna() & ~held
        is_user = m["owner_status"].notna()
        inactive = ~no_owner & is_user & m["owner_status"].astype(str).ne("active")
        left = m["owner_employment"].astype(str).eq("terminated") & ~no_owner & is_user
        hit = no_owner | not_user | inactive | left
        m = m[hit]
        if m.empty:
            return []
        reasons = np.select(
            [no_owner[hit], not_user[hit], left[hit], inactive[hit]],
            ["no_owner", "owner_not_user", "owner_terminated", "owner_inactive"],
            default="",
        )
        labels = label(m["course_id"].astype(str), course_labels(snapshot))
        text = {
            "no_owner": ("has no owner", 0.8),
            "owner_not_user": ("is owned by {o}, who is not an LMS user", 0.8),
            "owner_terminated": ("is owned by {o}, who has left the organisation", 0.85),
            "owner_inactive": ("is owned by {o}, whose LMS account is {s}", 0.7),
        }
        owners = user_labels(snapshot)
        out = []
        for row, reason, course in zip(m.to_dict("records"), reasons, labels, strict=True):
            owner = row["owner_user_id"]
            owner_s = owners.get(str(owner), f"user {owner}")
            phrase, score = text[reason]
            compliance = bool(row["is_compliance"]) if pd.notna(row["is_compliance"]) else False
            out.append(
                self._proposal(
                    category="unowned_course",
                    entity_key=f"course={row['course_id']}",
                    title=f"Active course {course} "
                    + phrase.format(o=owner_s, s=row.get("owner_status")),
                    score=min(1.0, score + (0.1 if compliance else 0.0)),
                    # Nobody answers for a mandatory course: audits and escalations stall.
                    severity="high" if compliance else "medium",
                    evidence={
                        "courses": records(pd.DataFrame([{k: row[k] for k in courses.columns}]), 1)
                    },
                    features={"is_compliance": compliance, reason: True},
                    explanation="Nobody accountable can fix content, grading or enrolment problems "
                    f"in this course ({reason.replace('_', ' ')}).",
                )
            )
        return out


class GradingDelayDetector(Detector):
    """Courses whose submissions wait longer for a grade than the course promises."""

    # The name and category keep their first spelling: databases, thresholds.toml and exports
    # store them.
    name = "feedback_delayed"
    version = "1.0"
    categories = ("feedback_delayed",)
    requires = ("courses", "submissions")
    # Without graded_at every submission would look ungraded: it is needed, not optional. An
    # absent grading_sla_days column reads as the default SLA, as an empty one does (contract).
    reads: ClassVar[dict[str, Columns]] = merge_reads(
        {
            "courses": columns("course_id", optional=("grading_sla_days",)),
            "submissions": columns("course_id", "submitted_at", "graded_at"),
        },
        COURSE_LABEL_READS,
    )
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "default_sla_days": [Interval(Real, 0, None, closed="neither")],
        "median_window_days": [Interval(Real, 0, None, closed="neither")],
    }

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
            pd.to_numeric(
                courses.get("grading_sla_days", pd.Series(np.nan, index=courses.index)),
                errors="coerce",
            ).to_numpy(),
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
                waiting_rows = with_names(by_course[course].head(self.max_evidence_rows), snapshot)
                evidence["submissions"] = records(waiting_rows, self.max_evidence_rows)
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


class AccessFailureDetector(Detector):
    """Course-days (launch failures) and site days (login failures) far above their usual level."""

    name = "access_failure"
    version = "1.0"
    categories = ("access_failure",)
    requires = ("courses", "activity")
    reads: ClassVar[dict[str, Columns]] = merge_reads(ACTIVITY_READS, COURSE_LABEL_READS)
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "min_failures": [Interval(Integral, 1, None)],
        "z_threshold": [Interval(Real, 0, None)],
        "min_share_excess": [Interval(Real, 0, 1)],
        "count_ratio": [Interval(Real, 1, None)],
        "count_min_failures": [Interval(Integral, 1, None)],
        "count_share_excess": [Interval(Real, 0, 1)],
        "share_scale_floor": [Interval(Real, 0, 1, closed="right")],
    }

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

    def _daily(self, snapshot: Snapshot, ok: str, bad: str, stream: list[str]) -> pd.DataFrame:
        """Attempts ``ok`` and failures ``bad`` per stream and day (counted on the engine),
        every day of each stream's span (zeros where there were none)."""
        got = verb_day_counts(snapshot, (ok, bad), by_course=bool(stream))
        if got.empty:
            return pd.DataFrame(columns=[*stream, "day", "ok", "failed"])
        keys = [*stream, "day"]
        got = got.assign(
            ok=got["n"].where(got["verb"] == ok, 0), failed=got["n"].where(got["verb"] == bad, 0)
        )
        counts = got.groupby(keys, sort=True)[["ok", "failed"]].sum().reset_index()
        if not stream:
            counts["site"] = "site"
        return complete_days(counts, stream or ["site"])

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        as_of_day = int(day_number(pd.Series([as_of_ts(snapshot)])).iloc[0])
        out: list[Proposal] = []
        course_names = course_labels(snapshot)
        for stream, ok, bad in (
            (["course_id"], "launched", "launch_failed"),
            ([], "login", "login_failed"),
        ):
            daily = self._daily(snapshot, ok, bad, stream)
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
