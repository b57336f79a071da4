"""Contract version 2 on small snapshots: only lms_users and courses are required, the new
nullable columns, absent is not empty, and references to tables that are not there."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from app.sources.contract import CONTRACT_VERSION, TABLES, table
from app.sources.load import load_snapshot
from app.sources.mapping import import_mapped_csv
from tests.app.sources.conftest import VALID_CSV, SnapshotMaker
from tests.helpers.snapshot_problems import rejected_with_one

ONLY_REQUIRED = {n: None for n in ("people", "enrollments", "activity")}
LOG_ALONE = {"people": None, "enrollments": None}


def _drop_column(csv_text: str, column: str) -> str:
    """``csv_text`` without ``column`` (cells split on commas: the fixtures quote nothing)."""
    lines = [line.split(",") for line in csv_text.splitlines()]
    at = lines[0].index(column)
    return "".join(",".join(cells[:at] + cells[at + 1 :]) + "\n" for cells in lines)


def test_contract_is_version_2_with_two_required_tables() -> None:
    assert CONTRACT_VERSION == 2
    assert [n for n, t in TABLES.items() if t.required] == ["lms_users", "courses"]
    assert not table("people").required and not table("enrollments").required


def test_lms_users_and_courses_alone_are_a_snapshot(make_snapshot: SnapshotMaker) -> None:
    result = load_snapshot(make_snapshot(ONLY_REQUIRED))
    snap = result.raise_if_rejected()
    assert sorted(snap.tables) == ["courses", "lms_users"]
    assert not snap.has("people") and not snap.has("enrollments")
    assert "people" in result.report.skipped_tables
    assert "enrollments: absent (optional table not in the snapshot)" in result.report.render()


def test_an_lms_log_alone_is_a_snapshot(make_snapshot: SnapshotMaker) -> None:
    snap = load_snapshot(make_snapshot(LOG_ALONE)).raise_if_rejected()
    assert sorted(snap.tables) == ["activity", "courses", "lms_users"]
    assert len(snap["activity"]) == 3


def test_a_missing_required_table_is_still_refused(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(make_snapshot({**ONLY_REQUIRED, "lms_users": None}))
    assert (problem.rule, problem.table) == ("missing_table", "lms_users")


def test_users_without_email_or_creation_date_are_valid(make_snapshot: SnapshotMaker) -> None:
    users = (
        VALID_CSV["lms_users"]
        .replace("u2,008,bob@example.org,active", "u2,008,,active")
        .replace("suspended,2022-01-01 00:00:00", "suspended,")
    )
    snap = load_snapshot(make_snapshot({"lms_users": users})).raise_if_rejected()
    frame = snap["lms_users"].set_index("user_id")
    assert pd.isna(frame.loc["u2", "email"]) and pd.isna(frame.loc["u3", "created_at"])
    assert snap.has_column("lms_users", "email")  # carried, and known to be empty for u2


def test_the_new_columns_are_typed(make_snapshot: SnapshotMaker) -> None:
    users = (
        "user_id,person_id,email,full_name,status,created_at,last_login_at\n"
        "u1,007,ann@example.org,Ann Lee,active,,\n"
        "u2,008,,,active,,\n"
        "u3,,,Cy Poe,suspended,,\n"
    )
    courses = (
        "course_id,title,department,owner_user_id,starts_at,ends_at,is_compliance,due_days,"
        "grading_sla_days,status\n"
        "C1,Safety,Sales,u2,2026-09-01,2026-12-20T17:00:00+01:00,true,30,,active\n"
        "C2,Excel,,,,,no,,,active\n"
        "C3,Old,,,,,0,,,archived\n"
    )
    activity = (
        "event_id,user_id,course_id,object_id,verb,timestamp,value\n"
        "A1,u1,,,login,2026-11-20T06:00:00Z,\n"
        "A2,u1,C1,video-7,progressed,2026-11-20T06:05:00Z,40\n"
        "A3,u2,C1,007,completed,2023-06-10T10:00:00Z,88.5\n"
    )
    folder = make_snapshot({"lms_users": users, "courses": courses, "activity": activity})
    snap = load_snapshot(folder).raise_if_rejected()
    assert snap["lms_users"]["full_name"].tolist()[::2] == ["Ann Lee", "Cy Poe"]
    c1 = snap["courses"].iloc[0]
    assert c1["starts_at"] == pd.Timestamp("2026-09-01T00:00:00Z")
    assert c1["ends_at"] == pd.Timestamp("2026-12-20T16:00:00Z")
    assert str(snap["courses"]["ends_at"].dtype) == "datetime64[us, UTC]"
    assert snap["activity"]["object_id"].tolist()[1:] == ["video-7", "007"]  # ids stay text
    for name, column in (("lms_users", "full_name"), ("courses", "ends_at")):
        assert snap.has_column(name, column)


def test_a_bad_course_start_is_a_row_problem(make_snapshot: SnapshotMaker) -> None:
    courses = (
        "course_id,title,is_compliance,status,starts_at\n"
        "C1,Safety,true,active,next autumn\n"
        "C2,Excel,no,active,\n"
        "C3,Old,0,archived,\n"
    )
    problem = rejected_with_one(make_snapshot({"courses": courses}))
    assert (problem.row, problem.column, problem.rule) == (2, "starts_at", "wrong_type")
    assert problem.value == "next autumn"


def test_absent_columns_stay_absent(make_snapshot: SnapshotMaker) -> None:
    users = _drop_column(_drop_column(VALID_CSV["lms_users"], "email"), "created_at")
    courses = "course_id,title,is_compliance,status\nC1,Safety,true,active\nC2,Excel,no,active\n"
    folder = make_snapshot({"lms_users": users, "courses": courses, "enrollments": None})
    result = load_snapshot(folder)
    snap = result.raise_if_rejected()
    assert list(snap["lms_users"].columns) == [
        "user_id",
        "person_id",
        "status",
        "last_login_at",
        "favourite_colour",  # extra columns kept after the contract's
    ]
    assert list(snap["courses"].columns) == ["course_id", "title", "is_compliance", "status"]
    assert not snap.has_column("lms_users", "email") and snap.has_column("lms_users", "status")
    assert not snap.has_column("courses", "owner_user_id")
    assert not snap.has_column("enrollments", "user_id")  # the table itself is absent
    assert result.report.absent_columns["lms_users"] == ("email", "full_name", "created_at")
    assert (
        "lms_users: not in the source (unknown, not empty): email, full_name, created_at"
        in result.report.render()
    )


def test_absent_and_empty_are_different_snapshots(make_snapshot: SnapshotMaker) -> None:
    absent = load_snapshot(
        make_snapshot({"courses": _drop_column(VALID_CSV["courses"], "owner_user_id")})
    )
    empty_courses = VALID_CSV["courses"].replace(",u2,", ",,").replace(",nobody,", ",,")
    empty = load_snapshot(make_snapshot({"courses": empty_courses}))
    absent_snap, empty_snap = absent.raise_if_rejected(), empty.raise_if_rejected()
    assert empty_snap["courses"]["owner_user_id"].isna().all()
    assert not absent_snap.has_column("courses", "owner_user_id")
    assert empty_snap.has_column("courses", "owner_user_id")
    assert absent.content_hash != empty.content_hash


def test_columns_a_row_cannot_do_without_must_be_present(make_snapshot: SnapshotMaker) -> None:
    for name, column in (
        ("lms_users", "user_id"),
        ("lms_users", "status"),
        ("courses", "is_compliance"),
        ("activity", "user_id"),
        ("activity", "verb"),
    ):
        problem = rejected_with_one(make_snapshot({name: _drop_column(VALID_CSV[name], column)}))
        assert (problem.rule, problem.table, problem.column) == ("missing_column", name, column)


def test_which_columns_may_be_absent() -> None:
    for t in TABLES.values():
        for c in t.columns:
            assert c.may_be_absent == c.nullable, (t.name, c.name)
            assert not (c.unique and c.may_be_absent), (t.name, c.name)  # ids always present
    assert table("courses").column("grading_sla_days").default == 7
    assert table("enrollment_rules").column("grace_days").default == 3
    assert table("lms_users").missing_columns(["user_id", "email"]) == ["status"]


def test_without_people_a_person_link_cannot_dangle(make_snapshot: SnapshotMaker) -> None:
    # u3 names person P999, whom no roster lists; without a roster there is nothing to miss.
    snap = load_snapshot(make_snapshot({"people": None})).raise_if_rejected()
    assert "P999" in set(snap["lms_users"]["person_id"])


def test_without_enrollments_nothing_refers_to_them(make_snapshot: SnapshotMaker) -> None:
    result = load_snapshot(make_snapshot({"enrollments": None}))
    assert result.accepted and result.report.problems.empty


def test_an_absent_reference_column_refers_to_nothing(make_snapshot: SnapshotMaker) -> None:
    activity = _drop_column(VALID_CSV["activity"], "course_id")
    snap = load_snapshot(make_snapshot({"activity": activity})).raise_if_rejected()
    assert not snap.has_column("activity", "course_id")
    assert len(snap["activity"]) == 3


def test_a_dangling_user_still_dangles(make_snapshot: SnapshotMaker) -> None:
    activity = VALID_CSV["activity"] + "A4,u404,,login,2026-11-21T06:00:00Z,\n"
    problem = rejected_with_one(make_snapshot({**LOG_ALONE, "activity": activity}))
    assert (problem.row, problem.column, problem.rule) == (5, "user_id", "dangling_reference")


def test_a_mapped_export_tells_missing_from_left_out(tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text("Login,State\nann,active\n", encoding="utf-8")
    mapping = tmp_path / "users.toml"
    mapping.write_text(
        '[lms_users]\ncolumns = { Login = "user_id", State = "status" }\n', encoding="utf-8"
    )
    report = import_mapped_csv(source, mapping).report
    assert not any("still missing" in w for w in report.warnings)
    assert (
        "left out, so unknown rather than empty: person_id, email, full_name, created_at, "
        "last_login_at" in report.notes
    )
