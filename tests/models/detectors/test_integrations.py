"""Failing or stalled integrations and reporting gaps, on literal tables."""

from __future__ import annotations

from models.detectors.integrations import SyncFailureDetector
from models.detectors.reporting import ReportingGapDetector
from tests.helpers.detector_snapshots import daily_activity, daily_snap, snap


def keys(proposals: list) -> set[str]:
    return {p.entity_key for p in proposals}


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


# ------------------------------------------------------------------ reporting_gap


def test_reporting_gap_site_day_without_events_and_not_quiet_weekends() -> None:
    found = ReportingGapDetector().detect(daily_snap(daily_activity(quiet_day="2026-11-11")))
    # The site-wide gap is reported once, not once more per course.
    assert keys(found) == {"date=2026-11-11"}
    assert found[0].severity == "high"


def test_reporting_gap_one_course_silent_while_the_site_reports() -> None:
    rows = [
        r
        for r in daily_activity()
        if not (r["course_id"] == "C2" and str(r["timestamp"].date()) == "2026-11-10")
    ]
    found = keys(ReportingGapDetector().detect(daily_snap(rows)))
    assert found == {"course=C2;date=2026-11-10"}


def test_reporting_gap_does_not_judge_the_as_of_day_or_beyond_the_span() -> None:
    # Data ends on the 26th; as_of mid-day on the 27th: the 27th is incomplete, not a gap.
    assert ReportingGapDetector().detect(daily_snap(daily_activity(), "2026-11-27T12:00:00Z")) == []


def test_reporting_gap_far_fewer_events_than_usual() -> None:
    # The site stream keeps 3 of its 30 weekday logins while the courses report as usual.
    rows = [
        r
        for r in daily_activity()
        if not (
            str(r["timestamp"].date()) == "2026-11-12"
            and r["course_id"] is None
            and r["timestamp"].minute >= 3
        )
    ]
    assert keys(ReportingGapDetector().detect(daily_snap(rows))) == {"date=2026-11-12"}


def test_reporting_gap_organisation_wide_quiet_day_is_a_holiday_not_a_gap() -> None:
    # Every stream at a fifth of its weekday level (a public holiday): nobody lost data.
    rows = [
        r
        for r in daily_activity()
        if not (str(r["timestamp"].date()) == "2026-11-11" and r["timestamp"].minute >= 6)
    ]
    assert ReportingGapDetector().detect(daily_snap(rows)) == []


def test_reporting_gap_site_stream_is_the_events_without_a_course() -> None:
    # Logins vanish for a day while course activity carries on: a site-level gap all the same.
    rows = [
        r
        for r in daily_activity()
        if not (r["course_id"] is None and str(r["timestamp"].date()) == "2026-11-16")
    ]
    assert keys(ReportingGapDetector().detect(daily_snap(rows))) == {"date=2026-11-16"}
