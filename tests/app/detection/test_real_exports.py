"""Detection on real exports, converted as ``gapdesk ingest`` converts them: no finding is an
artefact of what the export could not carry (a term's dates, the rest of the site, the columns
another part carried). The exports are read from ``../shared/data/lms`` and the tests skip
without it (they are not ours to copy)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.sources.convert import IngestOptions
from app.sources.exports import convert_exports
from app.sources.load import load_snapshot, write_snapshot
from models.detectors import REGISTRY, carried_columns, run_detectors
from models.detectors.coverage import coverage
from models.snapshot import NOT_CARRIED, Snapshot
from tests.conftest import SHARED

LMS = SHARED / "data" / "lms"


def real(name: str) -> Path:
    path = LMS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (real exports are read from ../shared, never copied)")
    return path


def ingested(tmp_path: Path, *names: str, quarantine: bool = False, **options: object) -> Snapshot:
    """The snapshot ``gapdesk ingest NAMES...`` would store (converted, merged, validated)."""
    converted = convert_exports([real(n) for n in names], IngestOptions(**options), tmp_path)  # type: ignore[arg-type]
    converted.raise_if_failed()
    folder = tmp_path / "snapshot"
    write_snapshot(converted.tables, folder, file_format="parquet")
    write_snapshot({}, folder, as_of=converted.meta.get("as_of"))
    return load_snapshot(folder, quarantine=quarantine).raise_if_rejected()


def found(snapshot: Snapshot) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in run_detectors(snapshot).proposals:
        out.setdefault(p.category, set()).add(p.entity_key)
    return out


def test_a_silent_day_in_one_course_s_log_is_that_course_s_not_the_whole_site_s(
    tmp_path: Path,
) -> None:
    # One course's Moodle 2.x log: it cannot say whether the rest of the site was silent.
    snapshot = ingested(tmp_path, "more/moodle_logs/st9-8_oflog-qa_moodle_logs.csv")
    gaps = found(snapshot).get("reporting_gap", set())
    assert gaps == {"course=CS260-S'17 BSCS-3AB;date=2017-02-15"}


def test_the_weeks_a_term_starts_or_ends_are_not_engagement_anomalies(tmp_path: Path) -> None:
    # Two runs of a course in one Excel log: each run's first, part week (a Wednesday start)
    # was flagged as "few active learners".
    excel = ingested(
        tmp_path / "x", "more/moodle_logs/ivansandev_Logs_Course_A_StudentsActivities.xlsx"
    )
    weeks = {k for k in found(excel).get("engagement_anomaly", set()) if "week=" in k}
    assert weeks.isdisjoint(
        {"course=Semantic Web;week=2019-W45", "course=Semantic Web;week=2020-W43"}
    )
    # The last week of a term (learners gone, the teacher downloading the log) is not either.
    log = ingested(tmp_path / "l", "more/moodle_logs/st9-8_oflog-qa_moodle_logs.csv")
    assert "engagement_anomaly" not in found(log)


def test_the_coverage_of_a_real_course_log_says_its_courses_carry_no_dates(
    tmp_path: Path,
) -> None:
    snapshot = ingested(tmp_path, "moodle_course_activity_log.csv", year=2018)
    rows = {
        r.detector: r for r in coverage(carried_columns(snapshot), [REGISTRY["reporting_gap"]()])
    }
    assert rows["reporting_gap"].status == "partly checked"
    assert set(rows["reporting_gap"].needs) == {"courses.starts_at", "courses.ends_at"}


def test_a_user_list_and_a_log_merged_keep_what_neither_carried_unknown(tmp_path: Path) -> None:
    # Moodle's own user-list example (e-mails, no last login) with a course log (last logins,
    # no e-mails): the log's users have no known e-mail, the list's users no known last login.
    snapshot = ingested(
        tmp_path,
        "more/moodle_users/moodle_core_admin_tool_uploaduser_example.csv",
        "moodle_course_activity_log.csv",
        year=2018,
    )
    users = snapshot["lms_users"].set_index("user_id")
    assert NOT_CARRIED in users.columns
    listed = users.loc["student1"]
    assert listed["email"] == "s1@example.com" and "email" not in str(listed[NOT_CARRIED])
    logged = users.loc["DuEnWgMN"]
    assert "email" in str(logged[NOT_CARRIED]).split(";")
    assert snapshot.unknown("lms_users", "email").sum() == 113


def test_a_canvas_course_no_enrolment_file_names_has_an_unknown_owner_not_none(
    tmp_path: Path,
) -> None:
    # Instructure's documented SIS samples: enrollments.csv names one of the three courses
    # (its teacher owns it); the other two are not unowned, their owner is simply not in it.
    # Its two student rows carry no enrolment date (the SIS format has none): the converter
    # leaves the enrolments out, so the files go in as they come, without quarantine.
    names = [f"more/canvas/sis_csv_doc_sample_{t}.csv" for t in
             ("users", "courses", "accounts", "terms", "sections", "enrollments")]  # fmt: skip
    snapshot = ingested(tmp_path, *names, as_of=datetime(2013, 6, 1, tzinfo=UTC))
    assert "enrollments" not in snapshot.tables
    courses = snapshot["courses"].set_index("course_id")
    assert courses.loc["E411208", "owner_user_id"] == "13aa3"
    assert snapshot.unknown("courses", "owner_user_id").sum() == 2
    assert "unowned_course" not in found(snapshot)
