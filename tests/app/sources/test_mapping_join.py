"""Mapping files for exports split over files or repeating a row per course: ``[table.join]``
(a left join of another file of the folder on key columns) and ``unique`` (rows repeating the
table's identifier folded into one). Synthetic edge cases; the real OULAD files are in
test_mapping_oulad.py."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from app.core.errors import UserError
from app.sources.load import LoadResult, load_snapshot
from app.sources.mapping import dump_mapping, map_table, parse_mapping

COURSES = "course_id,title,is_compliance,status\nC1,Safety,no,active\n"
USERS = "id,login\n7,ann\n8,bob\n9,cy\n"
INFO = "id,state,secret\n9,gone,s9\n 7 ,ok,s7\n"


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "snap"
    folder.mkdir()
    (folder / "snapshot.toml").write_text('as_of = "2026-11-27T00:00:00Z"\n', encoding="utf-8")
    (folder / "courses.csv").write_text(COURSES, encoding="utf-8")
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _users(join: Any, **section: Any) -> dict[str, Any]:
    return {
        "lms_users": {
            "file": "users.csv",
            "join": join,
            "columns": {"id": "user_id", "state": "status"},
            "values": {"status": {"ok": "active", "gone": "deleted"}},
            **section,
        }
    }


JOIN = {"file": "info.csv", "on": ["id"], "columns": ["state"]}


def _load(folder: Path, data: dict[str, Any]) -> LoadResult:
    return load_snapshot(folder, mapping=parse_mapping(data))


def test_a_join_brings_the_named_columns_in_on_trimmed_keys_and_keeps_every_row(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path, {"users.csv": USERS, "info.csv": INFO})
    result = _load(folder, _users(JOIN))
    # bob has no row in info.csv: his status stays empty, which the contract refuses
    assert not result.accepted
    problems = result.report.problems
    assert problems[["file", "row", "column", "rule"]].values.tolist() == [
        ["users.csv", 3, "status", "missing_value"]
    ]
    assert "users.csv: joined info.csv on id: 2 of 3 row(s) found their row there; 1 did " \
        "not, so their state are empty" in result.report.warnings  # fmt: skip


def test_joined_rows_in_order_and_only_the_named_columns(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"users.csv": USERS, "info.csv": INFO + "8,ok,s8\n"})
    users = _load(folder, _users(JOIN)).raise_if_rejected().tables["lms_users"]
    assert users["user_id"].tolist() == ["7", "8", "9"]
    assert users["status"].tolist() == ["active", "active", "deleted"]
    assert "secret" not in users.columns  # only the columns named are taken


def test_a_left_join_keeps_rows_without_a_partner(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"users.csv": USERS, "info.csv": INFO})
    mapping = _users(JOIN)
    mapping["lms_users"]["columns"] = {"id": "user_id"}
    mapping["lms_users"]["constants"] = {"status": "active"}
    del mapping["lms_users"]["values"]
    users = _load(folder, mapping).raise_if_rejected().tables["lms_users"]
    assert users["user_id"].tolist() == ["7", "8", "9"]
    assert users["state"].isna().tolist() == [False, True, False]  # kept as an extra column


def test_filters_and_templates_read_joined_columns(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"users.csv": USERS, "info.csv": INFO + "8,ok,s8\n"})
    mapping = _users(JOIN, filters=[{"column": "state", "equals": "ok"}],
                     templates={"email": "{login}.{state}@example.org"})  # fmt: skip
    users = _load(folder, mapping).raise_if_rejected().tables["lms_users"]
    assert users["email"].tolist() == ["ann.ok@example.org", "bob.ok@example.org"]


def test_a_headerless_file_may_be_joined_into(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"users.csv": "7,ann\n9,cy\n", "info.csv": INFO})
    mapping = _users(JOIN, column_names=["id", "login"])
    users = _load(folder, mapping).raise_if_rejected().tables["lms_users"]
    assert users["status"].tolist() == ["active", "deleted"]


def test_a_key_held_twice_in_the_joined_file_is_refused_without_quoting_it(
    tmp_path: Path,
) -> None:
    folder = _folder(
        tmp_path, {"users.csv": USERS, "info.csv": INFO + "8,ok,s8\n8,gone,topsecret\n"}
    )
    result = _load(folder, _users(JOIN))
    assert not result.accepted
    problem = result.report.iter_problems()[0]
    assert (problem.file, problem.rule, problem.row) == ("info.csv", "join_not_unique", 4)
    assert "2 row(s) share their key (id)" in problem.message
    assert problem.value is None
    assert "topsecret" not in str(result.report.render()) and "gone" not in problem.message


@pytest.mark.parametrize(
    ("users", "info", "file", "message"),
    [
        ("uid,login\n7,ann\n", INFO, "users.csv", "needs the key column 'id' in this file"),
        (USERS, "key,state\n7,ok\n", "info.csv", "needs the key column 'id', which this file"),
        (USERS, "id,status\n7,ok\n", "info.csv", "needs the column 'state', which this file"),
        ("id,login,state\n7,ann,x\n", INFO, "users.csv", "takes column 'state', which this "
         "file has too"),
    ],
)  # fmt: skip
def test_a_key_or_column_the_files_lack_is_a_missing_column(
    tmp_path: Path, users: str, info: str, file: str, message: str
) -> None:
    folder = _folder(tmp_path, {"users.csv": users, "info.csv": info})
    result = _load(folder, _users(JOIN))
    assert not result.accepted
    problem = result.report.iter_problems()[0]
    assert (problem.file, problem.rule) == (file, "missing_column")
    assert message in problem.message


def test_nothing_of_a_joined_file_is_quoted(tmp_path: Path) -> None:
    """A joined cell that breaks a rule names row, column and rule, never the cell."""
    folder = _folder(tmp_path, {"users.csv": USERS, "info.csv": "id,state\n7,ok\n8,PASSWORD1\n"})
    result = _load(folder, _users(JOIN))
    assert not result.accepted
    assert result.report.problems["value"].isna().all()
    assert "PASSWORD1" not in result.report.render()


def test_a_joined_file_that_is_not_text_is_named_without_its_content(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"users.csv": USERS})
    (folder / "info.csv").write_bytes(b"id,state\n7,\xff\xfe secret\n")
    result = _load(folder, _users(JOIN))
    problem = result.report.iter_problems()[0]
    assert (problem.file, problem.rule) == ("info.csv", "not_utf8")
    assert "secret" not in problem.message and problem.value is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../info.csv", "names a folder"),
        ("/etc/passwd", "is an absolute path"),
        ("sub/info.csv", "names a folder"),
        (".env", "is a hidden file"),
        ("mapping.toml", "is a TOML file"),
        ("", "is empty"),
    ],
)
def test_a_joined_file_must_be_a_plain_file_of_the_folder(name: str, why: str) -> None:
    with pytest.raises(UserError, match=r"^m: \[lms_users\] join: file = .*" + why):
        parse_mapping(_users({**JOIN, "file": name}), origin="m")


def test_a_joined_link_out_of_the_folder_is_refused_before_any_data_is_read(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("id,state\n7,ok\n", encoding="utf-8")
    folder = _folder(tmp_path, {"users.csv": USERS})
    os.symlink(outside, folder / "info.csv")
    with pytest.raises(UserError, match="is a link that leads out of the snapshot folder"):
        _load(folder, _users(JOIN))


@pytest.mark.parametrize(
    ("join", "message"),
    [
        ("info.csv", "must be a table: file ="),
        ({"file": "info.csv", "on": ["id"]}, "needs 'columns'"),
        ({**JOIN, "how": "inner"}, "unknown key 'how'"),
        ({**JOIN, "on": []}, "on must be a non-empty list of column names"),
        ({**JOIN, "columns": ["state", "id"]}, "'id' is a key column (on) and a column to take"),
        ({**JOIN, "encoding": "rot13"}, "is not a known text encoding"),
        ({**JOIN, "delimiter": ";;"}, "delimiter must be one character"),
        ([JOIN, {**JOIN, "file": "other.csv"}], "column 'state' is taken by more than one join"),
    ],
)
def test_a_wrong_join_is_refused_naming_the_table(join: Any, message: str) -> None:
    with pytest.raises(UserError, match=r"^m: \[lms_users\] join") as caught:
        parse_mapping(_users(join), origin="m")
    assert message in str(caught.value)


def test_several_joins_and_unique_survive_a_round_trip() -> None:
    other = {"file": "x.tsv", "on": ["id", "login"], "columns": ["y"], "delimiter": "\t",
             "encoding": "cp1252"}  # fmt: skip
    mapping = parse_mapping(_users([JOIN, other], unique="last"))
    assert parse_mapping(tomllib.loads(dump_mapping(mapping))) == mapping


REPEATS = pd.DataFrame(
    {
        "id": ["7", "8", "7", "7", None],
        "course": ["A", "A", "B", "C", "A"],  # differs between 7's rows: left out
        "region": ["N", "S", "N", "N", "S"],  # the same for every 7: kept
        "state": ["ok", "ok", "ok", "gone", "ok"],
    }
)


@pytest.mark.parametrize(("keep", "status"), [("first", "active"), ("last", "deleted")])
def test_unique_folds_repeats_of_the_identifier_into_one_row(keep: str, status: str) -> None:
    mapping = parse_mapping(_users(JOIN, unique=keep)).tables["lms_users"]
    mapped = map_table(REPEATS, mapping)
    frame = mapped.frame
    assert frame["user_id"].tolist()[:2] == (["7", "8"] if keep == "first" else ["8", "7"])
    assert frame.set_index("user_id").loc["7", "status"] == status
    assert frame["user_id"].isna().sum() == 1  # an empty id is left for validation to report
    assert "course" not in frame.columns and "region" in frame.columns
    which = "later" if keep == "first" else "earlier"
    assert (
        f"users.csv: unique = '{keep}' kept one row for each user_id and folded 2 {which} "
        "repeat(s) into it; 1 user_id(s) have repeats that differ in contract columns, and the "
        "kept row's values are used for them; 1 extra column(s) whose values differ between "
        "repeats are left out"
    ) in mapped.warnings
    kept_rows = [2, 3, 6] if keep == "first" else [3, 5, 6]
    assert mapped.file_rows.tolist() == kept_rows


def test_without_unique_a_repeated_identifier_is_still_a_duplicate(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"users.csv": "id,login\n7,ann\n7,ann\n", "info.csv": INFO})
    result = _load(folder, _users(JOIN))
    assert set(result.report.problems["rule"]) == {"duplicate_id"}
    folded = _load(folder, _users(JOIN, unique="first")).raise_if_rejected()
    assert folded.tables["lms_users"]["user_id"].tolist() == ["7"]


def test_problems_after_folding_name_the_files_own_rows(tmp_path: Path) -> None:
    users = "id,login\n7,ann\n7,ann\n8,bob\n"
    folder = _folder(tmp_path, {"users.csv": users, "info.csv": "id,state\n7,ok\n8,odd\n"})
    result = _load(folder, _users(JOIN, unique="first"))
    assert result.report.problems[["row", "rule"]].values.tolist() == [[4, "unknown_enum"]]


@pytest.mark.parametrize("value", ["any", True, ["first"]])
def test_a_wrong_unique_is_refused(value: object) -> None:
    with pytest.raises(UserError, match=r'^m: \[lms_users\] unique = .*; use "first" or "last"'):
        parse_mapping(_users(JOIN, unique=value), origin="m")
