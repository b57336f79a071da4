"""Undelivered notifications and notification outages, on literal tables."""

from __future__ import annotations

import pandas as pd

from models.detectors.notifications import (
    NotificationOutageDetector,
    NotificationUndeliveredDetector,
)
from tests.helpers.detector_snapshots import DAYS, snap, user


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
