"""Any CSV plus a TOML mapping file; suggestions for building one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.core.errors import UserError
from app.sources.load import load_snapshot
from app.sources.mapping import (
    SnapshotMapping,
    TableMapping,
    apply_table_mapping,
    dump_mapping,
    import_mapped_csv,
    load_mapping,
    parse_mapping,
    preview_mapping,
    suggest_mapping,
)
from tests.app.sources.conftest import SnapshotMaker

HR_EXPORT = (
    "Employee ID;E-mail;Name;Dept;Position;Reports to;State;Start date;Leaving date;Badge\n"
    "0042;ann@example.org;Ann Lee;Sales;Rep;;Active;15/01/2024;;A1\n"
    "0043;bob@example.org;Bob Roe;Sales;Manager;0042;On leave;02/05/2023;;B2\n"
    "0044;cy@example.org;Cy Poe;IT;Dev;;Gone;01/02/2022;01/10/2026;C3\n"
)

MAPPING = """
invalid_rows = "quarantine"

[people]
file = "hr_export.csv"
delimiter = ";"

[people.columns]
"Employee ID" = "person_id"
"E-mail" = "email"
"Name" = "full_name"
"Dept" = "department"
"Position" = "job_title"
"Reports to" = "manager_person_id"
"State" = "employment_status"
"Start date" = "hire_date"
"Leaving date" = "termination_date"

[people.values.employment_status]
"Active" = "active"
"On leave" = "leave"
"Left" = "terminated"

