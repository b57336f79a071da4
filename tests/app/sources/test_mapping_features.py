"""Mapping files people can write: templates, row filters, headerless files, null tokens, day
offsets, and the warning when a source column shadows a constant (issue 13, item 5)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from app.core.errors import UserError
from app.sources.load import load_snapshot
from app.sources.mapping import dump_mapping, map_table, parse_mapping, preview_mapping
from tests.app.sources.conftest import SnapshotMaker

COURSES = "id,module,pres,title\n1,AAA,2013J,Alpha\n2,BBB,2014B,Beta\n3,CCC,,Gamma\n"


def _courses(**section: Any) -> dict[str, Any]:
    constants = {"is_compliance": "no", "status": "active"}
    return {"courses": {"file": "export.csv", "constants": constants, **section}}


def _frame(text: str) -> pd.DataFrame:
    rows = [line.split(",") for line in text.strip().splitlines()]
    return pd.DataFrame(rows[1:], columns=rows[0], dtype="str").replace("", pd.NA)


def test_templates_join_columns_and_leave_a_gap_where_a_part_is_empty() -> None:
    mapping = parse_mapping(
        _courses(templates={"course_id": "{module}-{pres}", "title": "{{{title}}} {module}"})
    )
    mapped = map_table(_frame(COURSES), mapping.tables["courses"]).frame
    assert mapped["course_id"].tolist()[:2] == ["AAA-2013J", "BBB-2014B"]
    assert pd.isna(mapped["course_id"].iloc[2])  # no presentation: no half-made id
    assert mapped["title"].tolist() == ["{Alpha} AAA", "{Beta} BBB", "{Gamma} CCC"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{module-{pres}", r"the '\{' at character 1 has no matching '\}'"),
        ("module}", r"the '\}' at character 7 closes nothing"),
        ("fixed", r"names no \{column\}; a fixed value belongs in \[constants\]"),
        ("{}", r"'\{\}' at character 1 names no column"),
    ],
)
def test_a_bad_template_is_refused_naming_table_and_column(template: str, message: str) -> None:
    with pytest.raises(UserError, match=r"^m: \[courses.templates\] course_id: .*" + message):
        parse_mapping(_courses(templates={"course_id": template}), origin="m")


def test_a_template_naming_a_column_the_file_lacks_is_a_missing_column(
    make_snapshot: SnapshotMaker,
) -> None:
    folder = make_snapshot({"courses": None})
    (folder / "export.csv").write_text(COURSES, encoding="utf-8")
    mapping = parse_mapping(_courses(templates={"course_id": "{module}-{presentation}"}))
    result = load_snapshot(folder, mapping=mapping)
    assert not result.accepted
    problem = result.report.iter_problems()[0]
    assert (problem.file, problem.column, problem.rule) == ("export.csv", "course_id",
                                                            "missing_column")  # fmt: skip
    assert "needs source column 'presentation'" in problem.message


@pytest.mark.parametrize(
    ("rule", "kept"),
    [
        ({"column": "module", "equals": "AAA"}, ["1"]),
        ({"column": "module", "not_equals": "AAA"}, ["2", "3"]),
        ({"column": "module", "in": ["AAA", "CCC"]}, ["1", "3"]),
        ({"column": "pres", "not_in": ["2013J"]}, ["2", "3"]),  # an empty cell is not in
        ({"column": "pres", "in": ["2013J", "2014B"]}, ["1", "2"]),
        ({"column": "pres", "matches": "20\\d\\d[BJ]"}, ["1", "2"]),
        ({"column": "title", "matches": "(?i)b.*"}, ["2"]),
    ],
)
def test_row_filters_keep_the_rows_that_pass(rule: dict[str, Any], kept: list[str]) -> None:
    mapping = parse_mapping(_courses(filters=[rule], columns={"id": "course_id"}))
    mapped = map_table(_frame(COURSES), mapping.tables["courses"])
    assert mapped.frame["course_id"].tolist() == kept
    assert f"kept {len(kept)} of 3 row(s)" in mapped.warnings[0]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"column": "a"}, "needs exactly one of equals, not_equals, in, not_in, matches"),
        ({"column": "a", "in": "x"}, "in must be a list of text values"),
        ({"column": "a", "equals": "x", "in": ["y"]}, "needs exactly one of"),
        ({"column": "a", "matches": "(unclosed"}, "is not a regular expression Gapdesk can use"),
        ({"column": "a", "matches": "(a)\\1"}, "is not a regular expression Gapdesk can use"),
        ({"in": ["x"]}, 'needs column = "<source column>"'),
        ({"column": "a", "contains": "x"}, "unknown key 'contains'"),
    ],
)
def test_a_bad_filter_is_refused(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=r"^m: \[courses\] filter 1") as caught:
        parse_mapping(_courses(filters=[rule]), origin="m")
    assert message in str(caught.value)


def test_a_backtracking_pattern_on_a_long_cell_returns() -> None:
    """RE2 is linear: the classic catastrophic pattern on 100,000 characters is quick."""
    frame = pd.DataFrame({"id": ["1"], "module": ["a" * 100_000 + "!"], "title": ["t"]})
    mapping = parse_mapping(_courses(filters=[{"column": "module", "matches": "(a+)+$"}]))
    assert map_table(frame, mapping.tables["courses"]).frame.empty


def test_problems_after_a_filter_name_the_files_own_rows(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot({"courses": None})
    export = (
        "id,kind,title,compliance\nC1,course,Safety,yes\nX,folder,-,-\nC2,course,Excel,perhaps\n"
    )
    (folder / "export.csv").write_text(export, encoding="utf-8")
    mapping = parse_mapping(
        {"courses": {"file": "export.csv", "filters": [{"column": "kind", "equals": "course"}],
                     "columns": {"id": "course_id", "compliance": "is_compliance"},
                     "constants": {"status": "active"}}, "invalid_rows": "quarantine"}
    )  # fmt: skip
    result = load_snapshot(folder, mapping=mapping)
    problems = result.report.problems[result.report.problems["table"] == "courses"]
    assert problems[["row", "column", "rule"]].values.tolist() == [
        [4, "is_compliance", "wrong_type"]  # line 4 of the file, not the 3rd row kept
    ]
    assert result.quarantined["courses"]["_row"].tolist() == [4]


def test_null_tokens_per_file_and_per_column(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot({"courses": None})
    export = "id,title,dept,owner,sla\nC1,Safety,NULL,-,\\N\nC2,-,IT,u1,5\n"
    (folder / "export.csv").write_text(export, encoding="utf-8")
    mapping = parse_mapping(
        _courses(nulls=["\\N", "NULL"], column_nulls={"owner": ["-"]},
                 columns={"id": "course_id", "dept": "department", "owner": "owner_user_id",
                          "sla": "grading_sla_days"})
    )  # fmt: skip
    courses = load_snapshot(folder, mapping=mapping).raise_if_rejected()["courses"]
    assert courses["department"].isna().tolist() == [True, False]
    assert courses["owner_user_id"].isna().tolist() == [True, False]
    assert courses["title"].tolist() == ["Safety", "-"]  # "-" is empty only in owner
    assert courses["grading_sla_days"].isna().tolist() == [True, False]


HEADERLESS = "C1\tSafety\tyes\nC2\tExcel\t\\N\n"


def test_a_headerless_file_takes_the_mappings_column_names(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot({"courses": None})
    (folder / "courses.txt").write_text(HEADERLESS, encoding="utf-8")
    mapping = parse_mapping(
        {"courses": {"file": "courses.txt", "delimiter": "\t", "nulls": ["\\N"],
                     "column_names": ["id", "name", "mandatory"],
                     "columns": {"id": "course_id", "name": "title", "mandatory": "is_compliance"},
                     "constants": {"status": "active"}}}
    )  # fmt: skip
    result = load_snapshot(folder, mapping=mapping)
    assert not result.accepted  # the \N in a required column is on the file's line 2
    assert result.report.problems[["row", "column", "rule"]].values.tolist() == [
        [2, "is_compliance", "missing_value"]
    ]
    (folder / "courses.txt").write_text(HEADERLESS.replace("\\N", "no"), encoding="utf-8")
    courses = load_snapshot(folder, mapping=mapping).raise_if_rejected()["courses"]
    assert courses["course_id"].tolist() == ["C1", "C2"]  # the first line is data


def test_a_column_list_that_does_not_fit_the_file_is_a_clear_problem(
    make_snapshot: SnapshotMaker,
) -> None:
    folder = make_snapshot({"courses": None})
    (folder / "courses.txt").write_text(HEADERLESS, encoding="utf-8")
    mapping = parse_mapping(
        {"courses": {"file": "courses.txt", "delimiter": "\t", "column_names": ["id", "name"]}}
    )
    result = load_snapshot(folder, mapping=mapping)
    assert "has 3 column(s) but column_names lists 2" in result.report.render()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"column_names": ["a", "a"]}, "column_names names 'a' more than once"),
        ({"column_names": "a,b"}, "column_names must be a list of column names"),
        ({"column_names": ["a"], "columns": {"b": "title"}}, "reads column 'b', which column_"),
        ({"nulls": [1]}, "nulls must be a list of text values"),
        ({"template": {"title": "{a}"}}, "has an unknown key 'template'"),
        ({"columns": {"a": "title"}, "templates": {"title": "{b}"}},
         "courses.title is filled by both [courses.columns] and [courses.templates]"),
        ({"constants": {"title": "x"}, "templates": {"title": "{b}"}}, "filled by both"),
    ],
)  # fmt: skip
def test_bad_table_keys_are_refused_by_name(section: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_mapping({"courses": section}, origin="m")
    assert message in str(caught.value)


ANCHORS = {"2013J": "2013-10-01", "2014B": "2014-02-01"}


def test_day_offsets_count_from_one_anchor_or_one_per_presentation() -> None:
    frame = _frame("id,pres,start,length\nA,2013J,0,268\nB,2014B,-3,234\n")
    mapping = parse_mapping(
        _courses(columns={"id": "course_id"},
                 day_offsets={"starts_at": {"column": "start", "anchor": "2013-10-01"},
                              "ends_at": {"column": "length", "by": "pres", "anchors": ANCHORS}})
    )  # fmt: skip
    mapped = map_table(frame, mapping.tables["courses"])
    assert mapped.frame["starts_at"].tolist() == ["2013-10-01T00:00:00Z", "2013-09-28T00:00:00Z"]
    assert mapped.frame["ends_at"].tolist() == ["2014-06-26T00:00:00Z", "2014-09-23T00:00:00Z"]
    assert mapped.problems == []


def test_days_that_are_not_whole_or_lack_an_anchor_name_the_row(
    make_snapshot: SnapshotMaker,
) -> None:
    folder = make_snapshot({"courses": None})
    export = "id,pres,length\nA,2013J,268\nB,2014B,12.5\nC,2015J,100\nD,2014B,\n"
    (folder / "export.csv").write_text(export, encoding="utf-8")
    mapping = parse_mapping(
        _courses(columns={"id": "course_id"}, templates={"title": "{id}"},
                 day_offsets={"ends_at": {"column": "length", "by": "pres", "anchors": ANCHORS}})
    )  # fmt: skip
    result = load_snapshot(folder, mapping=mapping)
    problems = [p for p in result.report.iter_problems() if p.table == "courses"]
    assert [(p.row, p.column, p.rule) for p in problems] == [
        (3, "ends_at", "wrong_type"),
        (4, "ends_at", "unknown_enum"),
    ]
    assert problems[0].message == "length is not a whole number of days"
    assert problems[1].message == "no anchor date for this pres; add it under anchors"
    assert all(p.value is None for p in problems)  # a named file is not quoted


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        ({"column": "d"}, "needs either anchor"),
        ({"column": "d", "anchor": "2013-10-01", "by": "p"}, "needs either anchor"),
        ({"column": "d", "anchor": "first of October"}, "is not an ISO 8601 date"),
        ({"column": "d", "by": "p"}, "anchors must be a table"),
        ({"column": "d", "by": "p", "anchors": {"2013J": "soon"}}, "anchors.2013J: 'soon'"),
        ({"column": "d", "anchor": "2013-10-01", "days": 3}, "unknown key 'days'"),
    ],
)
def test_a_bad_day_offset_is_refused(offset: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=r"^m: \[courses.day_offsets\] starts_at") as caught:
        parse_mapping({"courses": {"day_offsets": {"starts_at": offset}}}, origin="m")
    assert message in str(caught.value)


def test_day_offsets_are_for_date_columns_only() -> None:
    with pytest.raises(UserError, match="due_days is a int column; day offsets make dates"):
        parse_mapping({"courses": {"day_offsets": {"due_days": {"anchor": "2013-10-01"}}}})
    with pytest.raises(UserError, match="has both a day offset and a format"):
        parse_mapping({"courses": {"day_offsets": {"starts_at": {"anchor": "2013-10-01"}},
                                   "formats": {"starts_at": "%d/%m/%Y"}}})  # fmt: skip


def test_a_constant_shadowed_by_a_source_column_is_reported(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot({"courses": None})
    export = (
        "id,title,is_compliance,status,department\nC1,Safety,yes,active,\nC2,Excel,no,active,\n"
    )
    (folder / "export.csv").write_text(export, encoding="utf-8")
    mapping = parse_mapping(
        {"courses": {"file": "export.csv", "columns": {"id": "course_id"},
                     "constants": {"department": "Sales"}}}
    )  # fmt: skip
    result = load_snapshot(folder, mapping=mapping)
    courses = result.raise_if_rejected()["courses"]
    assert courses["department"].isna().all()  # the source's (empty) column is what it says
    assert (
        "export.csv: the constant department = 'Sales' is not used: the source has a column "
        "department (2 of 2 cells empty), whose values are used instead"
    ) in result.report.render()


def test_a_mapping_with_every_feature_survives_dump_and_load() -> None:
    mapping = parse_mapping(
        {"invalid_rows": "quarantine",
         "enrollments": {
             "file": "reg.txt", "delimiter": "\t", "column_names": ["m", "p", "s", "d", "w"],
             "nulls": ["\\N", "?"], "column_nulls": {"w": ["-"]},
             "filters": [{"column": "p", "matches": "2014[BJ]"}, {"column": "m", "in": ["A"]},
                         {"column": "s", "not_equals": "0"}],
             "columns": {"s": "user_id"},
             "templates": {"enrollment_id": "{m}-{p}-{s}", "course_id": "{m}-{{{p}}}"},
             "day_offsets": {"enrolled_at": {"column": "d", "by": "p", "anchors": ANCHORS},
                             "withdrawn_at": {"column": "w", "anchor": "2014-02-01"}},
             "constants": {"source": "self", "status": "enrolled"}}}
    )  # fmt: skip
    text = dump_mapping(mapping)
    again = parse_mapping(tomllib.loads(text))
    assert again == mapping and dump_mapping(again) == text


def test_the_preview_shows_warnings_and_the_samples_own_rows() -> None:
    frame = _frame("id,kind,title,compliance\nC1,x,Safety,yes\nC2,course,Excel,perhaps\n")
    mapping = parse_mapping(
        {"courses": {"filters": [{"column": "kind", "equals": "course"}],
                     "columns": {"id": "course_id", "compliance": "is_compliance"},
                     "constants": {"status": "active"}}}
    )  # fmt: skip
    preview, report = preview_mapping(frame, mapping.tables["courses"])
    assert preview["course_id"].tolist() == ["C2"]
    assert report.problems["row"].tolist() == [3]
    assert "kept 1 of 2 row(s)" in report.warnings[0]


def test_a_bad_mapping_reads_nothing(make_snapshot: SnapshotMaker, tmp_path: Path) -> None:
    folder = make_snapshot()
    bad = tmp_path / "bad.toml"
    bad.write_text('[courses.templates]\ncourse_id = "{id"\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"^bad.toml: \[courses.templates\] course_id"):
        load_snapshot(folder, mapping=bad)
