"""Missing, failed and overdue enrolments and contradictory progress, on literal tables."""

from __future__ import annotations

import pytest

from models.detectors.base import MissingTableError
from models.detectors.compliance import ComplianceOverdueDetector
from models.detectors.enrolment import EnrollmentFailedDetector, EnrollmentMissingDetector
from models.detectors.inconsistent import ProgressInconsistentDetector
from tests.helpers.detector_snapshots import course, enrol, person, snap, user


def keys(proposals: list) -> set[str]:
    return {p.entity_key for p in proposals}


# ------------------------------------------------------------------ enrollment_missing


def _rules_snapshot(**extra: object) -> dict:
    return dict(
        people=[
            person("P1", department="Ops", job_title="Driver", full_name="Dana Ortiz"),
            person("P2", department="Ops", job_title="Clerk"),
            person("P3", department="Ops", job_title="Driver", hire_date="2026-11-25"),
            person("P4", department="Ops", job_title="Driver", employment_status="leave"),
            person("P5", department="Sales", job_title="Driver"),
            person("P6", department="Ops", job_title="Driver"),
        ],
        lms_users=[user("U1", "P1"), user("U6", "P6"), user("U6b", "P6")],
        courses=[course("C12", title="Fire Safety", is_compliance=True)],
        enrollment_rules=[
            {
                "rule_id": "R3",
                "course_id": "C12",
                "department": "Ops",
                "job_title": "Driver",
                "active": True,
                "grace_days": 3,
            },
            {
                "rule_id": "R4",
                "course_id": "C12",
                "department": "Sales",
                "job_title": None,
                "active": False,
            },
        ],
        enrollments=[
            enrol("E1", "U6b", "C12", status="withdrawn", withdrawn_at="2026-10-02T00:00:00Z")
        ],
        **extra,
    )


def test_enrollment_missing_fires_for_a_matched_person_without_any_enrolment() -> None:
    found = EnrollmentMissingDetector().detect(snap(**_rules_snapshot()))
    # P2 other job; P3 inside grace; P4 on leave; P5 only an inactive rule; P6 enrolled (withdrawn
    # counts: "whatever its status") through a second account.
    assert keys(found) == {"person=P1;course=C12"}
    p = found[0]
    assert (
        p.title
        == "Dana Ortiz (P1) has no enrolment in Fire Safety (C12) though rule R3 requires it"
    )
    assert p.severity == "critical"  # compliance course, grace long over


def test_enrollment_missing_grace_boundary_is_strict() -> None:
    # Hired exactly grace_days before as_of: not yet "more than grace_days" -> no finding.
    tables = _rules_snapshot()
    tables["people"] = [person("P1", department="Ops", job_title="Driver", hire_date="2026-11-24")]
    assert EnrollmentMissingDetector().detect(snap(**tables)) == []
    later = snap("2026-11-27T00:00:01Z", **tables)
    assert keys(EnrollmentMissingDetector().detect(later)) == {"person=P1;course=C12"}


def test_enrollment_missing_rule_with_empty_fields_matches_anyone_and_default_grace() -> None:
    tables = _rules_snapshot()
    tables["enrollment_rules"] = [
        {"rule_id": "R9", "course_id": "C12", "active": True}  # any department, any title
    ]
    found = keys(EnrollmentMissingDetector().detect(snap(**tables)))
    # P3 hired 2 days ago (< default grace 3), P4 on leave, P6 enrolled.
    assert found == {f"person={p};course=C12" for p in ("P1", "P2", "P5")}


def test_enrollment_missing_is_skipped_without_rules_table() -> None:
    tables = _rules_snapshot()
    del tables["enrollment_rules"]
    s = snap(**tables)
    det = EnrollmentMissingDetector()
    assert det.skip_reason(s) == "needs table enrollment_rules, absent"
    with pytest.raises(MissingTableError):
        det.detect(s)


# ------------------------------------------------------------------ enrollment_failed


