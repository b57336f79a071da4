"""Robust weekday baselines: notification outages, access failures and reporting gaps."""

from __future__ import annotations

import pandas as pd

from models.detectors.courses import (
    AccessFailureDetector,
    NotificationOutageDetector,
    ReportingGapDetector,
    weekday_baseline,
)
from tests.helpers.detector_snapshots import course, snap, user

DAYS = pd.date_range("2026-10-05", "2026-11-26", freq="D", tz="UTC")  # Mon 5 Oct .. Thu 26 Nov


def keys(proposals: list) -> set[str]:
    return {p.entity_key for p in proposals}


def test_weekday_baseline_compares_a_day_with_the_same_weekday() -> None:
    days = [int((d - pd.Timestamp("1970-01-01", tz="UTC")).days) for d in DAYS]
    # Weekdays see 100 events, Sundays 5; one Tuesday sees 5.
    values = [5 if d.day_of_week == 6 else 100 for d in DAYS]
    tuesday = next(i for i, d in enumerate(DAYS) if d.day_of_week == 1 and d.day > 15)
    values[tuesday] = 5
    frame = pd.DataFrame({"s": "x", "day": days, "v": values})
    base = weekday_baseline(frame, ["s"], "v", scale_floor=1.0)
    sunday = next(i for i, d in enumerate(DAYS) if d.day_of_week == 6)
    assert base["z"].iloc[sunday] == 0  # a quiet Sunday is normal for a Sunday
    assert base["z"].iloc[tuesday] < -50  # a quiet Tuesday is not


# ------------------------------------------------------------------ notification_outage


def _notes(outage_day: str | None, channel_failures: int = 19) -> list[dict]:
    rows = []
    for d in DAYS:
        for i in range(20):
            sent = d + pd.Timedelta(hours=8, minutes=i)
            fail = i == 0  # 5% background failures
            if outage_day and str(d.date()) == outage_day:
                fail = i < channel_failures
            rows.append(
                {
                    "notification_id": f"{d.date()}-{i}",
                    "user_id": f"U{i}",
                    "course_id": None,
                    "kind": "reminder",
                    "channel": "email",
                    "sent_at": sent,
                    "delivered_at": None if fail else sent + pd.Timedelta(minutes=1),
                    "bounced": fail and i % 2 == 0,
                }
            )
    return rows


def test_notification_outage_fires_for_a_failing_day_only() -> None:
    found = NotificationOutageDetector().detect(snap(notifications=_notes("2026-11-17")))
    assert keys(found) == {"channel=email;date=2026-11-17"}
    assert found[0].features["failure_share"] == 0.95
    assert found[0].severity == "critical"


def test_notification_outage_near_miss_and_undelivered_within_24h_is_not_judged() -> None:
    # Four failures instead of one: 20% against a usual 5% is below the 20-point excess.
    assert NotificationOutageDetector().detect(snap(notifications=_notes("2026-11-17", 4))) == []
    # Everything sent on the last day is undelivered but younger than 24 h at as_of.
    rows = _notes(None)
    for r in rows:
        if str(r["sent_at"].date()) == "2026-11-26":
            r["delivered_at"] = None
    assert (
        NotificationOutageDetector().detect(snap("2026-11-27T06:00:00Z", notifications=rows)) == []
    )


# ------------------------------------------------------------------ access_failure


