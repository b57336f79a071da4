"""Quarantine: rows that broke a row rule are set aside with their reasons, the rows that
cannot be attributed without them go too (and are counted), nothing more goes, quarantine never
turns into a rejection, and a table-level problem still refuses the snapshot."""

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


def test_a_set_aside_user_takes_only_its_own_rows(make_snapshot: SnapshotMaker) -> None:
    users = VALID_CSV["lms_users"].replace("u2,008,bob@example.org,active", "u2,008,b,retired")
    result = load_snapshot(make_snapshot({"lms_users": users}), quarantine=True)
    snap = result.raise_if_rejected()
    assert snap["lms_users"]["user_id"].tolist() == ["u1", "u3"]
    assert snap["enrollments"]["enrollment_id"].tolist() == ["E1", "E3"]
    assert snap["activity"]["event_id"].tolist() == ["A1", "A2"]
    report = result.report
    assert report.quarantined_counts == {"lms_users": 1, "enrollments": 1, "activity": 1}
    assert report.followed_counts == {"enrollments": 1, "activity": 1}
    assert result.quarantined["activity"]["_reasons"].tolist() == [
        "reference_set_aside: user_id=u2"
    ]
    render = report.render()
    assert "  enrollments: 2 row(s), 1 quarantined (1 only with the row they name)" in render
    assert (
        "enrollments.csv: 1 of the 1 row(s) set aside went only because the user or course "
        "they name was set aside" in report.warnings
    )


def test_quarantine_never_turns_into_a_rejection(make_snapshot: SnapshotMaker) -> None:
    # Every user is broken: they go, their rows go with them, and the rest is still accepted.
    users = VALID_CSV["lms_users"].replace(",active,", ",retired,").replace(",suspended,", ",x,")
    result = load_snapshot(make_snapshot({"lms_users": users}), quarantine=True)
    snap = result.raise_if_rejected()
    assert len(snap["lms_users"]) == 0 and len(snap["enrollments"]) == 0
    assert len(snap["activity"]) == 0
    assert len(snap["courses"]) == 3 and len(snap["people"]) == 3
    assert result.report.followed_counts == {"enrollments": 3, "activity": 3}
    assert (
        "lms_users.csv: quarantine set aside 3 of 3 rows; read the problems before relying on "
        "this snapshot" in result.report.warnings
    )


def test_a_set_aside_course_leaves_site_level_events(make_snapshot: SnapshotMaker) -> None:
    courses = VALID_CSV["courses"].replace("C1,Safety,Sales,u2,TRUE", "C1,Safety,Sales,u2,maybe")
    result = load_snapshot(make_snapshot({"courses": courses}), quarantine=True)
    snap = result.raise_if_rejected()
    assert snap["activity"]["event_id"].tolist() == ["A1"]  # the login names no course
    assert snap["enrollments"]["enrollment_id"].tolist() == ["E3"]
    assert snap["lms_users"]["user_id"].tolist() == ["u1", "u2", "u3"]
    held = result.quarantined["activity"]
    assert set(held["_reasons"]) == {"reference_set_aside: course_id=C1"}


def test_a_duplicated_user_id_takes_its_rows_along(make_snapshot: SnapshotMaker) -> None:
    users = VALID_CSV["lms_users"] + "u1,,ann2@example.org,active,,,\n"
    result = load_snapshot(make_snapshot({"lms_users": users}), quarantine=True)
    snap = result.raise_if_rejected()
    assert snap["lms_users"]["user_id"].tolist() == ["u2", "u3"]
    assert snap["enrollments"]["enrollment_id"].tolist() == ["E2"]
    assert result.report.followed_counts == {"enrollments": 2, "activity": 2}


def test_a_row_with_its_own_problem_is_not_counted_as_taken_along(
    make_snapshot: SnapshotMaker,
) -> None:
    users = VALID_CSV["lms_users"].replace("u2,008,bob@example.org,active", "u2,008,b,retired")
    enrollments = VALID_CSV["enrollments"].replace("E2,u2,C1,hr_sync", "E2,u2,C1,robot")
    folder = make_snapshot({"lms_users": users, "enrollments": enrollments})
    result = load_snapshot(folder, quarantine=True)
    assert result.report.quarantined_counts["enrollments"] == 1
    assert "enrollments" not in result.report.followed_counts
    assert result.quarantined["enrollments"]["_reasons"].iloc[0] == (
        "unknown_enum: source=robot; reference_set_aside: user_id=u2"
    )


def test_without_quarantine_a_bad_user_is_one_problem(make_snapshot: SnapshotMaker) -> None:
    users = VALID_CSV["lms_users"].replace("u2,008,bob@example.org,active", "u2,008,b,retired")
    problem = rejected_with_one(make_snapshot({"lms_users": users}))
    assert (problem.row, problem.column, problem.rule) == (3, "status", "unknown_enum")
