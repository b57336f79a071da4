"""Problems in rows: each rule's problem names the file, row, column and value; every problem
is collected, the report renders them, and both check paths find the same."""

from __future__ import annotations

import pandas as pd
import pytest

from app.sources.load import load_snapshot
from app.sources.validation_report import Problem
from tests.app.sources.conftest import VALID_CSV, SnapshotMaker
from tests.helpers.snapshot_problems import rejected_with_one


def test_wrong_type(make_snapshot: SnapshotMaker) -> None:
    enrollments = VALID_CSV["enrollments"].replace("2026-11-01T10:00:00Z", "1st of November")
    problem = rejected_with_one(make_snapshot({"enrollments": enrollments}))
    assert problem == Problem(
        file="enrollments.csv",
        table="enrollments",
        row=4,
        column="enrolled_at",
        value="1st of November",
        rule="wrong_type",
        message="is not an ISO 8601 timestamp",
    )
    assert str(problem) == (
        "enrollments.csv, row 4, column 'enrolled_at': value '1st of November': "
        "is not an ISO 8601 timestamp [wrong_type]"
    )


@pytest.mark.parametrize(
    ("table", "old", "new", "column"),
    [
        ("courses", ",30,", ",thirty,", "due_days"),
        ("courses", ",30,", ",2.5,", "due_days"),
        ("courses", ",TRUE,", ",maybe,", "is_compliance"),
        ("enrollments", ",40\n", ",forty\n", "progress_pct"),
        ("people", "2024-01-15", "15/01/2024", "hire_date"),
    ],
)
def test_wrong_type_per_column_type(
    make_snapshot: SnapshotMaker, table: str, old: str, new: str, column: str
) -> None:
    problem = rejected_with_one(make_snapshot({table: VALID_CSV[table].replace(old, new, 1)}))
    assert (problem.column, problem.rule, problem.row) == (column, "wrong_type", 2)


def test_unknown_enum_value(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(
        make_snapshot({"lms_users": VALID_CSV["lms_users"].replace("suspended", "frozen")})
    )
    assert (problem.row, problem.column, problem.value, problem.rule) == (
        4,
        "status",
        "frozen",
        "unknown_enum",
    )
    assert "active, suspended, deleted" in problem.message


def test_missing_required_cell(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(
        make_snapshot({"people": VALID_CSV["people"].replace("cy@example.org", "")})
    )
    assert (problem.row, problem.column, problem.rule) == (4, "email", "missing_value")


def test_out_of_range(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(
        make_snapshot({"enrollments": VALID_CSV["enrollments"].replace(",40\n", ",140\n")})
    )
    assert (problem.column, problem.value, problem.rule) == ("progress_pct", "140", "out_of_range")


def test_duplicate_id(make_snapshot: SnapshotMaker) -> None:
    courses = VALID_CSV["courses"] + "C1,Safety again,,,false,,,active\n"
    result = load_snapshot(make_snapshot({"courses": courses}))
    assert not result.accepted
    problems = result.report.problems
    assert set(problems["rule"]) == {"duplicate_id"}
    assert problems["row"].tolist() == [2, 5] and set(problems["value"]) == {"C1"}


def test_dangling_reference(make_snapshot: SnapshotMaker) -> None:
    enrollments = VALID_CSV["enrollments"] + "E4,u404,C1,manual,enrolled,2026-01-01,,,,\n"
    problem = rejected_with_one(make_snapshot({"enrollments": enrollments}))
    assert (problem.file, problem.row, problem.column, problem.value, problem.rule) == (
        "enrollments.csv",
        5,
        "user_id",
        "u404",
        "dangling_reference",
    )
    assert "lms_users" in problem.message


def test_all_problems_are_collected_not_just_the_first(make_snapshot: SnapshotMaker) -> None:
    people = VALID_CSV["people"].replace("active", "retired").replace("2023-05-02", "soon")
    enrollments = VALID_CSV["enrollments"].replace("C2", "C9").replace(",40\n", ",-1\n")
    result = load_snapshot(make_snapshot({"people": people, "enrollments": enrollments}))
    counts = result.report.counts_by_rule()
    assert counts == {
        "unknown_enum": 1,
        "wrong_type": 1,
        "out_of_range": 1,
        "dangling_reference": 1,
    }


def test_report_renders_first_fifty_then_counts(make_snapshot: SnapshotMaker) -> None:
    rows = "".join(f"X{i},u1,C1,teleported,2026-11-20T06:00:00Z,\n" for i in range(70))
    header = VALID_CSV["activity"].splitlines()[0] + "\n"
    result = load_snapshot(make_snapshot({"activity": header + rows + "X1,u1,,login,nope,\n"}))
    text = result.report.render()
    assert text.startswith("Snapshot rejected: 73 problem(s)")
    assert "Problems (first 50 of 73):" in text
    assert "activity.csv, row 2, column 'verb': value 'teleported'" in text
    assert "activity.csv, row 60," not in text  # beyond the first 50
    assert "unknown_enum: 70" in text and "duplicate_id: 2" in text and "wrong_type: 1" in text


def test_pandas_and_pandera_paths_find_the_same_problems(make_snapshot: SnapshotMaker) -> None:
    people = (
        VALID_CSV["people"].replace("active", "retired").replace("cy@example.org", "")
        + "007,x@y.z,Dup,IT,Dev,,active,2020-01-01,\n"
    )
    enrollments = VALID_CSV["enrollments"].replace(",40\n", ",-1\n").replace("rule", "robot")
    folder = make_snapshot({"people": people, "enrollments": enrollments})
    by_pandera = load_snapshot(folder).report.problems
    by_pandas = load_snapshot(folder, pandera_row_limit=0).report.problems
    assert len(by_pandera) == 6
    pd.testing.assert_frame_equal(by_pandera, by_pandas)


def test_a_nul_character_in_any_text_is_a_row_problem(make_snapshot: SnapshotMaker) -> None:
    """PostgreSQL cannot store NUL in text or JSON: refused at the import, naming the place,
    in contract columns and in the extra columns kept as evidence alike."""
    courses = VALID_CSV["courses"].replace("C2,Excel,", "C2,Ex\x00cel,")
    users = VALID_CSV["lms_users"].replace(",blue\n", ",bl\x00ue\n")
    folder = make_snapshot({"courses": courses, "lms_users": users})
    result = load_snapshot(folder)
    assert not result.report.accepted
    found = {(p.table, p.row, p.column, p.value) for p in result.report.iter_problems()}
    assert found == {
        ("courses", 3, "title", "Ex␀cel"),
        ("lms_users", 3, "favourite_colour", "bl␀ue"),
    }
    assert all(p.rule == "nul_character" for p in result.report.iter_problems())
    assert "holds a NUL character" in result.report.render()
    held = load_snapshot(folder, quarantine=True)
    snap = held.raise_if_rejected()
    assert "C2" not in set(snap["courses"]["course_id"])
    assert "u2" not in set(snap["lms_users"]["user_id"])