def _failed_snapshot() -> dict:
    return dict(
        people=[person("P1")],
        lms_users=[user("U1", "P1"), user("U2", None), user("U3", None), user("U4", None)],
        courses=[course("C1"), course("C2", is_compliance=True)],
        enrollments=[
            enrol("E1", "U1", "C1", status="failed"),
            enrol(
                "E2",
                "U2",
                "C2",
                source="rule",
                status="enrolled",
                progress_pct=None,
                enrolled_at="2026-10-01T00:00:00Z",
            ),  # stale, never took effect
            enrol(
                "E3",
                "U3",
                "C1",
                source="rule",
                status="enrolled",
                progress_pct=0,
                enrolled_at="2026-10-01T00:00:00Z",
            ),  # has activity: took effect
            enrol(
                "E4",
                "U4",
                "C1",
                source="hr_sync",
                status="enrolled",
                progress_pct=0,
                enrolled_at="2026-10-01T00:00:00Z",
            ),  # was notified: took effect
            enrol(
                "E5",
                "U2",
                "C1",
                source="manual",
                status="enrolled",
                progress_pct=None,
                enrolled_at="2026-10-01T00:00:00Z",
            ),  # manual: a person watched it
            enrol(
                "E6",
                "U3",
                "C2",
                source="rule",
                status="enrolled",
                progress_pct=None,
                enrolled_at="2026-11-13T00:00:00Z",
            ),  # exactly 14 days: not older
        ],
        activity=[
            {
                "event_id": "A1",
                "user_id": "U3",
                "course_id": "C1",
                "verb": "viewed",
                "timestamp": "2026-10-03T00:00:00Z",
            }
        ],
        notifications=[
            {
                "notification_id": "N1",
                "user_id": "U4",
                "course_id": "C1",
                "kind": "enrollment",
                "channel": "email",
                "sent_at": "2026-10-01T01:00:00Z",
                "bounced": False,
            }
        ],
    )


def test_enrollment_failed_fires_for_failed_and_stale_automated_enrolments() -> None:
    found = {p.entity_key: p for p in EnrollmentFailedDetector().detect(snap(**_failed_snapshot()))}
    assert set(found) == {"enrollment=E1", "enrollment=E2"}
    assert found["enrollment=E2"].severity == "high"  # compliance course
    assert "never took effect" in found["enrollment=E2"].title


def test_enrollment_failed_without_either_log_judges_only_the_failed_status() -> None:
    # Contract version 2: absent is not empty. Without the notification log nobody knows that
    # E4 was never notified (it was), so "never took effect" is not judged, nor without activity.
    for table in ("notifications", "activity"):
        tables = _failed_snapshot()
        del tables[table]
        found = keys(EnrollmentFailedDetector().detect(snap(**tables)))
        assert found == {"enrollment=E1"}, table


def test_enrollment_failed_ignores_activity_after_as_of() -> None:
    tables = _failed_snapshot()
    tables["activity"] = [
        {
            "event_id": "A1",
            "user_id": "U3",
            "course_id": "C1",
            "verb": "viewed",
            "timestamp": "2026-11-28T00:00:00Z",
        }
    ]
    assert "enrollment=E3" in keys(EnrollmentFailedDetector().detect(snap(**tables)))


# ------------------------------------------------------------------ compliance_overdue


def test_compliance_overdue_fires_past_due_and_ranks_by_lateness() -> None:
    s = snap(
        lms_users=[user("U1")],
        courses=[course("C1", is_compliance=True, due_days=30), course("C2")],
        enrollments=[
            enrol("E1", "U1", "C1", due_at="2026-11-20T00:00:00Z"),  # 7 days late
            enrol("E2", "U1", "C1", due_at="2026-06-01T00:00:00Z"),  # months late
            enrol(
                "E3",
                "U1",
                "C1",
                due_at="2026-06-01T00:00:00Z",
                status="completed",
                completed_at="2026-05-01T00:00:00Z",
                progress_pct=100,
            ),
            enrol(
                "E4",
                "U1",
                "C1",
                due_at="2026-06-01T00:00:00Z",
                status="withdrawn",
                withdrawn_at="2026-05-01T00:00:00Z",
            ),
            enrol("E5", "U1", "C2", due_at="2026-06-01T00:00:00Z"),  # not compliance
            enrol("E6", "U1", "C1", due_at="2026-11-27T00:00:00Z"),  # due exactly now: not past
            enrol("E7", "U1", "C1", status="failed", due_at="2026-11-01T00:00:00Z"),
        ],
    )
    found = {p.entity_key: p for p in ComplianceOverdueDetector().detect(s)}
    assert set(found) == {"enrollment=E1", "enrollment=E2", "enrollment=E7"}
    assert found["enrollment=E2"].score > found["enrollment=E1"].score
    assert found["enrollment=E2"].severity == "critical"
    assert found["enrollment=E1"].severity == "medium"


