"""Detector of missed mandatory deadlines: compliance-course enrolments past their due date."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Real
from typing import ClassVar

import numpy as np
import pandas as pd

from models.detectors.base import (
    Columns,
    Detector,
    Proposal,
    columns,
    merge_reads,
    saturating,
    severity_from_bins,
)
from models.detectors.common import (
    COURSE_LABEL_READS,
    ENROLMENT_EVIDENCE_READS,
    USER_LABEL_READS,
    as_of_ts,
    course_labels,
    enrolment_evidence,
    flag,
    label,
    named_row,
    user_labels,
    utc,
)
from models.detectors.constraints import Boolean, Constraint, Interval, ListOf
from models.snapshot import Snapshot


class ComplianceOverdueDetector(Detector):
    """Mandatory-course enrolments past their due date and neither completed nor withdrawn."""

    name = "compliance_overdue"
    version = "1.0"
    categories = ("compliance_overdue",)
    requires = ("courses", "enrollments")
    optional = ("lms_users", "people")
    # An absent due_days column reads as "no deadline to derive", as an empty cell does.
    reads: ClassVar[dict[str, Columns]] = merge_reads(
        {
            "courses": columns("course_id", "is_compliance", optional=("due_days",)),
            "enrollments": columns(
                "enrollment_id", "user_id", "course_id", "status", "enrolled_at", "due_at"
            ),
        },
        ENROLMENT_EVIDENCE_READS,
        COURSE_LABEL_READS,
        USER_LABEL_READS,
    )
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "derive_due_from_due_days": [Boolean()],
        "severity_days": [ListOf(Interval(Real, 0, None), length=3, ascending=True)],
        "score_scale_days": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        derive_due_from_due_days: bool = True,
        severity_days: tuple[float, float, float] = (7.0, 30.0, 90.0),
        score_scale_days: float = 30.0,
        max_evidence_rows: int = 10,
    ) -> None:
        self.derive_due_from_due_days = derive_due_from_due_days
        self.severity_days = severity_days
        self.score_scale_days = score_scale_days
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        as_of = as_of_ts(snapshot)
        courses = snapshot["courses"]
        comp = courses[flag(courses, "is_compliance")]
        comp = comp[["course_id"]].assign(
            due_days=comp.get("due_days", pd.Series(np.nan, index=comp.index))
        )
        enr = snapshot["enrollments"]
        enr = enr[enr["course_id"].isin(comp["course_id"])]
        enr = enr[~enr["status"].astype(str).isin(["completed", "withdrawn"])]
        if enr.empty:
            return []
        due = utc(enr["due_at"])
        derived = pd.Series(False, index=enr.index)
        if self.derive_due_from_due_days:
            # A compliance enrolment without due_at still has a deadline: enrolled_at + due_days.
            days = enr["course_id"].map(comp.set_index("course_id")["due_days"])
            guess = utc(enr["enrolled_at"]) + pd.to_timedelta(
                pd.to_numeric(days, errors="coerce"), unit="D"
            )
            # Only for enrolments that exist and run: a failed one never started a deadline.
            running = enr["status"].astype(str).isin(["enrolled", "in_progress"])
            derived = due.isna() & guess.notna() & running
            due = due.where(due.notna(), guess)
        overdue = (due < as_of).fillna(False)
        hits = enr[overdue]
        if hits.empty:
            return []
        days_over = ((as_of - due[hits.index]).dt.total_seconds() / 86400.0).to_numpy()
        scores = 0.4 + 0.6 * saturating(days_over, self.score_scale_days)
        severity = severity_from_bins(days_over, self.severity_days)
        users = label(hits["user_id"].astype(str), user_labels(snapshot))
        courses_l = label(hits["course_id"].astype(str), course_labels(snapshot))
        out = []
        for row, who, course, over, score, sev, dv, d in zip(
            enrolment_evidence(hits).to_dict("records"),
            users,
            courses_l,
            days_over,
            scores,
            severity,
            due[hits.index],
            derived[hits.index].to_numpy(),
            strict=True,
        ):
            out.append(
                self._proposal(
                    category="compliance_overdue",
                    entity_key=f"enrollment={row['enrollment_id']}",
                    title=f"{who} is {over:.0f} days overdue on mandatory course {course} "
                    f"(due {dv.date()}, status {row['status']})",
                    score=score,
                    severity=sev,
                    evidence={
                        "enrollments": [named_row(row, who, course)],
                        "due": dv,
                        "due_derived_from_due_days": d,
                    },
                    features={"days_overdue": round(float(over), 2), "due_derived": bool(d)},
                    explanation=f"Mandatory training was due {over:.0f} days ago and is neither "
                    "completed nor withdrawn.",
                )
            )
        return out
