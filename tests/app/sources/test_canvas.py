"""Canvas SIS enrollments.csv → contract enrollments."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.core.errors import UserError
from app.sources.canvas import import_canvas_enrollments

SIS = (
    "course_id,root_account,start_date,end_date,user_id,user_integration_id,role,role_id,"
    "section_id,status,associated_user_id,limit_section_privileges,notify\n"
    "C1,,2026-01-05T00:00:00Z,,007,,student,,,active,,,\n"
    "C1,,,,T1,,teacher,,,active,,,\n"
    "C2,,,2026-03-01T12:00:00Z,009,,student,,S1,completed,,,\n"
    ",,,,010,,student,,S9,deleted,,,\n"
    "C3,,,,011,,Student,,,on_hold,,,\n"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "enrollments.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_sis_enrollments_become_contract_enrollments(tmp_path: Path) -> None:
    result = import_canvas_enrollments(write(tmp_path, SIS), enrolled_at="2026-01-01")
    frame = result.tables["enrollments"]
    assert frame["enrollment_id"].tolist() == [
        "canvas:C1:007:student",
        "canvas:C2:009:student:S1",
        "canvas:S9:010:student:S9",
        "canvas:C3:011:student",
    ]
    assert frame["user_id"].tolist() == ["007", "009", "010", "011"]  # ids stay strings
    assert frame["status"].tolist() == ["enrolled", "completed", "withdrawn", "on_hold"]
    assert set(frame["source"]) == {"hr_sync"}
    assert frame["enrolled_at"].tolist()[:2] == [
        pd.Timestamp("2026-01-05T00:00Z"),
        pd.Timestamp("2026-01-01T00:00Z"),
    ]
    assert frame["completed_at"].iloc[1] == pd.Timestamp("2026-03-01T12:00Z")
    counts = result.report.counts
    assert counts["skipped role: teacher"] == 1 and counts["enrollments"] == 4
    warnings = " ".join(result.report.warnings)
    assert "section" in warnings and "'on_hold'" in warnings and "no end_date" in warnings


def test_without_dates_it_says_validation_will_reject(tmp_path: Path) -> None:
    result = import_canvas_enrollments(write(tmp_path, SIS))
    assert result.tables["enrollments"]["enrolled_at"].isna().sum() == 3
    assert any("pass enrolled_at=" in w for w in result.report.warnings)


def test_provisioning_report_shape(tmp_path: Path) -> None:
    text = (
        "canvas_course_id,course_id,canvas_user_id,user_id,role,status,created_by_sis,"
        "created_at\n"
        "101,,501,,student,active,false,2026-02-01T09:00:00Z\n"
        "102,SIS-2,502,SIS-U2,student,invited,true,2026-02-02T09:00:00Z\n"
    )
    frame = import_canvas_enrollments(write(tmp_path, text)).tables["enrollments"]
    assert frame["course_id"].tolist() == ["101", "SIS-2"]
    assert frame["user_id"].tolist() == ["501", "SIS-U2"]
    assert frame["source"].tolist() == ["manual", "hr_sync"]
    assert frame["status"].tolist() == ["enrolled", "enrolled"]


def test_not_a_canvas_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"not a Canvas enrollments.csv: .*user_id"):
        import_canvas_enrollments(write(tmp_path, "course_id,role,status\nC1,student,active\n"))


def test_canvas_file_in_wrong_encoding(tmp_path: Path) -> None:
    path = tmp_path / "enrollments.csv"
    path.write_bytes(SIS.replace("C3", "Cé").encode("utf-16"))
    with pytest.raises(UserError, match="not UTF-8"):
        import_canvas_enrollments(path)
