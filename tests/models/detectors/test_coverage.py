"""Coverage on literal snapshots: which gap categories were checked, which could not be, and what
they lack, in words a person reads."""

from __future__ import annotations

import json

from models.detectors import build_detectors, carried_columns
from models.detectors.coverage import CoverageRow, coverage, coverage_lines, lack_words
from models.snapshot import Snapshot
from models.taxonomy import DETECTED_CATEGORIES
from tests.helpers.detector_snapshots import course, enrol, person, snap, user

EVERY_TABLE = {
    "people": [person("P1")],
    "lms_users": [user("U1", "P1")],
    "courses": [course("C1", owner_user_id="U1")],
    "enrollments": [enrol("E1", "U1", "C1")],
    "enrollment_rules": [{"rule_id": "R1", "course_id": "C1", "active": True}],
    "activity": [
        {"event_id": "A1", "user_id": "U1", "course_id": "C1", "verb": "viewed",
         "timestamp": "2026-11-20T09:00:00Z"}
    ],
    "submissions": [
        {"submission_id": "S1", "user_id": "U1", "course_id": "C1", "assignment_id": "X",
         "submitted_at": "2026-11-20T09:00:00Z"}
    ],
    "notifications": [
        {"notification_id": "N1", "user_id": "U1", "kind": "other", "channel": "email",
         "sent_at": "2026-11-20T09:00:00Z", "bounced": False}
    ],
    "sync_runs": [
        {"run_id": "Y1", "integration": "hr_to_lms", "started_at": "2026-11-20T09:00:00Z",
         "status": "success", "records_read": 1, "records_written": 1, "error_count": 0}
    ],
}  # fmt: skip


def _rows(s: Snapshot) -> dict[str, CoverageRow]:
    return {r.detector: r for r in coverage(carried_columns(s), build_detectors())}


def _lms_log_alone() -> Snapshot:
    """What a Moodle log becomes: users and courses known only by id, and their events."""
    s = snap(**{t: EVERY_TABLE[t] for t in ("lms_users", "courses", "activity")})
    del s.tables["people"], s.tables["enrollments"]
    s.tables["lms_users"] = s["lms_users"][["user_id", "status"]]
    s.tables["courses"] = s["courses"][["course_id", "title", "is_compliance", "status"]]
    return s


def test_a_snapshot_with_every_table_and_column_checks_every_category() -> None:
    rows = coverage(carried_columns(snap(**EVERY_TABLE)), build_detectors())
    assert {r.status for r in rows} == {"checked"}
    assert {r.category for r in rows} == set(DETECTED_CATEGORIES)
    assert all(r.missing == "" and r.needs == () for r in rows)
    assert coverage_lines(rows) == ["15 of 15 gap categories checked on this snapshot."]


def test_without_the_hr_roster_identity_and_rules_cannot_be_checked() -> None:
    s = snap(**EVERY_TABLE)
    del s.tables["people"]
    rows = _rows(s)
    for name in ("orphan_account", "record_mismatch", "duplicate_account", "enrollment_missing"):
        assert rows[name].status == "not checked", name
        assert "HR roster missing" in rows[name].missing
        assert "people" in rows[name].needs
    assert rows["orphan_account"].missing == "HR roster missing"
    assert rows["orphan_account"].unchecked == "orphan accounts"
    # Owners are still checked against the LMS users; only owners who left cannot be known.
    assert rows["unowned_course"].status == "partly checked"
    assert rows["unowned_course"].unchecked == "owners who have left the organisation"
    assert rows["compliance_overdue"].status == "checked"
    lines = coverage_lines(list(rows.values()))
    assert lines[0] == "11 of 15 gap categories checked on this snapshot."
    assert (
        "HR roster missing: missing enrolments, orphan accounts, records that disagree with HR "
        "and duplicate accounts cannot be checked."
    ) in lines
    assert "HR roster missing: owners who have left the organisation not checked." in lines


def test_an_lms_log_alone_checks_only_what_events_show() -> None:
    rows = _rows(_lms_log_alone())
    checked = {n for n, r in rows.items() if r.checked}
    assert checked == {
        "access_failure", "reporting_gap", "engagement_course_week", "engagement_learner"
    }  # fmt: skip
    assert rows["unowned_course"].needs == ("courses.owner_user_id",)
    assert rows["unowned_course"].missing == "courses carry no owner"
    assert rows["orphan_account"].needs == ("people", "lms_users.person_id")
    assert rows["sync_failure"].missing == "integration run log missing"
    assert rows["engagement_course_week"].status == "partly checked"
    assert rows["engagement_learner"].status == "checked"
    lines = coverage_lines(list(rows.values()))
    assert lines[0] == "3 of 15 gap categories checked on this snapshot."
    assert "Courses carry no owner: unowned courses cannot be checked." in lines
    assert "Integration run log missing: failing integrations cannot be checked." in lines
    assert (
        "Enrolment list missing: missing enrolments, failed enrolments, contradictory progress "
        "and overdue mandatory training cannot be checked."
    ) in lines


def test_courses_without_an_owner_column_leave_only_unowned_courses_unchecked() -> None:
    s = snap(**EVERY_TABLE)
    s.tables["courses"] = s["courses"].drop(columns=["owner_user_id"])
    rows = coverage(carried_columns(s), build_detectors())
    assert [(r.detector, r.status) for r in rows if r.status != "checked"] == [
        ("unowned_course", "not checked")
    ]
    assert coverage_lines(rows) == [
        "14 of 15 gap categories checked on this snapshot.",
        "Courses carry no owner: unowned courses cannot be checked.",
    ]


def test_a_switched_off_detector_is_listed_as_such_and_rows_survive_json() -> None:
    on = [d for d in build_detectors() if d.name != "engagement_learner"]
    rows = coverage(carried_columns(snap(**EVERY_TABLE)), on)
    off = [r for r in rows if r.status == "switched off"]
    assert [(r.category, r.detector) for r in off] == [("engagement_anomaly", "engagement_learner")]
    # The category stays checked: the course-week model still looks at it.
    assert coverage_lines(rows) == [
        "15 of 15 gap categories checked on this snapshot.",
        "Switched off on the Detectors page: unusual learners not checked.",
    ]
    stored = json.loads(json.dumps([r.to_dict() for r in rows]))
    assert [CoverageRow.from_dict(d) for d in stored] == rows
    assert stored[0]["status"] == rows[0].status


def test_lacks_are_said_in_words() -> None:
    assert lack_words("people") == "HR roster missing"
    assert lack_words("courses.owner_user_id") == "courses carry no owner"
    assert lack_words("lms_users.person_id") == "LMS users carry no link to the HR roster"
    assert lack_words("sync_runs.records_read") == "integration runs carry no records read"
