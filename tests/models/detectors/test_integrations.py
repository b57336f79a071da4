"""Undelivered notifications, failing integrations and slow grading, on literal tables."""

from __future__ import annotations

from models.detectors.integrations import (
    FeedbackDelayedDetector,
    NotificationUndeliveredDetector,
    SyncFailureDetector,
)
from tests.helpers.detector_snapshots import course, snap, user


def keys(proposals: list) -> set[str]:
    return {p.entity_key for p in proposals}


def note(nid: str, uid: str, sent: str, *, bounced: bool = False, delivered: str | None = None):
    return {
        "notification_id": nid,
        "user_id": uid,
        "course_id": None,
        "kind": "reminder",
        "channel": "email",
        "sent_at": sent,
        "delivered_at": delivered,
        "bounced": bounced,
    }


# ------------------------------------------------------------------ notification_undelivered


def test_notification_undelivered_bounces_or_nothing_delivered_in_30_days() -> None:
    rows = [
        # U1: three bounces in the window.
        *(note(f"a{i}", "U1", f"2026-11-{10 + i}T08:00:00Z", bounced=True) for i in range(3)),
        # U2: three sent, none delivered, none bounced.
        *(note(f"b{i}", "U2", f"2026-11-{10 + i}T08:00:00Z") for i in range(3)),
        # U3 near miss: two bounces and one delivery.
        note("c0", "U3", "2026-11-10T08:00:00Z", bounced=True),
        note("c1", "U3", "2026-11-11T08:00:00Z", bounced=True),
        note("c2", "U3", "2026-11-12T08:00:00Z", delivered="2026-11-12T08:01:00Z"),
        # U4: the first bounce is exactly 30 days before as_of, so outside "the last 30 days".
        note("d0", "U4", "2026-10-28T00:00:00Z", bounced=True),
        note("d1", "U4", "2026-11-11T08:00:00Z", bounced=True),
        note("d2", "U4", "2026-11-12T08:00:00Z", bounced=True),
        note("d3", "U4", "2026-11-13T08:00:00Z", delivered="2026-11-13T08:01:00Z"),
        # U5: third bounce exactly at as_of counts; a fourth after as_of does not matter.
        note("e0", "U5", "2026-11-20T08:00:00Z", bounced=True),
        note("e1", "U5", "2026-11-21T08:00:00Z", bounced=True),
        note("e2", "U5", "2026-11-27T00:00:00Z", bounced=True),
    ]
    s = snap(lms_users=[user(u) for u in ("U1", "U2", "U3", "U4", "U5")], notifications=rows)
    found = {p.entity_key: p for p in NotificationUndeliveredDetector().detect(s)}
    assert set(found) == {"user=U1", "user=U2", "user=U5"}
    assert found["user=U1"].features == {
        "sent": 3,
        "bounced": 3,
        "delivered": 0,
        "failure_share": 1.0,
    }
    assert len(found["user=U1"].evidence["notifications"]) == 3


# ------------------------------------------------------------------ sync_failure


def run(
    rid: str,
    integ: str,
    start: str,
    finish: str | None,
    status: str = "success",
    read: int = 10,
    written: int = 10,
) -> dict:
    return {
        "run_id": rid,
        "integration": integ,
        "started_at": start,
        "finished_at": finish,
        "status": status,
        "records_read": read,
        "records_written": written,
        "error_count": 0,
    }


def test_sync_failure_bad_runs_and_a_stopped_integration() -> None:
    daily = [
        run(f"h{d}", "hr_to_lms", f"2026-11-{d:02d}T02:00:00Z", f"2026-11-{d:02d}T02:10:00Z")
        for d in range(1, 27)
        if d not in (5, 6, 7)
    ]
    daily[3]["status"] = "failed"  # 2026-11-04
    daily[10] |= {"records_written": 7}  # 2026-11-14: lost three records
    others = [
        run(f"c{d}", "lms_to_crm", f"2026-11-{d:02d}T03:00:00Z", f"2026-11-{d:02d}T03:05:00Z")
        for d in range(1, 20)
    ]  # stops after the 19th: due again on the 21st (usual interval 1 day, factor 2)
    others.append(run("x1", "lms_to_crm", "2026-11-10T12:00:00Z", None, status="running"))
    recent = run(
        "r1", "lms_to_analytics", "2026-11-26T12:00:00Z", None, status="running", written=0
    )  # started 12 h ago: may still be running, not a failure
    s = snap(sync_runs=[*daily, *others, recent])
    found = {p.entity_key: p for p in SyncFailureDetector().detect(s)}
    assert set(found) == {
        "integration=hr_to_lms;date=2026-11-04",  # failed
        "integration=hr_to_lms;date=2026-11-06",  # 5th-7th missing: due on the 6th
        "integration=hr_to_lms;date=2026-11-14",  # lost records
        "integration=lms_to_crm;date=2026-11-10",  # never finished
        "integration=lms_to_crm;date=2026-11-21",  # stopped
    }
    stopped = found["integration=lms_to_crm;date=2026-11-21"]
    assert stopped.features["usual_interval_hours"] == 24.0
    assert found["integration=hr_to_lms;date=2026-11-04"].severity == "high"


def test_sync_failure_unfinished_boundary_is_24_hours() -> None:
    at_limit = run("r1", "x", "2026-11-26T00:00:00Z", None, status="running")
    assert SyncFailureDetector().detect(snap(sync_runs=[at_limit])) == []
    over = run("r2", "x", "2026-11-25T23:59:59Z", None, status="running")
    assert keys(SyncFailureDetector().detect(snap(sync_runs=[over]))) == {
        "integration=x;date=2026-11-25"
    }


# ------------------------------------------------------------------ feedback_delayed


def sub(sid: str, cid: str, submitted: str, graded: str | None = None) -> dict:
    return {
        "submission_id": sid,
        "user_id": "U1",
        "course_id": cid,
        "assignment_id": "A",
        "submitted_at": submitted,
        "graded_at": graded,
    }


def test_feedback_delayed_ungraded_beyond_sla_and_slow_median() -> None:
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
    found = {p.entity_key: p for p in FeedbackDelayedDetector().detect(s)}
    assert set(found) == {"course=C1", "course=C2", "course=C4"}
    assert found["course=C4"].features["median_grading_days"] == 10.0
    assert found["course=C2"].features["sla_days"] == 14.0


def test_feedback_delayed_grade_after_as_of_counts_as_still_waiting() -> None:
    s = snap(
        courses=[course("C1")],
        submissions=[sub("S1", "C1", "2026-11-01T00:00:00Z", "2026-11-30T00:00:00Z")],
    )
    assert keys(FeedbackDelayedDetector().detect(s)) == {"course=C1"}
