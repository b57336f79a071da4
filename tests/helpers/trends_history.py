"""Hand-built review histories whose trend figures are known, for the Trends tests.

The feedback log's hash columns get placeholder unique values: the hash-chain service is not
what these tests are about, and the metrics never read them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from review_queue.tables import FeedbackEvent, Finding, ModelVersion


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def add_finding(
    session: Session,
    *,
    category: str,
    entity_key: str,
    first_seen_at: datetime,
    status: str = "new",
    department: str | None = None,
    features: dict[str, Any] | None = None,
    detector: str = "rule",
    stored_department: str | None = None,
    stored_course: str | None = None,
) -> Finding:
    """Insert one finding: ``department`` goes in its evidence as detectors write it,
    ``stored_department``/``stored_course`` in the columns the proposal service fills."""
    finding = Finding(
        category=category,
        entity_key=entity_key,
        title=f"{category} for {entity_key}",
        detector=detector,
        detector_version="1",
        score=0.5,
        severity="medium",
        status=status,
        first_seen_at=first_seen_at,
        last_seen_at=first_seen_at,
        evidence={"department": department} if department else {},
        features=features or {},
        department=stored_department,
        course_id=stored_course,
    )
    session.add(finding)
    session.flush()
    return finding


def add_event(
    session: Session,
    finding: Finding,
    at: datetime,
    from_status: str | None,
    to_status: str,
    action: str | None = None,
) -> FeedbackEvent:
    """Append one feedback-log row (placeholder hashes)."""
    assert finding.id is not None
    event = FeedbackEvent(
        finding_id=finding.id,
        at=at,
        actor="admin",
        action=action or to_status,
        from_status=from_status,
        to_status=to_status,
        prev_hash=uuid.uuid4().hex,
        row_hash=uuid.uuid4().hex,
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class KnownHistory:
    """The range the known history is built for: ISO weeks 2026-W44 to W47, in UTC."""

    start: date = date(2026, 10, 26)
    end: date = date(2026, 11, 22)


def build_known_history(session: Session) -> KnownHistory:
    """Six findings over four weeks; week W46 has one decision and W47 none.

    F1 enrolment gap (Sales, C1, in its own columns): seen Tue W44, confirmed after 24 h,
       resolved in W45 (192 h).
    F2 enrolment gap (Sales, C2): seen W44, dismissed after 6 h, reopened in W47.
    F3 overdue compliance (HR): seen before the range, confirmed in W46 after 504 h.
    F4 sync failure (no department): seen W45, never decided.
    F5 overdue compliance (HR): seen W45, confirmed after 48 h, undone, then dismissed (W45).
    F6 overdue compliance (HR only in its features): seen W46, open.
    A triage model was promoted on Wed 4 Nov (W45).
    """
    f1 = add_finding(
        session, category="enrollment_missing", entity_key="person=P1;course=C1",
        first_seen_at=utc(2026, 10, 27, 10), status="resolved", stored_department="Sales",
        stored_course="C1", detector="enrolment_rule",
    )  # fmt: skip
    add_event(session, f1, utc(2026, 10, 28, 10), "new", "confirmed")
    add_event(session, f1, utc(2026, 11, 4, 10), "confirmed", "resolved")

    f2 = add_finding(
        session, category="enrollment_missing", entity_key="person=P2;course=C2",
        first_seen_at=utc(2026, 10, 27, 12), status="new", department="Sales",
        detector="enrolment_rule",
    )  # fmt: skip
    add_event(session, f2, utc(2026, 10, 27, 18), "new", "dismissed")
    add_event(session, f2, utc(2026, 11, 17, 9), "dismissed", "new", action="reopen")

    f3 = add_finding(
        session, category="compliance_overdue", entity_key="enrollment=E1",
        first_seen_at=utc(2026, 10, 20, 9), status="confirmed", department="HR",
        detector="compliance_rule",
    )  # fmt: skip
    add_event(session, f3, utc(2026, 11, 10, 9), "new", "confirmed")

    add_finding(
        session, category="sync_failure", entity_key="integration=hr_to_lms;date=2026-11-01",
        first_seen_at=utc(2026, 11, 2, 8), detector="sync_rule",
    )  # fmt: skip

    f5 = add_finding(
        session, category="compliance_overdue", entity_key="enrollment=E2",
        first_seen_at=utc(2026, 11, 3), status="dismissed", department="HR",
        detector="compliance_rule",
    )  # fmt: skip
    add_event(session, f5, utc(2026, 11, 5), "new", "confirmed")
    add_event(session, f5, utc(2026, 11, 5, 0, 5), "confirmed", "new", action="undo")
    add_event(session, f5, utc(2026, 11, 6), "new", "dismissed")

    add_finding(
        session, category="compliance_overdue", entity_key="enrollment=E3",
        first_seen_at=utc(2026, 11, 11), features={"department": "HR"},
        detector="compliance_rule",
    )  # fmt: skip

    session.add(
        ModelVersion(
            kind="triage", version="v2", status="promoted", promoted_at=utc(2026, 11, 4, 15)
        )
    )
    session.add(ModelVersion(kind="triage", version="v1", status="candidate"))
    session.commit()
    return KnownHistory()


def simulate_reviews(session: Session, *, days: int = 28, now: datetime | None = None) -> int:
    """A deterministic month of detection and review ending ``now``: findings every day across
    departments, courses and categories, most triaged within days, some resolved. Returns how
    many findings it made."""
    now = now or datetime.now(UTC)
    categories = ("enrollment_missing", "compliance_overdue", "sync_failure", "access_failure")
    departments = ("Sales", "HR", "Engineering", "Support")
    made = 0
    for day in range(days, 0, -1):
        for k in range(3 + day % 3):
            n = made
            category = categories[n % len(categories)]
            seen = now - timedelta(days=day, hours=k * 2 + 1)
            key = (
                f"enrollment=E{n}"
                if category == "compliance_overdue"
                else f"person=P{n};course=C{n % 17}"
                if category == "enrollment_missing"
                else f"course=C{n % 17};date={seen:%Y-%m-%d}"
            )
            finding = add_finding(
                session, category=category, entity_key=key, first_seen_at=seen,
                department=departments[n % len(departments)],
                detector=f"{category}_rule",
            )  # fmt: skip
            made += 1
            decided_at = seen + timedelta(hours=4 + (n * 7) % 60)
            if n % 5 == 4 or decided_at >= now:
                continue  # still waiting for triage
            verdict = "dismissed" if n % 3 == 0 else "confirmed"
            add_event(session, finding, decided_at, "new", verdict)
            finding.status = verdict
            resolved_at = decided_at + timedelta(days=2 + n % 5)
            if verdict == "confirmed" and n % 2 == 0 and resolved_at < now:
                add_event(session, finding, resolved_at, "confirmed", "resolved")
                finding.status = "resolved"
            session.add(finding)
    session.add(
        ModelVersion(
            kind="triage", version="v3", status="promoted", promoted_at=now - timedelta(days=12)
        )
    )
    session.commit()
    return made
