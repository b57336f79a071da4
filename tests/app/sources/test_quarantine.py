"""Quarantine: rows that broke a row rule are set aside with their reasons, the rows that
pointed at them go too, and a table-level problem still refuses the snapshot."""

from __future__ import annotations

from app.sources.load import load_snapshot
from tests.app.sources.conftest import VALID_CSV, SnapshotMaker
from tests.helpers.snapshot_problems import rejected_with_one


def test_missing_column_fails_even_in_quarantine(make_snapshot: SnapshotMaker) -> None:
    courses = VALID_CSV["courses"].replace("status\n", "state\n")
    problem = rejected_with_one(make_snapshot({"courses": courses}), quarantine=True)
    assert problem.rule == "missing_column" and problem.column == "status"


def test_quarantine_sets_bad_rows_aside_with_reasons(make_snapshot: SnapshotMaker) -> None:
    enrollments = (
        VALID_CSV["enrollments"]
        + "E4,u404,C1,manual,enrolled,2026-01-01,,,,\n"
        + "E5,u1,C1,telepathy,enrolled,2026-01-01,,,,\n"
    )
    result = load_snapshot(make_snapshot({"enrollments": enrollments}), quarantine=True)
    snap = result.raise_if_rejected()
    assert snap["enrollments"]["enrollment_id"].tolist() == ["E1", "E2", "E3"]
    held = result.quarantined["enrollments"]
    assert held["_row"].tolist() == [5, 6]
    assert held["enrollment_id"].tolist() == ["E4", "E5"]
    assert held["_reasons"].tolist() == [
        "dangling_reference: user_id=u404",
        "unknown_enum: source=telepathy",
    ]
    assert result.report.quarantined_counts == {"enrollments": 2}
    assert "with 2 row(s) in quarantine" in result.report.render()


def test_quarantined_user_takes_its_enrolments_along(make_snapshot: SnapshotMaker) -> None:
    # An empty email is no longer a broken row (contract version 2); an unknown status is.
    users = VALID_CSV["lms_users"].replace("u2,008,bob@example.org,active", "u2,008,,retired")
    result = load_snapshot(make_snapshot({"lms_users": users}), quarantine=True)
    snap = result.raise_if_rejected()
    assert "u2" not in set(snap["lms_users"]["user_id"])
    assert "E2" not in set(snap["enrollments"]["enrollment_id"])
    assert "A3" not in set(snap["activity"]["event_id"])
    assert result.quarantined["enrollments"]["_reasons"].iloc[0] == (
        "reference_set_aside: user_id=u2"
    )


def test_quarantine_does_not_rescue_a_broken_file(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(make_snapshot({"courses": b""}), quarantine=True)
    assert problem.rule == "empty_file"
