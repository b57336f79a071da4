"""Recognising exports from their content: every real file we have, then the ways files break."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from pathlib import Path

import pytest

from app.sources.recognise import Recognition, mismatch, recognise
from tests.app.sources.conftest import SHARED_LMS

MORE = SHARED_LMS / "more"
REAL_LOG = SHARED_LMS / "moodle_course_activity_log.csv"

# Every real export in ../shared/data/lms (none may be copied here but the MIT ones), with the
# format and kind it must be recognised as.
REAL_FILES = [
    ("moodle_course_activity_log.csv", "moodle-log", "en"),
    ("xapi_statements.jsonl.gz", "xapi", "lines"),
    ("more/moodle_logs/brian8sal_TestingLog_teacher_rows_es.csv", "moodle-log", "es"),
    ("more/moodle_logs/st9-8_oflog-qa_moodle_logs.csv", "moodle-log", "2.x"),
    ("more/moodle_logs/ivansandev_Logs_Course_A_StudentsActivities.xlsx", "moodle-log", "en"),
    ("more/moodle_users/moodle_core_admin_tool_uploaduser_example.csv", "moodle-users", ""),
    ("more/openedx/utpl_tracking.log", "openedx", "lines"),
    ("more/openedx/sandbox_tracking.log", "openedx", "lines"),
    ("more/canvas/sis_csv_doc_sample_users.csv", "canvas-sis", "users"),
    ("more/canvas/canvas-lms_spec_fixtures_sis_users_utf.csv", "canvas-sis", "users"),
    ("more/canvas/canvas-lms_spec_fixtures_files_sis_test_user_1.csv", "canvas-sis", "users"),
    ("more/canvas/sis_csv_doc_sample_courses.csv", "canvas-sis", "courses"),
    ("more/canvas/VadimIgoshinMaster_courses3.csv", "canvas-sis", "courses"),
    ("more/canvas/sis_csv_doc_sample_enrollments.csv", "canvas-sis", "enrollments"),
    ("more/canvas/VadimIgoshinMaster_enrollments3.csv", "canvas-sis", "enrollments"),
    ("more/canvas/sis_csv_doc_sample_sections.csv", "canvas-sis", "sections"),
    ("more/canvas/sis_csv_doc_sample_terms.csv", "canvas-sis", "terms"),
    ("more/canvas/sis_csv_doc_sample_accounts.csv", "canvas-sis", "accounts"),
    ("more/email_events/sendgrid_event_webhook_sample_payload.json", "sendgrid", "array"),
    ("more/email_events/sendgrid_event_webhook_per_event_examples.json", "sendgrid", "array"),
    ("more/email_events/ses_sns_notification_examples.jsonl", "ses", "lines"),
    ("more/email_events/ses_event_publishing_sns_examples.jsonl", "ses", "lines"),
    ("more/email_events/mailgun_events_api_examples.jsonl", "mailgun", "lines"),
]


def real(name: str) -> Path:
    path = SHARED_LMS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (real exports are read from ../shared, never copied)")
    return path


@pytest.mark.parametrize(("name", "fmt", "kind"), REAL_FILES)
def test_each_real_export_is_recognised_from_its_content(
    name: str, fmt: str, kind: str, tmp_path: Path
) -> None:
    found = recognise(real(name))
    assert (found.format, found.kind, found.problem) == (fmt, kind, None), found.label
    # The name plays no part: the same bytes under a meaningless name are the same export.
    blind = tmp_path / "download.bin"
    blind.write_bytes(real(name).read_bytes())
    again = recognise(blind)
    assert (again.format, again.kind) == (fmt, kind)


def test_real_exports_that_cannot_go_in_say_what_they_are() -> None:
    quiz = recognise(real("more/moodle_users/ChaosArnhug_Script_TLCA_moodle_quiz_results.csv"))
    assert quiz.format == "moodle-quiz-results" and quiz.delimiter == ";"
    assert "quiz results" in (quiz.problem or "") and "cannot be attributed" in (quiz.problem or "")
    book = recognise(
        real("more/canvas/canvas-lms_spec_fixtures_gradebooks_basic_course_with_sis_login_id.csv")
    )
    assert book.format == "canvas-gradebook" and "gradebook" in (book.problem or "")
    grades = recognise(real("moodle_course_grades.csv"))
    assert grades.format is None and "StudentId" in (grades.problem or "")


def test_the_real_canvas_file_with_a_shifted_column_is_caught() -> None:
    # Its header says status, but the statuses sit one column to the left, under account_id.
    found = recognise(real("more/canvas/VadimIgoshinMaster_courses.csv"))
    assert found.format == "canvas-sis" and found.problem is not None
    assert "'status'" in found.problem and "'account_id'" in found.problem


def _moodle_rows(count: int = 40) -> list[list[str]]:
    with real("moodle_course_activity_log.csv").open(encoding="utf-8", newline="") as fh:
        return [row for _, row in zip(range(count + 1), csv.reader(fh), strict=False)]


def _csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("encoding", "bom", "expected"),
    [
        ("utf-16-le", b"\xff\xfe", "utf-16"),
        ("utf-16-be", b"\xfe\xff", "utf-16"),
        ("utf-16-le", b"", "utf-16-le"),
        ("utf-16-be", b"", "utf-16-be"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
    ],
)
def test_utf16_and_byte_order_marks_are_read_as_what_they_are(
    tmp_path: Path, encoding: str, bom: bytes, expected: str
) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(bom + _csv_text(_moodle_rows(), "\t").encode(encoding))
    found = recognise(path)
    assert (found.format, found.encoding, found.delimiter) == ("moodle-log", expected, "\t")
    assert found.problem is None


@pytest.mark.parametrize(
    ("text", "flag"),
    [("José Núñez", "latin-1"), ("“José” Núñez", "cp1252")],
)
def test_a_file_that_is_not_utf8_says_which_encoding_it_looks_like(
    tmp_path: Path, text: str, flag: str
) -> None:
    rows = _moodle_rows(5)
    for row in rows[1:]:
        row[2] = text
    path = tmp_path / "log.csv"
    path.write_bytes(_csv_text(rows).encode("cp1252"))
    found = recognise(path)
    assert found.format is None
    assert "this file is not UTF-8" in (found.problem or "")
    assert f"pass --encoding {flag}" in (found.problem or "")
    told = recognise(path, encoding=flag)
    assert told.format == "moodle-log" and told.problem is None


@pytest.mark.parametrize(("delimiter", "word"), [(";", "semicolon"), ("\t", "tab"), (",", None)])
def test_the_delimiter_is_found_and_named(tmp_path: Path, delimiter: str, word: str | None) -> None:
    path = tmp_path / "log.csv"
    path.write_text(_csv_text(_moodle_rows(), delimiter), encoding="utf-8")
    found = recognise(path)
    assert found.format == "moodle-log" and found.delimiter == delimiter
    assert any(word in n for n in found.notes) if word else not found.notes


def test_a_headerless_file_is_reported_not_read(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(_csv_text(_moodle_rows()[1:]), encoding="utf-8")
    found = recognise(path)
    assert found.format is None
    assert "first row looks like data" in (found.problem or "")
    assert "'11 May, 09:44'" in (found.problem or "") or "is a time" in (found.problem or "")


def test_a_header_shuffled_against_its_data_is_reported(tmp_path: Path) -> None:
    # The case: user names read from the Origin column ('web', 'ws').
    rows = _moodle_rows()
    header = rows[0]
    i, j = header.index("User full name"), header.index("Origin")
    header[i], header[j] = header[j], header[i]
    path = tmp_path / "log.csv"
    path.write_text(_csv_text(rows), encoding="utf-8")
    found = recognise(path)
    assert found.format == "moodle-log" and found.problem is not None
    assert "header does not match its data" in found.problem
    assert "'Origin'" in found.problem and "'User full name'" in found.problem


def test_canvas_data_flat_files_are_recognised_by_their_shape(tmp_path: Path) -> None:
    folder = tmp_path / "user_dim"
    folder.mkdir()
    path = folder / "part-00000"
    path.write_text(
        "".join(
            f"{1000 + i}\t{i}\t17\tLearner {i}\tAmerica/Denver\t2017-01-0{i + 1} 10:00:00.000\t"
            "\\N\t\\N\t\\N\tfemale\t\\N\tfalse\n"
            for i in range(5)
        ),
        encoding="utf-8",
    )
    found = recognise(path)
    assert (found.format, found.kind, found.delimiter) == ("canvas-data", "user_dim", "\t")


@pytest.mark.parametrize("content", [b"", b"   \n\r\n  \n"])
def test_an_empty_file_is_empty(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    found = recognise(path)
    assert found.format is None and "is empty" in (found.problem or "")


def test_gzip_is_looked_through_and_archives_are_containers(tmp_path: Path) -> None:
    plain = real("more/openedx/utpl_tracking.log").read_bytes()
    packed = tmp_path / "tracking.log-20161116.gz"
    packed.write_bytes(gzip.compress(plain))
    found = recognise(packed)
    assert (found.format, found.compressed) == ("openedx", True)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("tracking.log", plain)
    assert recognise(archive).format == "zip"


def test_json_is_told_apart_by_its_records(tmp_path: Path) -> None:
    statement = {
        "id": "s1",
        "actor": {"account": {"name": "u1", "homePage": "https://lms"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "https://lms/course/1"},
        "timestamp": "2024-01-01T10:00:00Z",
    }
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"statements": [statement], "more": ""}), encoding="utf-8")
    array = tmp_path / "array.json"
    array.write_text(json.dumps([statement, statement], indent=2), encoding="utf-8")
    sns = tmp_path / "sns.json"
    inner = {"notificationType": "Delivery", "mail": {"messageId": "m"}, "delivery": {}}
    sns.write_text(json.dumps({"Type": "Notification", "Message": json.dumps(inner)}))
    other = tmp_path / "other.jsonl"
    other.write_text('{"a": 1, "b": 2}\n{"a": 3, "b": 4}\n', encoding="utf-8")
    assert (recognise(page).format, recognise(page).kind) == ("xapi", "lrs-page")
    assert (recognise(array).format, recognise(array).kind) == ("xapi", "array")
    assert recognise(sns).format == "ses"
    unknown = recognise(other)
    assert unknown.format is None and "keys a, b" in (unknown.problem or "")


def test_a_file_given_as_another_format_gets_what_it_looks_like() -> None:
    found = recognise(real("more/openedx/utpl_tracking.log"))
    assert mismatch("xapi", found) == (
        "this looks like an Open edX tracking log (JSON lines), not xAPI statements"
    )
    assert mismatch("openedx", found) is None
    nothing = Recognition(path=Path("x"), format=None, label="a file Gapdesk does not know")
    assert mismatch("xapi", nothing) is None
