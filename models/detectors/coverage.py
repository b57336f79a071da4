"""Coverage: which gap categories a snapshot lets the detectors check, and what the rest lack.

Contract version 2 (absent is not empty): a detector whose needed table or column the snapshot
does not carry is skipped, and the person reading the results is told so in plain words::

    rows = coverage(carried_columns(snapshot), detectors)
    rows[0].status        # "checked", "partly checked", "not checked" or "switched off"
    rows[0].missing       # "HR roster missing", "courses carry no owner"
    coverage_lines(rows)  # ["HR roster missing: orphan accounts ... cannot be checked.", ...]

Pure: it reads only the detectors' declarations (``requires``, ``reads``, ``unchecked_without``)
and which tables and columns the snapshot carries, never the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import asdict, dataclass
from typing import Any

from models.detectors.base import Detector
from models.detectors.registry import DETECTOR_CLASSES
from models.taxonomy import CATEGORIES

# What a person calls each table when it is missing.
TABLE_WORDS = {
    "people": "HR roster",
    "lms_users": "LMS user list",
    "courses": "course list",
    "enrollments": "enrolment list",
    "enrollment_rules": "enrolment rules",
    "activity": "activity log",
    "submissions": "submission list",
    "notifications": "notification log",
    "sync_runs": "integration run log",
}
# What the rows of each table are, for "<rows> carry no <column>".
ROW_WORDS = {
    "people": "HR records",
    "lms_users": "LMS users",
    "courses": "courses",
    "enrollments": "enrolments",
    "enrollment_rules": "enrolment rules",
    "activity": "activity events",
    "submissions": "submissions",
    "notifications": "notifications",
    "sync_runs": "integration runs",
}
# Columns whose name alone does not say it; the others read as their name without underscores.
COLUMN_WORDS = {
    "courses.owner_user_id": "owner",
    "courses.grading_sla_days": "grading deadline",
    "courses.due_days": "days to complete",
    "courses.is_compliance": "mandatory-training flag",
    "lms_users.person_id": "link to the HR roster",
    "lms_users.email": "e-mail address",
    "people.email": "e-mail address",
    "people.employment_status": "employment status",
    "enrollments.progress_pct": "progress",
    "enrollments.due_at": "due date",
    "enrollments.completed_at": "completion date",
    "enrollments.withdrawn_at": "withdrawal date",
    "enrollments.enrolled_at": "enrolment date",
    "enrollments.source": "enrolment method",
    "notifications.delivered_at": "delivery time",
    "submissions.graded_at": "grading time",
    "sync_runs.finished_at": "finish time",
    "activity.course_id": "course",
    "courses.starts_at": "start date",
    "courses.ends_at": "end date",
}
# What goes unchecked when a category's detector cannot run ("... cannot be checked").
CATEGORY_WORDS = {
    "enrollment_missing": "missing enrolments",
    "enrollment_failed": "failed enrolments",
    "notification_undelivered": "learners whom notifications do not reach",
    "notification_outage": "notification channel outages",
    "orphan_account": "orphan accounts",
    "record_mismatch": "records that disagree with HR",
    "duplicate_account": "duplicate accounts",
    "sync_failure": "failing integrations",
    "progress_inconsistent": "contradictory progress",
    "feedback_delayed": "late feedback",
    "access_failure": "access failures",
    "compliance_overdue": "overdue mandatory training",
    "unowned_course": "unowned courses",
    "reporting_gap": "reporting gaps",
    "engagement_anomaly": "engagement anomalies",
}
# Where one category has several detectors, each says what it alone looks for.
DETECTOR_WORDS = {
    "engagement_course_week": "unusual course-weeks",
    "engagement_learner": "unusual learners",
}

STATUSES = ("checked", "partly checked", "not checked", "switched off")


@dataclass(frozen=True)
class CoverageRow:
    """One detector's verdict on one snapshot: whether its category was checked, and if not (or
    only partly) what the snapshot lacks and what therefore goes unchecked, in words."""

    category: str
    detector: str
    checked: bool
    missing: str = ""  # "HR roster missing; courses carry no owner"
    unchecked: str = ""  # "orphan accounts" (what the lack leaves unchecked)
    needs: tuple[str, ...] = ()  # the lacking tables and columns: "people", "courses.owner_user_id"
    switched_off: bool = False

    @property
    def status(self) -> str:
        """One of ``STATUSES``."""
        if self.switched_off:
            return "switched off"
        if not self.checked:
            return "not checked"
        return "partly checked" if self.needs else "checked"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields plus ``status`` (as stored with a detection run)."""
        return {**asdict(self), "needs": list(self.needs), "status": self.status}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CoverageRow:
        """The row ``to_dict`` wrote (``status`` is derived again, not read)."""
        return cls(
            category=str(data["category"]),
            detector=str(data["detector"]),
            checked=bool(data["checked"]),
            missing=str(data.get("missing", "")),
            unchecked=str(data.get("unchecked", "")),
            needs=tuple(data.get("needs", ())),
            switched_off=bool(data.get("switched_off", False)),
        )


