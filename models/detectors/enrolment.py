"""Detectors on enrolments: missing or failed enrolments (progress records that contradict
themselves: ``models.detectors.inconsistent``; missed compliance deadlines:
``models.detectors.compliance``)."""

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
    COMPLIANCE_READS,
    COURSE_LABEL_READS,
    ENROLMENT_COLUMNS,
    ENROLMENT_EVIDENCE_READS,
    USER_LABEL_READS,
    as_of_ts,
    compliance_courses,
    course_labels,
    enrolment_evidence,
    flag,
    has_pair,
    label,
    named_row,
    user_labels,
    utc,
)
from models.detectors.constraints import Constraint, Interval, ListOf, Text
from models.detectors.event_passes import has_activity
from models.snapshot import Snapshot


class EnrollmentMissingDetector(Detector):
    """People an active enrolment rule covers who have no enrolment (any status) in its course."""

    name = "enrollment_missing"
    version = "1.0"
    categories = ("enrollment_missing",)
    requires = ("people", "lms_users", "courses", "enrollments", "enrollment_rules")
    # A rule's department and job title are needed: an absent one is not "any". An absent
    # grace_days column reads as the default grace, as an empty cell does (contract).
    reads: ClassVar[dict[str, Columns]] = merge_reads(
        {
            "enrollment_rules": columns(
                "rule_id", "course_id", "active", "department", "job_title",
                optional=("grace_days",),
            ),
            "people": columns(
                "person_id", "full_name", "department", "job_title", "hire_date",
                "employment_status",
            ),
            "lms_users": columns("user_id", "person_id"),
            "enrollments": columns("user_id", "course_id"),
        },
        COMPLIANCE_READS,
        COURSE_LABEL_READS,
    )  # fmt: skip
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "default_grace_days": [Interval(Integral, 0, None)],
        "score_scale_days": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        default_grace_days: int = 3,
        score_scale_days: float = 30.0,
        max_evidence_rows: int = 10,
    ) -> None:
        self.default_grace_days = default_grace_days
        self.score_scale_days = score_scale_days
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        as_of = as_of_ts(snapshot)
        rules = snapshot["enrollment_rules"]
        rules = rules[flag(rules, "active")].copy()
        people = snapshot["people"]
        people = people[people["employment_status"].astype(str) == "active"].copy()
        if rules.empty or people.empty:
            return []
        people["hire_ts"] = pd.to_datetime(people["hire_date"], utc=True, errors="coerce")
        rules["grace"] = pd.to_numeric(
            rules.get("grace_days", pd.Series(np.nan, index=rules.index)), errors="coerce"
        ).fillna(self.default_grace_days)
        cols = ["person_id", "full_name", "department", "job_title", "hire_ts"]
        matched = []
        # Rules are few, people many: one merge per shape of rule (which fields it constrains).
        has_dept = rules["department"].notna()
        has_title = rules["job_title"].notna()
        for dept, title in ((True, True), (True, False), (False, True), (False, False)):
            part = rules[(has_dept == dept) & (has_title == title)]
            if part.empty:
                continue
            on = [c for c, used in (("department", dept), ("job_title", title)) if used]
            r = part[["rule_id", "course_id", "grace", *on]]
            if on:
                m = people[cols].merge(r, on=on, how="inner")
            else:
                m = people[cols].merge(r, how="cross")
            matched.append(
                m[["person_id", "full_name", "hire_ts", "rule_id", "course_id", "grace"]]
            )
        m = pd.concat(matched, ignore_index=True)
        # "Hired more than grace_days before as_of": the grace deadline lies strictly before now.
        deadline = m["hire_ts"] + pd.to_timedelta(m["grace"], unit="D")
        m = m[(deadline < as_of).fillna(False)].copy()
        m["deadline"] = deadline[m.index]
        if m.empty:
            return []
        enr = snapshot["enrollments"][["user_id", "course_id"]]
        users = snapshot["lms_users"][["user_id", "person_id"]]
        have = enr.merge(users[users["person_id"].notna()], on="user_id", how="inner")
        have_key = pd.MultiIndex.from_frame(have[["person_id", "course_id"]].astype(str))
        key = pd.MultiIndex.from_frame(m[["person_id", "course_id"]].astype(str))
        m = m[~key.isin(have_key) & ~self._cannot_tell(snapshot, m)]
        if m.empty:
            return []
        # Several rules may require one course of a person: one finding, the earliest deadline.
        m = m.sort_values(["person_id", "course_id", "deadline", "rule_id"])
        rule_lists = m.groupby(["person_id", "course_id"], sort=False)["rule_id"].agg(list)
        m = m.drop_duplicates(["person_id", "course_id"], keep="first").copy()
        m["rules"] = [
            rule_lists[(p, c)] for p, c in zip(m["person_id"], m["course_id"], strict=True)
        ]
        days_over = (as_of - m["deadline"]).dt.total_seconds() / 86400.0
        compliance = m["course_id"].astype(str).map(compliance_courses(snapshot)).fillna(False)
        scores = 0.5 + 0.5 * saturating(days_over.to_numpy(), self.score_scale_days)
        severity = np.where(
            compliance.to_numpy(dtype=bool),
            np.where(days_over.to_numpy() > 30, "critical", "high"),
            np.where(days_over.to_numpy() > 30, "high", "medium"),
        )
        courses = label(m["course_id"].astype(str), course_labels(snapshot))
        rule_rows = {r["rule_id"]: r for r in records(rules.drop(columns=["grace"]), len(rules))}
        out = []
        for row, course, score, sev, over, comp in zip(
            m.to_dict("records"),
            courses,
            scores,
            severity,
            days_over,
            compliance.to_numpy(dtype=bool),
            strict=True,
        ):
            rule_ids = row["rules"]
            rule_s = "rule " + rule_ids[0] if len(rule_ids) == 1 else "rules " + ", ".join(rule_ids)
            out.append(
                self._proposal(
                    category="enrollment_missing",
                    entity_key=f"person={row['person_id']};course={row['course_id']}",
                    title=f"{row['full_name']} ({row['person_id']}) has no enrolment in {course} "
                    f"though {rule_s} requires it",
                    score=score,
                    severity=sev,
                    evidence={
                        "people": [
                            {
                                "person_id": row["person_id"],
                                "full_name": row["full_name"],
                                "hire_date": row["hire_ts"],
                            }
                        ],
                        "enrollment_rules": [
                            rule_rows[r] for r in rule_ids[: self.max_evidence_rows]
                        ],
                        "enrolment_due_by": row["deadline"],
                    },
                    features={
                        "days_past_grace": round(float(over), 2),
                        "matching_rules": len(rule_ids),
                        "is_compliance": bool(comp),
                    },
                    explanation=f"An active rule requires this course; the grace period ended "
                    f"{over:.0f} days ago and no LMS account of this person is enrolled.",
                )
            )
        return out

    @staticmethod
    def _cannot_tell(snapshot: Snapshot, wanted: pd.DataFrame) -> np.ndarray:
        """Which (person, course) rows of ``wanted`` the snapshot cannot judge: an enrolment in
        the course of a user whose person link the source did not carry (``known_rows`` left
        the user out), or a user of the person's, or an enrolment of theirs, that quarantine
        set aside. Their enrolment may well exist; the data to see it does not."""
        enr = snapshot["enrollments"]
        users = snapshot["lms_users"]
        unattributed = enr.loc[~enr["user_id"].isin(users["user_id"]), "course_id"]
        course = wanted["course_id"].astype("str")
        person = wanted["person_id"].astype("str")
        out = course.isin(set(unattributed.astype("str")))
        out |= person.isin(snapshot.set_aside_values("lms_users", "person_id"))
        held = snapshot.set_aside.get("enrollments")
        if held is not None and {"user_id", "course_id"} <= set(held.columns):
            linked = users[users["person_id"].notna()].astype({"user_id": "str"})
            pairs = held[["user_id", "course_id"]].astype("str").merge(linked, on="user_id")
            key = pd.MultiIndex.from_frame(pairs[["person_id", "course_id"]].astype("str"))
            out |= pd.MultiIndex.from_arrays([person, course]).isin(key)
        return np.asarray(out, dtype=bool)


