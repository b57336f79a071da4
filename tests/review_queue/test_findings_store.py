"""Findings round-trip through the database, stay unique per entity, and refuse stale writes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from review_queue.findings import FindingNotFound, StaleFinding, get_finding, update_finding
from review_queue.states import Status
from review_queue.tables import Finding


def _finding(**overrides: object) -> Finding:
    values: dict[str, object] = {
        "category": "compliance_overdue",
        "entity_key": "enrollment=E5531",
        "title": "Fire safety overdue by 12 days for Dana Ortiz",
        "detector": "compliance_overdue_rule",
        "detector_version": "1",
        "score": 0.8,
        "priority": 0.7,
        "severity": "high",
        "evidence": {"rows": [{"enrollment_id": "E5531", "due_at": "2026-11-15T00:00:00Z"}]},
        "features": {"days_overdue": 12.0},
    }
    values.update(overrides)
    return Finding(**values)  # type: ignore[arg-type]


def test_a_finding_round_trips_with_json_and_aware_times(session: Session) -> None:
    seen = datetime(2026, 11, 20, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    f = _finding(first_seen_at=seen, last_seen_at=seen)
    session.add(f)
    session.commit()
    session.expunge_all()
    assert f.id is not None
    back = get_finding(session=session, finding_id=f.id)
    assert back.evidence == {"rows": [{"enrollment_id": "E5531", "due_at": "2026-11-15T00:00:00Z"}]}
    assert back.features == {"days_overdue": 12.0}
    assert back.first_seen_at == seen  # same instant ...
    assert back.first_seen_at.tzinfo is not None  # ... and still aware
    assert back.first_seen_at.utcoffset() == timedelta(0)
    assert back.status == Status.new and back.row_version == 1 and back.occurrences == 1


def test_category_and_entity_key_are_unique_together(session: Session) -> None:
    session.add(_finding())
    session.add(_finding(category="enrollment_failed"))  # same entity, other category: fine
    session.commit()
    session.add(_finding(title="again"))
    with pytest.raises(IntegrityError):
        session.commit()


def test_a_stale_row_version_is_refused(session: Session) -> None:
    f = _finding()
    session.add(f)
    session.commit()
    assert f.id is not None
    updated = update_finding(
        session=session,
        finding_id=f.id,
        expected_row_version=1,
        changes={"status": Status.in_review.value},
    )
    session.commit()
    assert updated.row_version == 2 and updated.status == "in_review"
    with pytest.raises(StaleFinding, match="changed since you opened it"):
        update_finding(
            session=session,
            finding_id=f.id,
            expected_row_version=1,
            changes={"status": Status.dismissed.value},
        )
    session.rollback()
    assert get_finding(session=session, finding_id=f.id).status == "in_review"


def test_missing_finding_is_reported(session: Session) -> None:
    with pytest.raises(FindingNotFound):
        get_finding(session=session, finding_id=424242)
    with pytest.raises(FindingNotFound):
        update_finding(session=session, finding_id=424242, expected_row_version=1, changes={})


def test_naive_datetimes_are_refused(session: Session) -> None:
    session.add(_finding(first_seen_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        session.commit()


def test_score_outside_zero_to_one_never_reaches_the_table() -> None:
    with pytest.raises(ValueError):
        Finding.model_validate(_finding(score=1.5).model_dump())
