"""Exports → one snapshot's tables: every real format converted, merged, joined, or refused."""

from __future__ import annotations

import csv
import gzip
import io
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from app.core.errors import UserError
from app.sources.convert import UNDATED_ENROLMENTS, IngestOptions
from app.sources.exports import ConvertedExports, convert_exports, is_contract_folder
from tests.app.sources.conftest import SHARED_LMS

MORE = SHARED_LMS / "more"


def real(name: str) -> Path:
    path = SHARED_LMS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (real exports are read from ../shared, never copied)")
    return path


def run(tmp_path: Path, *sources: Path, **options: object) -> ConvertedExports:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return convert_exports(list(sources), IngestOptions(**options), work)  # type: ignore[arg-type]


def only(converted: ConvertedExports):  # type: ignore[no-untyped-def]
    assert len(converted.conversions) == 1, [c.shown for c in converted.conversions]
    return converted.conversions[0]


@pytest.mark.parametrize(
    ("name", "rows", "users", "year"),
    [
        ("moodle_course_activity_log.csv", 18_896, 113, 2018),
        ("more/moodle_logs/brian8sal_TestingLog_teacher_rows_es.csv", 23, 1, 2019),
        ("more/moodle_logs/st9-8_oflog-qa_moodle_logs.csv", 12_177, 33, 2017),
        ("more/moodle_logs/ivansandev_Logs_Course_A_StudentsActivities.xlsx", 26_172, 137, 2019),
    ],
)
def test_each_real_moodle_log_shape_converts(
    tmp_path: Path, name: str, rows: int, users: int, year: int
) -> None:
    conv = only(run(tmp_path, real(name), year=2018))
    assert conv.problem is None, conv.render()
    activity = conv.tables["activity"]
    assert len(activity) == rows and activity["event_id"].is_unique
    assert len(conv.tables["lms_users"]) == users
    assert activity["timestamp"].notna().all()
    assert activity["timestamp"].dt.year.min() == year
    assert "email" not in conv.tables["lms_users"]  # a log cannot know it: absent, not empty
    assert len(activity) + sum(conv.left_out.values()) + sum(conv.dropped.values()) == conv.read


def test_the_spanish_log_reads_day_first_dates_and_course_context(tmp_path: Path) -> None:
    conv = only(run(tmp_path, real("more/moodle_logs/brian8sal_TestingLog_teacher_rows_es.csv")))
    activity = conv.tables["activity"]
    # 23/12/2019 and 01/07/2019 can only be day first (the 16:48 row is a report: left out).
    assert activity["timestamp"].max() == pd.Timestamp("2019-12-23T16:47:00Z")
    assert activity["timestamp"].min() == pd.Timestamp("2019-07-01T10:30:00Z")
    assert conv.tables["courses"]["course_id"].tolist() == [
        "G000 - Curso de Testing - Curso 2018-2019"
    ]
    assert set(activity["verb"]) == {"viewed"}


def test_the_2x_log_keeps_its_course_title_and_counts_what_is_not_learning(
    tmp_path: Path,
) -> None:
    conv = only(run(tmp_path, real("more/moodle_logs/st9-8_oflog-qa_moodle_logs.csv")))
    courses = conv.tables["courses"]
    assert courses["title"].tolist() == ["CS260 Human Computer Interaction(BSCS-3AB)"]
    assert sum(conv.left_out.values()) == 1_425
    assert sum(conv.dropped.values()) == 3  # three actions Gapdesk does not know, named
    assert "calendar edit" in next(iter(conv.dropped))


def test_the_excel_log_without_user_names_takes_moodle_ids(tmp_path: Path) -> None:
    conv = only(
        run(tmp_path, real("more/moodle_logs/ivansandev_Logs_Course_A_StudentsActivities.xlsx"))
    )
    users = conv.tables["lms_users"]
    assert users["user_id"].str.fullmatch(r"\d+").all() and "8429" in set(users["user_id"])
    assert "full_name" not in users