def test_compliance_overdue_derives_missing_due_date_from_due_days_when_asked() -> None:
    tables = dict(
        lms_users=[user("U1")],
        courses=[course("C1", is_compliance=True, due_days=30)],
        enrollments=[enrol("E1", "U1", "C1", enrolled_at="2026-09-01T00:00:00Z")],
    )
    assert keys(ComplianceOverdueDetector().detect(snap(**tables))) == {"enrollment=E1"}
    strict = ComplianceOverdueDetector(derive_due_from_due_days=False)
    assert strict.detect(snap(**tables)) == []


# ------------------------------------------------------------------ progress_inconsistent


def test_progress_inconsistent_each_contradiction_fires_and_clean_rows_do_not() -> None:
    s = snap(
        lms_users=[user("U1"), user("U2")],
        courses=[course("C1"), course("C2"), course("C3")],
        enrollments=[
            enrol(
                "E1",
                "U1",
                "C1",
                status="completed",
                progress_pct=80,
                completed_at="2026-10-05T00:00:00Z",
            ),
            enrol("E2", "U1", "C2", status="completed", progress_pct=100),  # no completed_at
            enrol(
                "E3",
                "U2",
                "C1",
                status="completed",
                progress_pct=100,
                completed_at="2026-09-01T00:00:00Z",
            ),  # before enrolled_at 2026-10-01
            enrol("E4", "U2", "C2", status="withdrawn"),  # no withdrawn_at
            enrol("E5", "U2", "C3", status="in_progress", withdrawn_at="2026-10-03T00:00:00Z"),
            enrol(
                "E6",
                "U1",
                "C3",
                status="completed",
                progress_pct=100,
                completed_at="2026-10-10T00:00:00Z",
            ),  # clean: has activity
        ],
        activity=[
            {
                "event_id": "A1",
                "user_id": "U1",
                "course_id": "C3",
                "verb": "completed",
                "timestamp": "2026-10-10T00:00:00Z",
            },
            {
                "event_id": "A2",
                "user_id": "U1",
                "course_id": "C1",
                "verb": "viewed",
                "timestamp": "2026-10-01T00:00:00Z",
            },
            {
                "event_id": "A3",
                "user_id": "U2",
                "course_id": "C3",
                "verb": "viewed",
                "timestamp": "2026-11-01T00:00:00Z",
            },
        ],
    )
    found = {p.entity_key: p for p in ProgressInconsistentDetector().detect(s)}
    assert set(found) == {f"enrollment=E{i}" for i in range(1, 6)}
    assert found["enrollment=E1"].features["completed_progress_below_100"] is True
    assert found["enrollment=E4"].features["withdrawn_without_date"] is True


def test_progress_inconsistent_completed_without_activity_only_inside_the_activity_span() -> None:
    tables = dict(
        lms_users=[user("U1"), user("U2")],
        courses=[course("C1")],
        enrollments=[
            enrol(
                "E1",
                "U1",
                "C1",
                status="completed",
                progress_pct=100,
                completed_at="2026-10-15T00:00:00Z",
            ),  # inside span, no activity
            enrol(
                "E2",
                "U2",
                "C1",
                status="completed",
                progress_pct=100,
                enrolled_at="2026-08-01T00:00:00Z",
                completed_at="2026-08-15T00:00:00Z",
            ),  # before the span: log cannot tell
        ],
        activity=[
            {
                "event_id": "A1",
                "user_id": "U2",
                "course_id": "C1",
                "verb": "viewed",
                "timestamp": "2026-10-01T00:00:00Z",
            },
            {
                "event_id": "A2",
                "user_id": "U2",
                "course_id": "C1",
                "verb": "viewed",
                "timestamp": "2026-11-01T00:00:00Z",
            },
        ],
    )
    found = ProgressInconsistentDetector().detect(snap(**tables))
    assert keys(found) == {"enrollment=E1"}
    assert found[0].features["completed_without_activity"] is True
    # Without the activity table the check cannot run and the same enrolment is fine.
    del tables["activity"]
    assert ProgressInconsistentDetector().detect(snap(**tables)) == []


