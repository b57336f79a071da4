"""Unowned courses, grading delays and access failures, on literal tables."""

from __future__ import annotations

from models.detectors.courses import (
    AccessFailureDetector,
    GradingDelayDetector,
    UnownedCourseDetector,
)
from tests.helpers.detector_snapshots import course, daily_activity, daily_snap, person, snap, user


def keys(proposals: list) -> set[str]:
    return {p.entity_key for p in proposals}


# ------------------------------------------------------------------ unowned_course


def test_unowned_course_covers_every_kind_of_missing_owner() -> None:
    s = snap(
        people=[
            person("P1"),
            person("P2", employment_status="terminated", termination_date="2026-09-01"),
        ],
        lms_users=[user("U1", "P1"), user("U2", "P2"), user("U3", "P1", status="suspended")],
        courses=[
            course("C1", owner_user_id="U1"),  # fine
            course("C2"),  # no owner
            course("C3", owner_user_id="U9"),  # owner not a user
            course("C4", owner_user_id="U3", is_compliance=True),  # owner suspended
            course("C5", owner_user_id="U2"),  # owner has left
            course("C6", status="archived"),  # archived: nobody needs to own it
        ],
    )
    found = {p.entity_key: p for p in UnownedCourseDetector().detect(s)}
    assert set(found) == {"course=C2", "course=C3", "course=C4", "course=C5"}
    assert found["course=C4"].severity == "high"
    assert "left" in found["course=C5"].title


def test_unowned_course_on_empty_tables_proposes_nothing() -> None:
    assert UnownedCourseDetector().detect(snap()) == []


# ------------------------- feedback_delayed (the category of GradingDelayDetector: grading lag)


def sub(sid: str, cid: str, submitted: str, graded: str | None = None) -> dict:
    return {
        "submission_id": sid,
        "user_id": "U1",
        "course_id": cid,
        "assignment_id": "A",
        "submitted_at": submitted,
        "graded_at": graded,
    }


def test_grading_delay_ungraded_beyond_sla_and_slow_median() -> None:
    s = snap(
        lms_users=[user("U1")],
        courses=[course("C1"), course("C2", grading_sla_days=14), course("C3"), course("C4")],
        submissions=[
            sub("S1", "C1", "2026-11-10T00:00:00Z"),  # 17 days ungraded > 7
            sub("S2", "C2", "2026-11-10T00:00:00Z"),  # 17 days but SLA 14 ... fires
            sub("S3", "C2", "2026-11-20T00:00:00Z"),
            sub("S4", "C3", "2026-11-20T00:00:00Z"),  # exactly 7 days: not older than SLA
            # C4: everything graded, but slowly (10 days) within the last 30 days.
            sub("S5", "C4", "2026-11-01T00:00:00Z", "2026-11-11T00:00:00Z"),
            sub("S6", "C4", "2026-11-02T00:00:00Z", "2026-11-12T00:00:00Z"),
            sub("S7", "C3", "2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z"),
        ],
    )
    found = {p.entity_key: p for p in GradingDelayDetector().detect(s)}
    assert set(found) == {"course=C1", "course=C2", "course=C4"}
    assert found["course=C4"].features["median_grading_days"] == 10.0
    assert found["course=C2"].features["sla_days"] == 14.0


def test_grading_delay_grade_after_as_of_counts_as_still_waiting() -> None:
    s = snap(
        courses=[course("C1")],
        submissions=[sub("S1", "C1", "2026-11-01T00:00:00Z", "2026-11-30T00:00:00Z")],
    )
    assert keys(GradingDelayDetector().detect(s)) == {"course=C1"}


# ------------------------------------------------------------------ access_failure


def test_access_failure_course_and_site_days() -> None:
    found = {
        p.entity_key: p
        for p in AccessFailureDetector().detect(
            daily_snap(daily_activity(course_outage="2026-11-18", site_outage="2026-11-19"))
        )
    }
    assert set(found) == {"course=C1;date=2026-11-18", "date=2026-11-19"}
    assert found["date=2026-11-19"].severity == "critical"
    assert found["course=C1;date=2026-11-18"].features["failed"] == 15


def test_access_failure_routine_failures_and_weekends_do_not_fire() -> None:
    # One failure every Wednesday is this course's normal; weekends are quiet.
    assert AccessFailureDetector().detect(daily_snap(daily_activity())) == []


def test_access_failure_event_exactly_at_as_of_counts_and_later_ones_do_not() -> None:
    rows = daily_activity()
    extra = [
        {
            "event_id": f"X{i}",
            "user_id": f"U{i}",
            "course_id": "C1",
            "verb": "launch_failed",
            "timestamp": "2026-11-27T00:00:00Z",
        }
        for i in range(20)
    ]
    later = [
        {**r, "event_id": r["event_id"] + "b", "timestamp": "2026-11-27T00:00:01Z"} for r in extra
    ]
    found = keys(AccessFailureDetector().detect(daily_snap(rows + extra + later)))
    assert found == {"course=C1;date=2026-11-27"}