def test_real_xapi_and_openedx_convert(tmp_path: Path) -> None:
    xapi = only(run(tmp_path, real("xapi_statements.jsonl.gz")))
    assert xapi.problem is None and xapi.read == 22_000
    assert len(xapi.tables["activity"]) == 18_454
    assert set(xapi.tables["lms_users"]["user_id"]) == set(xapi.tables["activity"]["user_id"])
    assert xapi.tables["activity"]["object_id"].notna().all()
    edx = only(run(tmp_path, real("more/openedx/utpl_tracking.log")))
    assert edx.problem is None and len(edx.tables["activity"]) == 60


def test_a_saved_lrs_page_is_read_like_the_statements_it_holds(tmp_path: Path) -> None:
    with gzip.open(real("xapi_statements.jsonl.gz"), "rt", encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(50)]
    page = tmp_path / "statements.json"
    page.write_text('{"statements": [' + ",".join(lines) + '], "more": "/xAPI/statements?p=2"}')
    conv = only(run(tmp_path, page))
    assert conv.problem is None and conv.read == 50 and len(conv.tables["activity"]) > 0


def test_rotated_openedx_logs_in_a_folder_are_one_conversion(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    lines = real("more/openedx/utpl_tracking.log").read_bytes().splitlines(keepends=True)
    (folder / "tracking.log").write_bytes(b"".join(lines[:120]))
    (folder / "tracking.log-20161117.gz").write_bytes(gzip.compress(b"".join(lines[120:])))
    conv = only(run(tmp_path, folder))
    assert conv.read == 243 and len(conv.tables["activity"]) == 60


def test_the_real_canvas_sis_files_join_into_users_courses_and_owners(tmp_path: Path) -> None:
    names = ["users", "courses", "enrollments", "accounts", "terms", "sections"]
    folder = tmp_path / "sis"
    folder.mkdir()
    for name in names:
        shutil.copy(real(f"more/canvas/sis_csv_doc_sample_{name}.csv"), folder / f"{name}.csv")
    out = run(tmp_path, folder)
    assert not out.failed, [c.render() for c in out.failed]
    courses = out.tables["courses"].set_index("course_id")
    assert courses.loc["E411208", "owner_user_id"] == "13aa3"  # the teacher of the course
    assert courses.loc["E411208", "department"] == "English"  # its account's name
    assert courses.loc["R001104", "title"] == "Biology 300: Rocking it, Bio Style"
    users = out.tables["lms_users"].set_index("user_id")
    assert users.loc["01103", "email"] == "bob.smith@myschool.edu"
    assert users.loc["01103", "full_name"] == "Bobby Smith"
    # The SIS format carries no enrolment date and the contract needs one: the two student
    # enrolments are left out, said so, and the table is absent (unknown), not invalid.
    assert "enrollments" not in out.tables
    [enrolments] = [c for c in out.conversions if c.primary == "enrollments"]
    assert enrolments.left_out[UNDATED_ENROLMENTS] == 2


def test_email_events_reach_the_lms_users_with_those_addresses(tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text(
        "username,firstname,lastname,email\nexa,Ex,Ample,Example@Test.com\n", encoding="utf-8"
    )
    out = run(tmp_path, real("more/email_events/sendgrid_event_webhook_sample_payload.json"), users)
    assert not out.failed
    sent = out.tables["notifications"]
    assert sent["user_id"].tolist() == ["exa"] and sent["bounced"].tolist() == [True]
    assert sent["delivered_at"].notna().all() and sent["opened_at"].notna().all()


def test_email_events_for_no_known_user_fail_and_say_what_to_add(tmp_path: Path) -> None:
    out = run(tmp_path, real("more/email_events/mailgun_events_api_examples.jsonl"))
    conv = only(out)
    assert conv.problem is not None and "no LMS user has" in conv.problem
    with pytest.raises(UserError, match="nothing was stored"):
        out.raise_if_failed()


def test_a_moodle_user_list_gives_the_log_users_their_accounts(tmp_path: Path) -> None:
    log = real("moodle_course_activity_log.csv")
    names = sorted(set(pd.read_csv(log, dtype=str)["User full name"]))[:3]
    users = tmp_path / "users.csv"
    users.write_text(
        "username,firstname,lastname,email\n"
        + "".join(f"user{i},{n},,u{i}@example.org\n" for i, n in enumerate(names)),
        encoding="utf-8",
    )
    out = run(tmp_path, log, users, year=2018)
    merged = out.tables["lms_users"].set_index("user_id")
    assert merged.loc["user0", "email"] == "u0@example.org"
    assert names[0] not in merged.index  # the log's name became the list's username
    assert "user0" in set(out.tables["activity"]["user_id"])
    assert any("3 of 113 users matched" in n for n in out.links)


def _log_rows(count: int = 60) -> list[list[str]]:
    with real("moodle_course_activity_log.csv").open(encoding="utf-8", newline="") as fh:
        return [row for _, row in zip(range(count + 1), csv.reader(fh), strict=False)]


def _text(rows: list[list[str]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "options"),
    [
        (lambda t: t.encode("utf-16"), {}),
        (lambda t: t.encode("utf-16-le"), {}),
        (lambda t: t.encode(), {}),
        (lambda t: t.encode("latin-1"), {"encoding": "latin-1"}),
        (lambda t: gzip.compress(t.encode()), {}),
    ],
    ids=["utf16-bom", "utf16-no-bom", "utf8", "latin1-told", "gzip"],
)
def test_logs_re_saved_as_tab_separated_crlf_text_convert_the_same(
    tmp_path: Path, data, options
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "log.csv"
    path.write_bytes(data(_text(_log_rows(), "\t")))
    conv = only(run(tmp_path, path, year=2018, **options))
    assert conv.problem is None, conv.render()
    assert len(conv.tables["activity"]) == 60


def test_semicolons_are_read_and_said(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(_text(_log_rows(), ";"), encoding="utf-8")
    conv = only(run(tmp_path, path, year=2018))
    assert conv.problem is None and len(conv.tables["activity"]) == 60
    assert any("semicolon-separated" in n for n in conv.notes)


def test_a_latin1_log_not_told_fails_with_the_flag_to_pass(tmp_path: Path) -> None:
    rows = _log_rows(5)
    for row in rows[1:]:
        row[2] = "Zoë Brontë"
    path = tmp_path / "log.csv"
    path.write_bytes(_text(rows).encode("latin-1"))
    conv = only(run(tmp_path, path))
    assert conv.problem is not None and "pass --encoding latin-1" in conv.problem


def test_a_log_in_a_language_gapdesk_cannot_read_fails_as_mostly_dropped(tmp_path: Path) -> None:
    rows = _log_rows(20)
    for row in rows[1:16]:
        row[5] = "Cours consulté"
    path = tmp_path / "log.csv"
    path.write_text(_text(rows), encoding="utf-8")
    conv = only(run(tmp_path, path, year=2018))
    assert conv.problem is not None and conv.problem.startswith("drops 15 of 20 rows (75%)")
    assert "Cours consulté" in conv.problem


def test_headerless_shuffled_and_empty_files_fail_with_their_reason(tmp_path: Path) -> None:
    rows = _log_rows()
    headerless = tmp_path / "headerless.csv"
    headerless.write_text(_text(rows[1:]), encoding="utf-8")
    shuffled = tmp_path / "shuffled.csv"
    header = rows[0][:]
    i, j = header.index("User full name"), header.index("Origin")
    header[i], header[j] = header[j], header[i]
    shuffled.write_text(_text([header, *rows[1:]]), encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    out = run(tmp_path, headerless, shuffled, empty)
    problems = {Path(c.shown).name: c.problem or "" for c in out.conversions}
    assert "first row looks like data" in problems["headerless.csv"]
    assert "header does not match its data" in problems["shuffled.csv"]
    assert "is empty" in problems["empty.csv"]
    assert out.tables == {}  # nothing is merged when any source fails


def test_a_folder_of_mixed_files_and_a_zip_inside_it(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    (folder / "nested").mkdir(parents=True)
    (folder / "README.md").write_text("# what these are\n\nlogs from our Moodle\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    (folder / "nested" / "log.csv").write_text(_text(_log_rows()), encoding="utf-8")
    with zipfile.ZipFile(folder / "openedx.zip", "w") as zf:
        zf.write(real("more/openedx/utpl_tracking.log"), "logs/tracking.log")
    out = run(tmp_path, folder, year=2018)
    assert not out.failed
    assert sorted(c.format for c in out.conversions) == ["moodle-log", "openedx"]
    assert any(c.shown.endswith("openedx.zip!logs/tracking.log") for c in out.conversions)
    assert [Path(s).name for s, _ in out.skipped] == ["README.md"]
    assert len(out.tables["activity"]) == 60 + 60
    assert len(out.tables["courses"]) == 1 + 4


def test_a_forced_format_that_the_content_contradicts_is_refused(tmp_path: Path) -> None:
    conv = only(run(tmp_path, real("more/openedx/utpl_tracking.log"), format="xapi"))
    assert conv.problem is not None
    assert conv.problem.startswith(
        "this looks like an Open edX tracking log (JSON lines), not xAPI statements"
    )


def test_nothing_known_in_the_sources_is_one_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello\n")
    with pytest.raises(UserError, match="no export Gapdesk knows was found"):
        run(tmp_path, folder)


def test_a_contract_folder_is_told_from_a_folder_of_exports(tmp_path: Path, make_snapshot) -> None:  # type: ignore[no-untyped-def]
    snapshot = make_snapshot()
    (snapshot / "ground_truth.csv").write_text("a,b\n1,2\n")  # extra files are allowed
    assert is_contract_folder(snapshot)
    (snapshot / "log.csv").write_text(_text(_log_rows()), encoding="utf-8")
    assert not is_contract_folder(snapshot)  # an export beside the tables: ingest them all
    assert not is_contract_folder(tmp_path / "missing")


def test_the_real_moodle_and_canvas_user_lists_carry_addresses_names_and_status(
    tmp_path: Path,
) -> None:
    moodle = only(
        run(tmp_path, real("more/moodle_users/moodle_core_admin_tool_uploaduser_example.csv"))
    )
    users = moodle.tables["lms_users"].set_index("user_id")
    assert users.loc["student1", "email"] == "s1@example.com"
    assert users.loc["student1", "full_name"] == "Student One"
    assert set(users["status"]) == {"active"}
    canvas = only(run(tmp_path, real("more/canvas/canvas-lms_spec_fixtures_sis_users_utf.csv")))
    people = canvas.tables["lms_users"].set_index("user_id")
    assert people.loc["11010515", "full_name"] == "Brandon De León"
    assert people["status"].value_counts().to_dict() == {"deleted": 5, "active": 3}
    assert pd.isna(people.loc["11011848", "email"])  # known to be empty: the column is there


def test_numeric_dates_follow_day_first_or_month_first(tmp_path: Path) -> None:
    rows = _log_rows(3)
    for row in rows[1:]:
        row[1] = "2/03/21, 14:12"  # ambiguous: 2 March or February 3
    path = tmp_path / "log.csv"
    path.write_text(_text(rows), encoding="utf-8")
    default = only(run(tmp_path, path))
    assert default.tables["activity"]["timestamp"].iloc[0] == pd.Timestamp("2021-03-02T14:12Z")
    assert any("day first" in n for n in default.notes)
    us = only(run(tmp_path, path, day_first=False))
    assert us.tables["activity"]["timestamp"].iloc[0] == pd.Timestamp("2021-02-03T14:12Z")


def test_a_tar_archive_is_unpacked_like_a_zip(tmp_path: Path) -> None:
    import tarfile

    archive = tmp_path / "logs.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(real("more/openedx/utpl_tracking.log"), arcname="2016/tracking.log")
    conv = only(run(tmp_path, archive))
    assert conv.shown.endswith("logs.tar.gz!2016/tracking.log") and conv.problem is None


def test_a_recognised_format_without_an_importer_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "course_dim"
    folder.mkdir()
    (folder / "part-0").write_text(
        "".join(f"{i}\t{i}\t1\tCourse {i}\t\\N\t2020-01-01 00:00:00.000\n" for i in range(4))
    )
    conv = only(run(tmp_path, folder / "part-0"))
    assert conv.problem == (
        "is a Canvas Data flat file (course_dim), which Gapdesk recognises but has no importer "
        "for yet"
    )
