"""``gapdesk ingest SOURCE...`` on real exports, through the real command on SQLite."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from tests.app.cli.test_cli import run
from tests.conftest import SHARED

LMS = SHARED / "data" / "lms"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"GAPDESK_HOME": str(tmp_path / "home"), "GAPDESK_DATABASE_URL": ""}


def real(name: str) -> Path:
    path = LMS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (real exports are read from ../shared, never copied)")
    return path


def _contract_tables_for(log: Path, folder: Path) -> None:
    """The HR and LMS tables a Moodle course log cannot carry, for its own users and course."""
    with log.open(encoding="utf-8", newline="") as fh:
        names = sorted({row["User full name"] for row in csv.DictReader(fh)})
    folder.mkdir()
    people = ["person_id,email,full_name,department,job_title,manager_person_id,"
              "employment_status,hire_date,termination_date"]  # fmt: skip
    users = ["user_id,person_id,email,status,created_at,last_login_at"]
    enrolments = ["enrollment_id,user_id,course_id,source,status,enrolled_at,due_at,"
                  "completed_at,withdrawn_at,progress_pct"]  # fmt: skip
    for i, name in enumerate(names):
        people.append(f"P{i},p{i}@example.org,{name},Computing,Student,,active,2017-09-01,")
        users.append(f"{name},P{i},p{i}@example.org,active,2017-09-01T00:00:00Z,")
        enrolments.append(f"E{i},{name},myCourseName,manual,in_progress,2018-01-15T00:00:00Z,,,,")
    (folder / "people.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
    (folder / "lms_users.csv").write_text("\n".join(users) + "\n", encoding="utf-8")
    (folder / "enrollments.csv").write_text("\n".join(enrolments) + "\n", encoding="utf-8")
    (folder / "courses.csv").write_text(
        "course_id,title,department,owner_user_id,is_compliance,due_days,grading_sla_days,status\n"
        "myCourseName,Data analytics,Computing,,false,,,active\n",
        encoding="utf-8",
    )


def test_a_real_moodle_log_and_the_tables_it_lacks_go_in_with_one_command(
    env: dict[str, str], tmp_path: Path
) -> None:
    log = real("moodle_course_activity_log.csv")
    _contract_tables_for(log, tmp_path / "hr")
    result = run("ingest", str(log), str(tmp_path / "hr"), "--year", "2018", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"{log}: a Moodle Logs report (CSV, comma-separated)" in out
    assert "  activity: 18,896 rows" in out and "  left out 400: not learner activity" in out
    assert "lms_users.csv: the lms_users table" in out
    assert "snapshot " in out and " accepted: as_of 2018-09-04T07:33:00+00:00" in out
    listed = run("snapshots", env=env)
    assert (
        len(listed.stdout.splitlines()) == 1 and "moodle_course_activity_log.csv" in listed.stdout
    )
    again = run("ingest", str(log), str(tmp_path / "hr"), "--year", "2018", env=env)
    assert again.returncode == 0 and "already ingested as snapshot" in again.stdout


@pytest.mark.parametrize(
    "names",
    [
        ["moodle_course_activity_log.csv"],
        ["more/openedx/utpl_tracking.log"],
        ["xapi_statements.jsonl.gz"],
        ["more/moodle_logs/ivansandev_Logs_Course_A_StudentsActivities.xlsx"],
        [
            "more/canvas/sis_csv_doc_sample_users.csv",
            "more/canvas/sis_csv_doc_sample_courses.csv",
        ],
    ],
    ids=["moodle-log", "openedx", "xapi", "moodle-excel", "canvas-sis"],
)
def test_a_real_lms_export_alone_is_a_snapshot(env: dict[str, str], names: list[str]) -> None:
    result = run("ingest", *(str(real(n)) for n in names), "--year", "2018", env=env)
    assert result.returncode == 0, result.stderr
    assert " accepted: as_of " in result.stdout


def test_exports_without_any_time_take_the_files_time_and_say_so(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Canvas SIS users and courses are a state dump with no time in them."""
    sources = []
    for name in ("sis_csv_doc_sample_users.csv", "sis_csv_doc_sample_courses.csv"):
        copy = tmp_path / name
        copy.write_bytes(real(f"more/canvas/{name}").read_bytes())
        sources.append(str(copy))
    os.utime(sources[0], (1_700_000_000, 1_700_000_000))
    os.utime(sources[1], (1_700_000_600, 1_700_000_600))
    result = run("ingest", *sources, env=env)
    assert result.returncode == 0, result.stderr
    assert (
        "as_of 2023-11-14T22:23:20+00:00: these exports carry no time, so the newest file's "
        "modification time was taken (pass --as-of to set it)" in result.stdout
    )
    assert " accepted: as_of 2023-11-14T22:23:20+00:00" in result.stdout
    again = run("ingest", *sources, env=env)
    assert again.returncode == 0 and "already ingested as snapshot" in again.stdout
    given = run("ingest", *sources, "--as-of", "2024-01-02T00:00:00Z", env=env)
    assert "modification time" not in given.stdout
    assert " accepted: as_of 2024-01-02T00:00:00+00:00" in given.stdout