def test_progress_going_down_fires_but_ties_and_rises_do_not() -> None:
    def prog(eid: str, uid: str, ts: str, value: float) -> dict:
        return {
            "event_id": eid,
            "user_id": uid,
            "course_id": "C1",
            "verb": "progressed",
            "timestamp": ts,
            "value": value,
        }

    s = snap(
        lms_users=[user("U1"), user("U2"), user("U3")],
        courses=[course("C1")],
        enrollments=[enrol("E1", "U1", "C1"), enrol("E2", "U2", "C1"), enrol("E3", "U3", "C1")],
        activity=[
            prog("A1", "U1", "2026-10-02T10:00:00+02:00", 40),  # 08:00 UTC
            prog("A2", "U1", "2026-10-02T09:00:00Z", 30),  # later in UTC, lower: a fall
            prog("A3", "U2", "2026-10-02T09:00:00Z", 50),
            prog("A4", "U2", "2026-10-02T09:00:00Z", 20),  # same instant: order unknown, no fall
            prog("A5", "U3", "2026-10-02T09:00:00Z", 20),
            prog("A6", "U3", "2026-10-03T09:00:00Z", 60),
        ],
    )
    found = ProgressInconsistentDetector().detect(s)
    assert keys(found) == {"enrollment=E1"}
    drop = found[0].evidence["progress_drops"][0]
    assert (drop["before"], drop["after"]) == (40.0, 30.0)


def test_progress_repeating_the_same_value_is_not_a_fall() -> None:
    # Repeated values (0.1, 0.1, 0.3, 0.3 ...) across several learners: nothing went down.
    users = [f"U{i}" for i in range(6)]
    acts = []
    for i, u in enumerate(users):
        for k, value in enumerate([0.1, 0.1, 0.3, 0.3, 0.6, 0.6, 0.7, 0.7]):
            acts.append(
                {
                    "event_id": f"A{i}-{k}",
                    "user_id": u,
                    "course_id": "C1",
                    "verb": "progressed",
                    "timestamp": f"2026-10-{k + 2:02d}T09:00:00Z",
                    "value": value,
                }
            )
    s = snap(
        lms_users=[user(u) for u in users],
        courses=[course("C1")],
        enrollments=[enrol(f"E{i}", u, "C1") for i, u in enumerate(users)],
        activity=acts,
    )
    assert ProgressInconsistentDetector().detect(s) == []


def test_enrollment_failed_without_activity_judges_only_the_failed_status() -> None:
    tables = _failed_snapshot()
    del tables["activity"]
    found = keys(EnrollmentFailedDetector().detect(snap(**tables)))
    assert found == {"enrollment=E1"}


def test_progress_inconsistent_checks_only_what_the_snapshot_carries() -> None:
    """Absent is not empty (contract v2): without progress or completion dates (as OULAD), a
    completion is not "without a date", but a withdrawal without a date still is."""
    from models.detectors.base import carried_columns
    from models.detectors.coverage import detector_coverage

    s = snap(
        lms_users=[user("U1")],
        courses=[course("C1"), course("C2"), course("C3")],
        enrollments=[
            enrol("E1", "U1", "C1", status="completed"),
            enrol("E2", "U1", "C2", status="withdrawn"),  # no withdrawn_at
            enrol("E3", "U1", "C3", status="in_progress", withdrawn_at="2026-10-03T00:00:00Z"),
        ],
    )
    absent = ["progress_pct", "completed_at", "due_at"]
    s.tables["enrollments"] = s["enrollments"].drop(columns=absent)
    found = {p.entity_key: p for p in ProgressInconsistentDetector().detect(s)}
    assert set(found) == {"enrollment=E2", "enrollment=E3"}
    assert "completed_at" not in found["enrollment=E2"].evidence["enrollments"][0]
    row = detector_coverage(ProgressInconsistentDetector, carried_columns(s))[0]
    assert row.status == "partly checked"
    assert set(row.needs) >= {"enrollments.progress_pct", "enrollments.completed_at"}
    s.tables["enrollments"] = s["enrollments"].drop(columns=["withdrawn_at"])
    assert ProgressInconsistentDetector().detect(s) == []