class EnrollmentFailedDetector(Detector):
    """Enrolments the LMS marked failed, or automated ones that never took effect."""

    name = "enrollment_failed"
    version = "1.0"
    categories = ("enrollment_failed",)
    requires = ("courses", "enrollments")
    # "Never took effect" needs both logs (no activity and no notification): without either,
    # only status ``failed`` is judged.
    optional = ("activity", "notifications", "lms_users", "people")
    # Without progress_pct every automated enrolment would look untouched: it is needed.
    reads: ClassVar[dict[str, Columns]] = merge_reads(
        {
            "enrollments": columns(*ENROLMENT_COLUMNS[:6], "progress_pct"),
            "notifications": columns("user_id", "course_id", "sent_at"),
        },
        ENROLMENT_EVIDENCE_READS, ACTIVITY_READS, COMPLIANCE_READS, COURSE_LABEL_READS,
        USER_LABEL_READS,
    )  # fmt: skip
    unchecked_without: ClassVar[dict[str, str]] = {
        "activity": "automatic enrolments that never took effect",
        "notifications": "automatic enrolments that never took effect",
    }
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "stale_after_days": [Interval(Real, 0, None)],
        "automated_sources": [ListOf(Text())],
        "score_failed": [Interval(Real, 0, 1)],
        "score_scale_days": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        stale_after_days: float = 14.0,
        automated_sources: tuple[str, ...] = ("rule", "hr_sync"),
        score_failed: float = 0.9,
        score_scale_days: float = 30.0,
        max_evidence_rows: int = 10,
    ) -> None:
        self.stale_after_days = stale_after_days
        self.automated_sources = automated_sources
        self.score_failed = score_failed
        self.score_scale_days = score_scale_days
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        as_of = as_of_ts(snapshot)
        enr = snapshot["enrollments"]
        status = enr["status"].astype(str)
        failed = status.eq("failed")
        age_days = (as_of - utc(enr["enrolled_at"])).dt.total_seconds() / 86400.0
        progress = pd.to_numeric(enr["progress_pct"], errors="coerce")
        stale = (
            status.eq("enrolled")
            & enr["source"].astype(str).isin(list(self.automated_sources))
            & (age_days > self.stale_after_days).fillna(False)
            & (progress.isna() | progress.eq(0))
        )
        if not (snapshot.has("activity") and snapshot.has("notifications")):
            stale[:] = False
        cand = stale[stale].index
        if len(cand):
            sub = enr.loc[cand, ["user_id", "course_id"]]
            touched = has_activity(snapshot, sub)
            if snapshot.has("notifications"):
                notes = snapshot["notifications"]
                # Only the candidates' users: the notification table can be millions of rows.
                notes = notes[notes["user_id"].isin(sub["user_id"].unique())]
                notes = notes[(utc(notes["sent_at"]) <= as_of).to_numpy()]
                npairs = notes[["user_id", "course_id"]].dropna().drop_duplicates()
                touched |= has_pair(sub, npairs)
            stale.loc[cand] = ~touched.to_numpy()
        hits = enr[failed | stale]
        if hits.empty:
            return []
        is_failed = failed[hits.index].to_numpy()
        ages = age_days[hits.index].to_numpy()
        compliance = hits["course_id"].astype(str).map(compliance_courses(snapshot)).fillna(False)
        scores = np.where(
            is_failed,
            self.score_failed,
            0.5
            + 0.4 * saturating(np.nan_to_num(ages) - self.stale_after_days, self.score_scale_days),
        )
        severity = np.where(compliance.to_numpy(dtype=bool), "high", "medium")
        users = label(hits["user_id"].astype(str), user_labels(snapshot))
        courses = label(hits["course_id"].astype(str), course_labels(snapshot))
        out = []
        for row, who, course, f, age, score, sev in zip(
            enrolment_evidence(hits).to_dict("records"),
            users,
            courses,
            is_failed,
            ages,
            scores,
            severity,
            strict=True,
        ):
            if f:
                title = f"Enrolment {row['enrollment_id']} of {who} in {course} failed in the LMS"
                why = "The LMS reports that it could not enrol this learner."
            else:
                title = (
                    f"Enrolment {row['enrollment_id']} of {who} in {course} never took effect: "
                    f"{age:.0f} days old, no activity, no notification, no progress"
                )
                why = (
                    f"Created automatically ({row['source']}) {age:.0f} days ago, yet the learner "
                    "has neither been notified nor done anything in the course."
                )
            out.append(
                self._proposal(
                    category="enrollment_failed",
                    entity_key=f"enrollment={row['enrollment_id']}",
                    title=title,
                    score=score,
                    severity=sev,
                    evidence={"enrollments": [named_row(row, who, course)]},
                    features={"status_failed": bool(f), "age_days": round(float(age), 2)},
                    explanation=why,
                )
            )
        return out
