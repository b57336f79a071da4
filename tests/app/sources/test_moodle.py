"""Moodle Logs download → activity, lms_users, courses (the real export and small literal ones)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from app.core.errors import UserError
from app.sources.contract import TABLES
from app.sources.load import load_snapshot, write_snapshot
from app.sources.moodle import import_moodle_log, parse_moodle_times
from app.sources.validate import validate_tables
from models.detectors.registry import build_detectors, run_detectors
from tests.app.sources.conftest import SHARED_LMS

REAL_LOG = SHARED_LMS / "moodle_course_activity_log.csv"
HEADER = (
    "Affected user,Time,User full name,Event context,Component,Event name,Description,"
    "IP address,Origin\n"
)


def write_log(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "logs.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def real_import():  # type: ignore[no-untyped-def]
    if not REAL_LOG.exists():
        pytest.skip(f"{REAL_LOG} is absent (it may not be copied into the repository)")
    return import_moodle_log(REAL_LOG, year=2018)


def test_real_log_maps_events_and_counts_the_rest(real_import) -> None:  # type: ignore[no-untyped-def]
    report = real_import.report
    assert report.counts["log rows"] == 19_296
    assert report.counts["events mapped"] + report.counts["events unmapped"] == 19_296
    assert report.counts["unmapped: User list viewed"] == 200
    assert report.counts["unmapped: Course searched"] == 1
    activity = real_import.tables["activity"]
    assert len(activity) == report.counts["events mapped"] == 18_896
    assert activity["verb"].value_counts().to_dict() == {"viewed": 18_102, "submitted": 794}
    assert activity["event_id"].is_unique
    assert set(activity["course_id"]) == {"myCourseName"}
    assert activity["timestamp"].min() == pd.Timestamp("2018-01-22T09:09:00Z")
    assert any("2018" in note for note in report.notes)


def test_real_log_reveals_users_and_the_course(real_import) -> None:  # type: ignore[no-untyped-def]
    users = real_import.tables["lms_users"]
    assert len(users) == 113 and users["user_id"].is_unique
    assert real_import.tables["courses"]["course_id"].tolist() == ["myCourseName"]


def test_real_log_leaves_out_what_a_log_cannot_know(real_import) -> None:  # type: ignore[no-untyped-def]
    users, courses = real_import.tables["lms_users"], real_import.tables["courses"]
    assert list(users.columns) == ["user_id", "full_name", "status", "last_login_at"]
    assert (users["full_name"] == users["user_id"]).all()  # the log names users by name only
    assert list(courses.columns) == ["course_id", "title", "is_compliance", "status"]


@pytest.mark.parametrize("quarantine", [False, True])
def test_real_log_alone_is_a_snapshot(real_import, tmp_path: Path, quarantine: bool) -> None:  # type: ignore[no-untyped-def]
    # What `gapdesk import moodle` writes, ingested without an HR roster or enrolments.
    folder = write_snapshot(real_import.tables, tmp_path / "moodle")
    result = load_snapshot(folder, quarantine=quarantine)
    snap = result.raise_if_rejected()
    assert result.report.problems.empty and result.quarantined == {}
    assert {n: len(f) for n, f in snap.tables.items()} == {
        "lms_users": 113,
        "courses": 1,
        "activity": 18_896,
    }
    assert not snap.has_column("lms_users", "email") and snap.has_column("lms_users", "full_name")
    assert not snap.has_column("courses", "owner_user_id")
    assert snap.as_of == pd.Timestamp("2018-09-04T07:33:00Z")
    found = run_detectors(snap, build_detectors())
    assert "orphan_account" in found.skipped and "enrollment_failed" in found.skipped
    assert {p.category for p in found.proposals} <= {"reporting_gap", "engagement_anomaly"}


def test_real_log_quarantine_takes_along_only_a_broken_users_events(  # type: ignore[no-untyped-def]
    real_import, tmp_path: Path
) -> None:
    tables = dict(real_import.tables)
    users = tables["lms_users"].copy()
    broken = users["user_id"].iloc[0]
    users.loc[0, "status"] = "gone"
    tables["lms_users"] = users
    events = int((tables["activity"]["user_id"] == broken).sum())
    result = load_snapshot(write_snapshot(tables, tmp_path / "moodle"), quarantine=True)
    snap = result.raise_if_rejected()
    assert len(snap["lms_users"]) == 112 and len(snap["activity"]) == 18_896 - events > 0
    assert result.report.quarantined_counts == {"lms_users": 1, "activity": events}
    assert result.report.followed_counts == {"activity": events}


def test_real_log_validates_as_a_snapshot_once_emails_are_known(real_import) -> None:  # type: ignore[no-untyped-def]
    users = real_import.tables["lms_users"].copy()
    users["email"] = users["user_id"] + "@example.org"
    people = pd.DataFrame(columns=list(TABLES["people"].column_names))
    enrollments = pd.DataFrame(columns=list(TABLES["enrollments"].column_names))
    checked = validate_tables(
        {
            "people": people,
            "lms_users": users,
            "courses": real_import.tables["courses"],
            "enrollments": enrollments,
            "activity": real_import.tables["activity"],
        }
    )
    assert checked.report.accepted, checked.report.render()
    assert len(checked.tables["activity"]) == 18_896


def test_event_ids_are_stable_across_imports(tmp_path: Path) -> None:
    rows = [
        '-,"11 May, 09:44",Ann,Course: Safety,System,Course viewed,d,127.0.0.1,web',
        '-,"11 May, 09:44",Ann,Course: Safety,System,Course viewed,d,127.0.0.1,web',
        '-,"10 May, 08:00",Bob,Course: Safety,System,Course viewed,d,127.0.0.1,web',
    ]
    first = import_moodle_log(write_log(tmp_path, rows), year=2026).tables["activity"]
    again = import_moodle_log(write_log(tmp_path, rows), year=2026).tables["activity"]
    assert first["event_id"].tolist() == again["event_id"].tolist()
    # Two identical rows are two events: the ordinal keeps them apart.
    assert first["event_id"].is_unique and len(first) == 3


def test_year_defaults_to_the_current_year_and_says_so(tmp_path: Path) -> None:
    path = write_log(tmp_path, ['-,"3 Feb, 10:15",Ann,Course: Safety,System,Course viewed,d,x,web'])
    result = import_moodle_log(path)
    year = datetime.now(UTC).year
    assert result.tables["activity"]["timestamp"].iloc[0] == pd.Timestamp(f"{year}-02-03T10:15Z")
    assert any(str(year) in n and "current year" in n for n in result.report.notes)


def test_time_zone_option_converts_to_utc(tmp_path: Path) -> None:
    path = write_log(tmp_path, ['-,"3 Jul, 10:15",Ann,Course: Safety,System,Course viewed,d,x,web'])
    result = import_moodle_log(path, year=2026, tz="Europe/Dublin")
    assert result.tables["activity"]["timestamp"].iloc[0] == pd.Timestamp("2026-07-03T09:15Z")


def test_logins_are_site_level_and_unmapped_events_are_counted(tmp_path: Path) -> None:
    rows = [
        '-,"3 Feb, 10:15",Ann,System,System,User has logged in,d,x,web',
        '-,"3 Feb, 10:16",Ann,Quiz: Q1,Quiz,Quiz attempt submitted,d,x,web',
        '-,"3 Feb, 10:17",Ann,Course: Safety,System,Something new happened,d,x,web',
        '-,"not a time",Ann,Course: Safety,System,Course viewed,d,x,web',
    ]
    result = import_moodle_log(write_log(tmp_path, rows), year=2026)
    activity = result.tables["activity"]
    assert activity["verb"].tolist() == ["login", "submitted"]
    assert pd.isna(activity["course_id"].iloc[0]) and activity["course_id"].iloc[1] == "Safety"
    assert result.report.counts["unmapped: Something new happened"] == 1
    assert any("'not a time'" in w and "row 5" in w for w in result.report.warnings)
    users = result.tables["lms_users"]
    assert users["last_login_at"].iloc[0] == pd.Timestamp("2026-02-03T10:15Z")


def test_event_verbs_and_user_ids_options(tmp_path: Path) -> None:
    rows = ['-,"3 Feb, 10:17",Ann Lee,Course: Safety,System,Badge awarded,d,x,web']
    result = import_moodle_log(
        write_log(tmp_path, rows),
        year=2026,
        event_verbs={"Badge awarded": "completed"},
        user_ids={"Ann Lee": "u42"},
        course_id="C1",
    )
    row = result.tables["activity"].iloc[0]
    assert (row["verb"], row["user_id"], row["course_id"]) == ("completed", "u42", "C1")


def test_times_with_a_year_keep_it() -> None:
    times = pd.Series(["Monday, 11 May 2020, 9:44 AM", "11 May, 09:44", "11/05/20, 09:44"])
    parsed = parse_moodle_times(times, year=2026)
    assert parsed.dt.year.tolist() == [2020, 2026, 2020]


def test_not_a_moodle_log(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"not a Moodle Logs download.*Time"):
        import_moodle_log(path)


def test_empty_moodle_file(tmp_path: Path) -> None:
    path = tmp_path / "logs.csv"
    path.write_bytes(b"")
    with pytest.raises(UserError, match=r"logs\.csv.*empty"):
        import_moodle_log(path)


def test_merge_keeps_the_lms_export_and_adds_revealed_users(tmp_path: Path) -> None:
    from app.sources.result import merge_tables

    rows = [
        '-,"3 Feb, 10:15",Ann,Course: Safety,System,Course viewed,d,x,web',
        '-,"3 Feb, 10:16",Bob,Course: Safety,System,Course viewed,d,x,web',
    ]
    revealed = import_moodle_log(write_log(tmp_path, rows), year=2026).tables
    export = {
        "lms_users": pd.DataFrame(
            {
                "user_id": ["Ann"],
                "person_id": ["P1"],
                "email": ["ann@example.org"],
                "status": ["active"],
                "created_at": [pd.Timestamp("2025-01-01T00:00Z")],
                "last_login_at": [pd.NaT],
            }
        )
    }
    merged = merge_tables(export, revealed)
    users = merged["lms_users"]
    assert users["user_id"].tolist() == ["Ann", "Bob"]
    assert users["email"].tolist()[0] == "ann@example.org"
    assert len(merged["activity"]) == 2 and len(merged["courses"]) == 1
