"""Mapping features on real exports from ../shared/data (read there, copied only into tmp folders
for the run, never into the project; skipped when absent): Instructure's documented Canvas SIS
samples and test fixture, and Moodle's own user-upload example."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from app.sources.load import load_snapshot
from app.sources.mapping import map_table, parse_mapping
from tests.app.sources.conftest import SHARED_LMS

MORE = SHARED_LMS / "more"


def real(name: str) -> Path:
    path = MORE / name
    if not path.exists():
        pytest.skip(f"{path} is absent (real exports are read from ../shared, never copied)")
    return path


def _folder(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "snapshot"
    folder.mkdir()
    for name in names:
        shutil.copy(real(name), folder / Path(name).name)
    (folder / "snapshot.toml").write_text('as_of = "2026-11-27T00:00:00Z"\n', encoding="utf-8")
    return folder


CANVAS_COURSES = {
    "file": "sis_csv_doc_sample_courses.csv",
    "columns": {"long_name": "title"},
    "constants": {"is_compliance": "no"},
}


def test_canvas_sis_samples_go_in_with_templates(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path, "canvas/sis_csv_doc_sample_users.csv", "canvas/sis_csv_doc_sample_courses.csv"
    )
    mapping = parse_mapping(
        {"lms_users": {"file": "sis_csv_doc_sample_users.csv",
                       "templates": {"full_name": "{first_name} {last_name}"}},
         "courses": CANVAS_COURSES}
    )  # fmt: skip
    tables = load_snapshot(folder, mapping=mapping).raise_if_rejected().tables
    assert tables["lms_users"]["full_name"].tolist() == ["Bob Smith", "John Doe", "Peggy Sue"]
    assert tables["lms_users"]["user_id"].tolist() == ["01103", "13834", "13aa3"]
    assert tables["courses"]["title"].tolist()[1] == "Biology 300: Rocking it, Bio Style"


def test_canvas_sis_enrolments_filtered_to_students_with_a_joined_id() -> None:
    frame = pd.read_csv(
        real("canvas/sis_csv_doc_sample_enrollments.csv"), dtype=str, keep_default_na=False
    )
    mapping = parse_mapping(
        {"enrollments": {"filters": [{"column": "role", "in": ["student"]}],
                         "templates": {"enrollment_id": "{course_id}-{section_id}-{user_id}"},
                         "values": {"status": {"active": "enrolled"}},
                         "constants": {"source": "manual"}}}
    )  # fmt: skip
    mapped = map_table(frame, mapping.tables["enrollments"])
    assert mapped.frame["enrollment_id"].tolist() == ["E411208-1B-01103", "E411208-2A-13834"]
    assert mapped.frame["status"].tolist() == ["enrolled", "enrolled"]
    assert mapped.file_rows.tolist() == [2, 3]  # the teacher on line 4 is filtered out
    assert "kept 2 of 3 row(s)" in mapped.warnings[0]


def test_canvas_fixture_users_without_the_deleted_ones(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        "canvas/canvas-lms_spec_fixtures_sis_users_utf.csv",
        "canvas/sis_csv_doc_sample_courses.csv",
    )
    mapping = parse_mapping(
        {"lms_users": {"file": "canvas-lms_spec_fixtures_sis_users_utf.csv",
                       "filters": [{"column": "status", "not_equals": "deleted"}],
                       "templates": {"full_name": "{first_name} {last_name}"}},
         "courses": CANVAS_COURSES}
    )  # fmt: skip
    result = load_snapshot(folder, mapping=mapping)
    users = result.raise_if_rejected()["lms_users"]
    assert len(users) == 3 and set(users["status"]) == {"active"}
    assert users["full_name"].str.len().gt(0).all()  # accented names joined as they are
    assert any("kept 3 of 8 row(s)" in w for w in result.report.warnings)


def test_moodles_user_upload_example_as_lms_users(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        "moodle_users/moodle_core_admin_tool_uploaduser_example.csv",
        "canvas/sis_csv_doc_sample_courses.csv",
    )
    mapping = parse_mapping(
        {"lms_users": {"file": "moodle_core_admin_tool_uploaduser_example.csv",
                       "columns": {"username": "user_id"},
                       "templates": {"full_name": "{firstname} {lastname}"},
                       "constants": {"status": "active"}},
         "courses": CANVAS_COURSES}
    )  # fmt: skip
    users = load_snapshot(folder, mapping=mapping).raise_if_rejected()["lms_users"]
    assert users["full_name"].tolist() == ["Student One", "Student Two", "Student Three"]
    assert users["email"].tolist()[0] == "s1@example.com"