[people.formats]
hire_date = "%d/%m/%Y"
termination_date = "%d/%m/%Y"
"""


def test_mapping_file_brings_an_hr_export_in(make_snapshot: SnapshotMaker, tmp_path: Path) -> None:
    folder = make_snapshot({"people": None})
    (folder / "hr_export.csv").write_text(HR_EXPORT, encoding="utf-8")
    mapping_file = tmp_path / "hr.toml"
    mapping_file.write_text(MAPPING, encoding="utf-8")
    result = load_snapshot(folder, mapping=mapping_file)
    snap = result.raise_if_rejected()  # quarantine comes from invalid_rows in the mapping
    people = snap["people"]
    assert people["person_id"].tolist() == ["0042", "0043"]
    assert people["employment_status"].tolist() == ["active", "leave"]
    assert people["hire_date"].tolist() == [
        pd.Timestamp("2024-01-15T00:00Z"),
        pd.Timestamp("2023-05-02T00:00Z"),
    ]
    assert people["Badge"].tolist() == ["A1", "B2"]  # unmapped columns are kept
    held = result.quarantined["people"]
    assert held["_reasons"].tolist() == ["unknown_enum: employment_status=Gone"]
    assert result.files["people"] == "hr_export.csv"


def test_mapping_constants_fill_missing_columns(make_snapshot: SnapshotMaker) -> None:
    export = "id,title,compliance\nC1,Fire safety,yes\nC2,Excel,no\nC3,Old,no\n"
    folder = make_snapshot({"courses": None})
    (folder / "course_export.csv").write_text(export, encoding="utf-8")
    mapping = parse_mapping(
        {
            "courses": {
                "file": "course_export.csv",
                "columns": {"id": "course_id", "compliance": "is_compliance"},
                "constants": {
                    "status": "active",
                    "department": "",
                    "owner_user_id": "",
                    "due_days": "",
                    "grading_sla_days": "",
                },
            }
        }
    )
    snap = load_snapshot(folder, mapping=mapping).raise_if_rejected()
    courses = snap["courses"]
    assert courses["status"].tolist() == ["active"] * 3
    assert courses["is_compliance"].tolist() == [True, False, False]
    assert courses["owner_user_id"].isna().all() and courses["due_days"].isna().all()


def test_mapping_without_a_needed_column_names_it(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot({"courses": None})
    (folder / "course_export.csv").write_text("id,title\nC1,Fire safety\n", encoding="utf-8")
    mapping = parse_mapping(
        {"courses": {"file": "course_export.csv", "columns": {"id": "course_id"}}}
    )
    result = load_snapshot(folder, mapping=mapping)
    problems = result.report.problems
    assert set(problems["rule"]) == {"missing_column"}
    assert set(problems["file"]) == {"course_export.csv"}
    assert "is_compliance" in set(problems["column"])
    frame = apply_table_mapping(
        pd.read_csv(folder / "course_export.csv", dtype=str), mapping.tables["courses"]
    )
    assert frame.columns.tolist() == ["course_id", "title"]


def test_mapping_format_that_does_not_match_is_a_wrong_type(
    make_snapshot: SnapshotMaker, tmp_path: Path
) -> None:
    folder = make_snapshot({"people": None})
    (folder / "hr_export.csv").write_text(HR_EXPORT.replace("15/01/2024", "2024-01-15"), "utf-8")
    mapping_file = tmp_path / "hr.toml"
    mapping_file.write_text(MAPPING.replace('invalid_rows = "quarantine"', ""), "utf-8")
    result = load_snapshot(folder, mapping=mapping_file)
    problems = result.report.problems
    assert not result.accepted
    # A file the mapping named is never quoted: the row and column say where, not what.
    assert problems[["row", "column", "value", "rule"]].values.tolist() == [
        [2, "hire_date", None, "wrong_type"],
        [4, "employment_status", None, "unknown_enum"],
    ]
    assert problems["file"].tolist() == ["hr_export.csv", "hr_export.csv"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('invalid_rows = "ignore"', "invalid_rows = 'ignore'"),
        ("[staff]\n", r"\[staff\] is not a contract table"),
        (
            '[people.columns]\n"ID" = "employee_number"\n',
            "'employee_number', which is not a column",
        ),
        ('[people.columns]\n"A" = "email"\n"B" = "email"\n', "several source columns onto email"),
        ("[people\n", "not valid TOML"),
        ('[people]\ndelimiter = ";;"\n', "one character"),
    ],
)
def test_bad_mapping_files(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        load_mapping(path)


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_mapping(tmp_path / "nope.toml")


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    mapping = SnapshotMapping(
        tables={
            "people": TableMapping(
                table="people",
                columns={'Weird "name"': "person_id", "Mail": "email"},
                values={"employment_status": {"Actif": "active", "Parti": "terminated"}},
                formats={"hire_date": "%d.%m.%Y"},
                constants={"department": "Unknown"},
                file="hr.csv",
                delimiter=";",
            )
        },
        invalid_rows="quarantine",
    )
    path = tmp_path / "m.toml"
    path.write_text(dump_mapping(mapping), encoding="utf-8")
    assert load_mapping(path) == mapping


def test_import_mapped_csv(tmp_path: Path) -> None:
    source = tmp_path / "hr_export.csv"
    source.write_text(HR_EXPORT, encoding="utf-8")
    mapping_file = tmp_path / "hr.toml"
    mapping_file.write_text(MAPPING, encoding="utf-8")
    result = import_mapped_csv(source, mapping_file)
    frame = result.tables["people"]
    assert frame["person_id"].tolist() == ["0042", "0043", "0044"]
    assert frame["employment_status"].tolist() == ["active", "leave", "Gone"]
    assert result.report.counts == {"people rows": 3}


def test_suggest_mapping_by_names_and_values() -> None:
    columns = ["Employee ID", "E-mail", "Full Name", "Dept", "Job", "State", "Start", "Notes"]
    samples = {
        "Employee ID": ["0042", "0043"],
        "E-mail": ["ann@example.org", "bob@example.org"],
        "Full Name": ["Ann Lee", "Bob Roe"],
        "Dept": ["Sales", "IT"],
        "Job": ["Rep", "Dev"],
        "State": ["active", "leave", "Active"],
        "Start": ["2024-01-15", "2023-05-02"],
        "Notes": ["likes tea", ""],
    }
    suggestions = suggest_mapping(columns, samples, "people")
    chosen = {source: s.target for source, s in suggestions.items()}
    assert chosen["Employee ID"] == "person_id"
    assert chosen["E-mail"] == "email"
    assert chosen["Full Name"] == "full_name"
    assert chosen["Dept"] == "department"
    assert chosen["State"] == "employment_status"
    assert chosen["Start"] == "hire_date"
    assert "Notes" not in chosen
    assert len(set(chosen.values())) == len(chosen)  # each contract column used once
    assert all(0 <= s.score <= 1 and s.reason for s in suggestions.values())


def test_suggest_mapping_lets_values_veto_a_name() -> None:
    # "status" looks like employment_status by name, but these values are not its enum.
    suggestions = suggest_mapping(["status"], {"status": ["purple", "green"]}, "people")
    assert "status" not in suggestions


def test_preview_shows_mapped_rows_and_this_tables_problems() -> None:
    frame = pd.read_csv(pd.io.common.StringIO(HR_EXPORT), sep=";", dtype=str)
    mapping = load_mapping_text(MAPPING)
    head, report = preview_mapping(frame, mapping.tables["people"], rows=2)
    assert head["person_id"].tolist() == ["0042", "0043"]
    assert report.counts_by_rule() == {"unknown_enum": 1}
    assert report.iter_problems()[0].file == "hr_export.csv"


def load_mapping_text(text: str) -> SnapshotMapping:
    import tomllib

    return parse_mapping(tomllib.loads(text))
