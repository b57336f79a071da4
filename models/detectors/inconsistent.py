"""``progress_inconsistent``: enrolments whose status, dates, progress and activity contradict
each other (the falls of reported progress themselves: ``models.detectors.progress``)."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Real
from typing import ClassVar

import numpy as np
import pandas as pd

from models.detectors.base import Columns, Detector, Proposal, columns, merge_reads, records
from models.detectors.common import (
    ACTIVITY_READS,
    COMPLIANCE_READS,
    COURSE_LABEL_READS,
    ENROLMENT_COLUMNS,
    USER_LABEL_READS,
    compliance_courses,
    course_labels,
    label,
    named_row,
    user_labels,
    utc,
)
from models.detectors.constraints import Constraint, Interval
from models.detectors.event_passes import event_span, has_activity
from models.detectors.progress import (
    REASON_TEXT,
    enrolments_with_falls,
    fall_text,
    progress_drops,
)
from models.snapshot import Snapshot


class ProgressInconsistentDetector(Detector):
    """Enrolments whose status, dates, progress and activity contradict each other.

    Progress going down is judged per learner, course and object (``activity.object_id``; per
    learner and course when the snapshot has none) and within one attempt: a value at 0, a
    launch of the object, or (objects only) a report ``new_attempt_after_hours`` after the
    previous one starts a new attempt, so a rewatch, a seek or a retry is not a contradiction
    (``models.detectors.progress.progress_drops``).
    """

    name = "progress_inconsistent"
    version = "2.0"
    categories = ("progress_inconsistent",)
    requires = ("courses", "enrollments")
    optional = ("activity", "lms_users", "people")
    # Each contradiction is checked where the snapshot carries its columns (absent is not
    # empty): an export without progress or completion dates (OULAD) still shows withdrawals
    # without a date.
    reads: ClassVar[dict[str, Columns]] = merge_reads(
        {
            "enrollments": columns(
                "enrollment_id", "user_id", "course_id", "status", "enrolled_at",
                optional=ENROLMENT_COLUMNS,
            )
        },
        ACTIVITY_READS, COMPLIANCE_READS, COURSE_LABEL_READS, USER_LABEL_READS,
    )  # fmt: skip
    unchecked_without: ClassVar[dict[str, str]] = {
        "activity": "completions without any activity and progress that goes down",
        "enrollments.progress_pct": "completions with progress below 100%",
        "enrollments.completed_at": "completions without a date, before enrolment or without "
        "activity",
        "enrollments.withdrawn_at": "withdrawals without a date",
    }
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "min_progress_drop": [Interval(Real, 0, None)],
        "base_score": [Interval(Real, 0, 1)],
        "score_per_extra_reason": [Interval(Real, 0, 1)],
        "restart_at": [Interval(Real, None, None)],
        "new_attempt_after_hours": [Interval(Real, 0, None)],
    }

    def __init__(
        self,
        *,
        min_progress_drop: float = 0.0,
        restart_at: float = 0.0,
        new_attempt_after_hours: float = 1.0,
        base_score: float = 0.6,
        score_per_extra_reason: float = 0.15,
        max_evidence_rows: int = 10,
    ) -> None:
        self.min_progress_drop = min_progress_drop
        self.restart_at = restart_at
        self.new_attempt_after_hours = new_attempt_after_hours
        self.base_score = base_score
        self.score_per_extra_reason = score_per_extra_reason
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        enr = snapshot["enrollments"]
        status = enr["status"].astype(str)
        completed = status.eq("completed")
        withdrawn = status.eq("withdrawn")
        enrolled_at = utc(enr["enrolled_at"])
        reasons: dict[str, pd.Series] = {}
        # A rule runs only on the columns the snapshot carries: a column the source could not
        # know is absent, not empty, and raises nothing.
        if "progress_pct" in enr:
            progress = pd.to_numeric(enr["progress_pct"], errors="coerce")
            reasons["completed_progress_below_100"] = completed & (progress < 100).fillna(False)
        if "completed_at" in enr:
            completed_at = utc(enr["completed_at"])
            reasons["completed_without_date"] = completed & completed_at.isna()
            reasons["completed_before_enrolled"] = (completed_at < enrolled_at).fillna(False)
        if "withdrawn_at" in enr:
            withdrawn_at = utc(enr["withdrawn_at"])
            reasons["withdrawn_without_date"] = withdrawn & withdrawn_at.isna()
            reasons["withdrawal_date_not_withdrawn"] = ~withdrawn & withdrawn_at.notna()
        drops = pd.DataFrame()
        if snapshot.has("activity"):
            span = event_span(snapshot)
            if span["events"] and "completed_at" in enr:
                lo, hi = span["first"], span["last"]
                in_span = completed & (completed_at >= lo).fillna(False) & (completed_at <= hi)
                in_span = in_span.fillna(False)
                cand = in_span[in_span].index
                no_act = pd.Series(False, index=enr.index)
                if len(cand):
                    seen = has_activity(snapshot, enr.loc[cand, ["user_id", "course_id"]])
                    no_act.loc[cand] = ~seen.to_numpy()
                reasons["completed_without_activity"] = no_act
            drops = progress_drops(
                snapshot,
                self.min_progress_drop,
                restart_at=self.restart_at,
                # 0 switches the rule off: only a launch or a value at 0 starts a new attempt.
                new_attempt_after_hours=self.new_attempt_after_hours or None,
            )
            went_down = pd.Series(False, index=enr.index)
            went_down.loc[enrolments_with_falls(enr, enrolled_at, drops)] = True
            reasons["progress_went_down"] = went_down
        table = pd.DataFrame(reasons, index=enr.index)
        any_reason = table.any(axis=1)
        hits = enr[any_reason]
        if hits.empty:
            return []
        table = table[any_reason]
        n_reasons = table.sum(axis=1).to_numpy()
        compliance = hits["course_id"].astype(str).map(compliance_courses(snapshot)).fillna(False)
        scores = self.base_score + self.score_per_extra_reason * (n_reasons - 1)
        # A compliance completion nobody can substantiate is an audit problem.
        severity = np.where(compliance.to_numpy(dtype=bool), "high", "medium")
        users = label(hits["user_id"].astype(str), user_labels(snapshot))
        courses_l = label(hits["course_id"].astype(str), course_labels(snapshot))
        drop_index = (
            drops.set_index(["user_id", "course_id"]) if not drops.empty else pd.DataFrame()
        )
        names = np.array(list(table.columns))
        out = []
        for row, flags, who, course, score, sev, n in zip(
            hits[[c for c in ENROLMENT_COLUMNS if c in hits]].to_dict("records"),
            table.to_numpy(dtype=bool),
            users,
            courses_l,
            scores,
            severity,
            n_reasons,
            strict=True,
        ):
            found = list(names[flags])
            evidence: dict[str, object] = {"enrollments": [named_row(row, who, course)]}
            texts = [REASON_TEXT[r] for r in found]
            if "progress_went_down" in found:
                key = (str(row["user_id"]), str(row["course_id"]))
                falls = drop_index.loc[[key]].reset_index()
                evidence["progress_drops"] = records(falls, self.max_evidence_rows)
                texts[found.index("progress_went_down")] = fall_text(falls)
            out.append(
                self._proposal(
                    category="progress_inconsistent",
                    entity_key=f"enrollment={row['enrollment_id']}",
                    title=f"Enrolment {row['enrollment_id']} of {who} in {course}: "
                    + "; ".join(texts),
                    score=score,
                    severity=sev,
                    evidence=evidence,
                    features={"reasons": int(n), **{r: True for r in found}},
                    explanation="Progress tracking contradicts itself: " + "; ".join(texts) + ".",
                )
            )
        return out