def _activity(
    *,
    course_outage: str | None = None,
    site_outage: str | None = None,
    quiet_day: str | None = None,
) -> list[dict]:
    rows = []
    for d in DAYS:
        date = str(d.date())
        n = 3 if d.day_of_week >= 5 else 30  # quiet weekends
        if date == quiet_day:
            n = 0
        for i in range(n):
            ts = d + pd.Timedelta(hours=9, minutes=i)
            fail = (date == course_outage and i < n // 2) or (i == 0 and d.day_of_week == 2)
            rows.append(
                {
                    "event_id": f"L{date}-{i}",
                    "user_id": f"U{i}",
                    "course_id": "C1",
                    "verb": "launch_failed" if fail else "launched",
                    "timestamp": ts,
                }
            )
            login_fail = date == site_outage and i < 2 * n // 3
            rows.append(
                {
                    "event_id": f"G{date}-{i}",
                    "user_id": f"U{i}",
                    "course_id": None,
                    "verb": "login_failed" if login_fail else "login",
                    "timestamp": ts,
                }
            )
            rows.append(
                {
                    "event_id": f"V{date}-{i}",
                    "user_id": f"U{i}",
                    "course_id": "C2",
                    "verb": "viewed",
                    "timestamp": ts,
                }
            )
    return rows


def _snap(activity: list[dict], as_of: str = "2026-11-27T00:00:00Z"):
    return snap(
        as_of,
        lms_users=[user(f"U{i}") for i in range(30)],
        courses=[course("C1"), course("C2")],
        activity=activity,
    )


def test_access_failure_course_and_site_days() -> None:
    found = {
        p.entity_key: p
        for p in AccessFailureDetector().detect(
            _snap(_activity(course_outage="2026-11-18", site_outage="2026-11-19"))
        )
    }
    assert set(found) == {"course=C1;date=2026-11-18", "date=2026-11-19"}
    assert found["date=2026-11-19"].severity == "critical"
    assert found["course=C1;date=2026-11-18"].features["failed"] == 15


def test_access_failure_routine_failures_and_weekends_do_not_fire() -> None:
    # One failure every Wednesday is this course's normal; weekends are quiet.
    assert AccessFailureDetector().detect(_snap(_activity())) == []


def test_access_failure_event_exactly_at_as_of_counts_and_later_ones_do_not() -> None:
    rows = _activity()
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
    found = keys(AccessFailureDetector().detect(_snap(rows + extra + later)))
    assert found == {"course=C1;date=2026-11-27"}


# ------------------------------------------------------------------ reporting_gap


def test_reporting_gap_site_day_without_events_and_not_quiet_weekends() -> None:
    found = ReportingGapDetector().detect(_snap(_activity(quiet_day="2026-11-11")))
    # The site-wide gap is reported once, not once more per course.
    assert keys(found) == {"date=2026-11-11"}
    assert found[0].severity == "high"


def test_reporting_gap_one_course_silent_while_the_site_reports() -> None:
    rows = [
        r
        for r in _activity()
        if not (r["course_id"] == "C2" and str(r["timestamp"].date()) == "2026-11-10")
    ]
    found = keys(ReportingGapDetector().detect(_snap(rows)))
    assert found == {"course=C2;date=2026-11-10"}


def test_reporting_gap_does_not_judge_the_as_of_day_or_beyond_the_span() -> None:
    # Data ends on the 26th; as_of mid-day on the 27th: the 27th is incomplete, not a gap.
    assert ReportingGapDetector().detect(_snap(_activity(), "2026-11-27T12:00:00Z")) == []


def test_reporting_gap_far_fewer_events_than_usual() -> None:
    # The site stream keeps 3 of its 30 weekday logins while the courses report as usual.
    rows = [
        r
        for r in _activity()
        if not (
            str(r["timestamp"].date()) == "2026-11-12"
            and r["course_id"] is None
            and r["timestamp"].minute >= 3
        )
    ]
    assert keys(ReportingGapDetector().detect(_snap(rows))) == {"date=2026-11-12"}


def test_reporting_gap_organisation_wide_quiet_day_is_a_holiday_not_a_gap() -> None:
    # Every stream at a fifth of its weekday level (a public holiday): nobody lost data.
    rows = [
        r
        for r in _activity()
        if not (str(r["timestamp"].date()) == "2026-11-11" and r["timestamp"].minute >= 6)
    ]
    assert ReportingGapDetector().detect(_snap(rows)) == []


def test_reporting_gap_site_stream_is_the_events_without_a_course() -> None:
    # Logins vanish for a day while course activity carries on: a site-level gap all the same.
    rows = [
        r
        for r in _activity()
        if not (r["course_id"] is None and str(r["timestamp"].date()) == "2026-11-16")
    ]
    assert keys(ReportingGapDetector().detect(_snap(rows))) == {"date=2026-11-16"}