def _latin1_log(path: Path) -> Path:
    rows = [
        "Time,User full name,Affected user,Event context,Component,Event name,Description,"
        "Origin,IP address"
    ] + [f'"1{i} May, 09:44",Zoë Brontë,-,Course: Écoles,System,Course viewed,x,web,1.2.3.4'
         for i in range(5)]  # fmt: skip
    path.write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "sandbox",
            "sandbox_tracking.log: yields no activity rows of 13 read (left out: Studio "
            "previews of course content (authors, not learners))",
        ),
        ("forced", "this looks like an Open edX tracking log (JSON lines), not xAPI statements"),
        ("latin1", "it looks like latin-1: pass --encoding latin-1"),
        ("headerless", "its first row looks like data, not a header"),
        ("empty", "empty.csv: is empty: it holds no rows"),
        ("mapping", "--mapping applies to one snapshot folder; give that folder alone"),
    ],
)
def test_a_source_that_cannot_go_in_fails_in_one_line_and_stores_nothing(
    env: dict[str, str], tmp_path: Path, case: str, message: str
) -> None:
    edx = LMS / "more" / "openedx"
    if case == "sandbox":
        args = [str(real("more/openedx/sandbox_tracking.log"))]
    elif case == "forced":
        args = [str(real("more/openedx/utpl_tracking.log")), "--format", "xapi"]
    elif case == "latin1":
        args = [str(_latin1_log(tmp_path / "log.csv"))]
    elif case == "headerless":
        lines = real("moodle_course_activity_log.csv").read_text(encoding="utf-8").splitlines()
        (tmp_path / "log.csv").write_text("\n".join(lines[1:50]) + "\n", encoding="utf-8")
        args = [str(tmp_path / "log.csv")]
    elif case == "empty":
        (tmp_path / "empty.csv").write_bytes(b"")
        args = [str(tmp_path / "empty.csv")]
    else:
        args = [str(edx), str(edx), "--mapping", str(tmp_path / "m.toml")]
    result = run("ingest", *args, env=env)
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    if case == "sandbox":  # the conversion report says why, before the error
        assert "FAILED: yields no activity rows" in result.stdout
    assert "no snapshots yet" in run("snapshots", env=env).stdout


def test_a_latin1_log_goes_in_once_its_encoding_is_given(
    env: dict[str, str], tmp_path: Path
) -> None:
    log = _latin1_log(tmp_path / "log.csv")
    result = run("ingest", str(log), "--encoding", "latin-1", "--year", "2018", env=env)
    assert "a Moodle Logs report (CSV, comma-separated, LATIN-1)" in result.stdout
    assert "  activity: 5 rows" in result.stdout and "FAILED" not in result.stdout
    assert "not UTF-8" not in result.stderr  # whatever validation says, the text was read


def test_import_xapi_on_an_openedx_log_says_what_it_is(env: dict[str, str], tmp_path: Path) -> None:
    log = real("more/openedx/utpl_tracking.log")
    result = run("import", "xapi", str(log), "--out", str(tmp_path / "out"), env=env)
    assert result.returncode == 1
    assert "this looks like an Open edX tracking log (JSON lines), not xAPI statements" in (
        result.stderr
    )
    assert not (tmp_path / "out").exists()


def test_a_gzipped_copy_in_a_zip_goes_through_the_same_door(
    env: dict[str, str], tmp_path: Path
) -> None:
    log = real("moodle_course_activity_log.csv")
    _contract_tables_for(log, tmp_path / "hr")
    bundle = tmp_path / "bundle"
    shutil.make_archive(str(bundle), "zip", root_dir=tmp_path / "hr")
    result = run("ingest", str(log), f"{bundle}.zip", "--year", "2018", env=env)
    assert result.returncode == 0, result.stderr
    assert f"{bundle}.zip!people.csv: the people table" in result.stdout