def lack_words(item: str) -> str:
    """``"people"`` → "HR roster missing"; ``"courses.owner_user_id"`` → "courses carry no
    owner"."""
    table, _, column = item.partition(".")
    if not column:
        return f"{TABLE_WORDS.get(table, table)} missing"
    what = COLUMN_WORDS.get(item, column.replace("_", " "))
    return f"{ROW_WORDS.get(table, table)} carry no {what}"


def _what(detector: type[Detector] | Detector) -> str:
    if detector.name in DETECTOR_WORDS:
        return DETECTOR_WORDS[detector.name]
    return _join([CATEGORY_WORDS.get(c, c) for c in detector.categories])


def _join(words: Sequence[str]) -> str:
    unique = list(dict.fromkeys(w for w in words if w))
    if len(unique) <= 1:
        return "".join(unique)
    return ", ".join(unique[:-1]) + " and " + unique[-1]


def detector_coverage(
    detector: type[Detector] | Detector, carried: Mapping[str, Set[str]]
) -> list[CoverageRow]:
    """Rows (one per category) for ``detector`` on a snapshot carrying ``carried``."""
    lacking = detector.lacking(carried)
    if lacking:
        missing, unchecked, checked = lacking, _what(detector), False
    else:
        missing = detector.partly_lacking(carried)
        unchecked = _join([detector.unchecked_without[m] for m in missing])
        checked = True
    return [
        CoverageRow(
            category=category,
            detector=detector.name,
            checked=checked,
            missing="; ".join(lack_words(m) for m in missing),
            unchecked=unchecked if missing else "",
            needs=tuple(missing),
        )
        for category in detector.categories
    ]


def coverage(
    carried: Mapping[str, Set[str]],
    detectors: Iterable[Detector],
    *,
    known: Sequence[type[Detector]] = DETECTOR_CLASSES,
) -> list[CoverageRow]:
    """Coverage rows for ``detectors`` on a snapshot carrying ``carried`` (table → columns, see
    ``base.carried_columns``), plus a "switched off" row for each ``known`` detector not among
    them; in the taxonomy's order of categories."""
    given = list(detectors)
    names = {d.name for d in given}
    rows = [row for det in given for row in detector_coverage(det, carried)]
    for cls in known:
        if cls.name not in names:
            rows.extend(
                CoverageRow(category=c, detector=cls.name, checked=False, switched_off=True,
                            missing="switched off", unchecked=_what(cls))
                for c in cls.categories
            )  # fmt: skip
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return sorted(rows, key=lambda r: order.get(r.category, len(order)))


def coverage_lines(rows: Sequence[CoverageRow]) -> list[str]:
    """The coverage as sentences a person reads: how many categories were checked, then one
    line per thing the snapshot lacks ("HR roster missing: orphan accounts and duplicate
    accounts cannot be checked."), then what is checked only in part, then what is off."""
    categories = list(dict.fromkeys(r.category for r in rows))
    checked = [c for c in categories if any(r.checked for r in rows if r.category == c)]
    lines = [f"{len(checked)} of {len(categories)} gap categories checked on this snapshot."]
    cannot: dict[str, list[str]] = {}
    for row in rows:
        if row.status == "not checked":
            for need in row.needs:
                cannot.setdefault(need, []).append(row.unchecked)
    lines.extend(
        f"{_capital(lack_words(n))}: {_join(w)} cannot be checked." for n, w in cannot.items()
    )
    partly: dict[str, list[str]] = {}
    for row in rows:
        if row.status == "partly checked":
            partly.setdefault(row.missing, []).append(row.unchecked)
    lines.extend(f"{_capital(m)}: {_join(w)} not checked." for m, w in partly.items())
    off = [r.unchecked for r in rows if r.switched_off]
    if off:
        lines.append(f"Switched off on the Detectors page: {_join(off)} not checked.")
    return lines


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
