"""Snapshot folders refused whole: a missing or unreadable file, a missing column, a bad
snapshot.toml; each message names the file and the rule."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from app.core.errors import UserError
from app.sources.load import load_snapshot
from tests.app.sources.conftest import VALID_CSV, SnapshotMaker
from tests.helpers.snapshot_problems import rejected_with_one


def test_not_a_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_snapshot(tmp_path / "nope")


def test_missing_required_file(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(make_snapshot({"courses": None}))
    assert problem.rule == "missing_table" and problem.table == "courses"
    assert "courses.csv" in str(problem)


def test_missing_column(make_snapshot: SnapshotMaker) -> None:
    people = "\n".join(
        ",".join(cell for i, cell in enumerate(line.split(",")) if i != 1)
        for line in VALID_CSV["people"].splitlines()
    )
    problem = rejected_with_one(make_snapshot({"people": people}))
    assert (problem.file, problem.column, problem.rule) == ("people.csv", "email", "missing_column")


def test_wrong_encoding(make_snapshot: SnapshotMaker) -> None:
    latin = VALID_CSV["people"].replace("Ann Lee", "Anné Lée").encode("latin-1")
    problem = rejected_with_one(make_snapshot({"people": latin}))
    assert (problem.file, problem.rule) == ("people.csv", "not_utf8")
    assert "UTF-8" in problem.message


def test_utf8_with_bom_is_fine(make_snapshot: SnapshotMaker) -> None:
    bom = ("\ufeff" + VALID_CSV["people"]).encode("utf-8")
    assert load_snapshot(make_snapshot({"people": bom})).accepted


def test_zero_byte_file(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(make_snapshot({"lms_users": b""}))
    assert (problem.file, problem.rule) == ("lms_users.csv", "empty_file")
    assert "0 bytes" in problem.message


def test_empty_file_with_only_blank_lines(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(make_snapshot({"lms_users": "\n\n  \n"}))
    assert problem.rule == "empty_file"


def test_gz_that_is_not_gzip(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot(
        {"activity": VALID_CSV["activity"]}, names={"activity": "activity.csv.gz"}
    )
    problem = rejected_with_one(folder)
    assert (problem.file, problem.rule) == ("activity.csv.gz", "not_gzip")


def test_truncated_gzip(make_snapshot: SnapshotMaker) -> None:
    data = gzip.compress((VALID_CSV["activity"] * 50).encode())
    folder = make_snapshot(
        {"activity": data[: len(data) // 2]}, names={"activity": "activity.csv.gz"}
    )
    problem = rejected_with_one(folder)
    assert (problem.file, problem.rule) == ("activity.csv.gz", "not_gzip")
    assert "damaged gzip" in problem.message


def test_truncated_parquet(make_snapshot: SnapshotMaker, tmp_path: Path) -> None:
    frame = pd.read_csv(pd.io.common.StringIO(VALID_CSV["activity"]), dtype=str)
    frame.to_parquet(tmp_path / "full.parquet")
    data = (tmp_path / "full.parquet").read_bytes()
    folder = make_snapshot(
        {"activity": data[: len(data) // 2]}, names={"activity": "activity.parquet"}
    )
    problem = rejected_with_one(folder)
    assert (problem.file, problem.rule) == ("activity.parquet", "bad_parquet")
    assert "truncated" in problem.message


def test_csv_named_parquet(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot(
        {"activity": VALID_CSV["activity"]}, names={"activity": "activity.parquet"}
    )
    assert rejected_with_one(folder).rule == "bad_parquet"


def test_same_table_twice(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot()
    (folder / "activity.csv.gz").write_bytes(gzip.compress(VALID_CSV["activity"].encode()))
    problem = rejected_with_one(folder)
    assert problem.rule == "duplicate_table" and "activity.csv" in problem.file


def test_ragged_csv(make_snapshot: SnapshotMaker) -> None:
    activity = VALID_CSV["activity"] + "A9,u1,C1,viewed,2026-11-20T06:00:00Z,,extra,cells\n"
    problem = rejected_with_one(make_snapshot({"activity": activity}))
    assert problem.rule == "bad_csv" and "line 5" in problem.message


def test_header_naming_a_column_twice(make_snapshot: SnapshotMaker) -> None:
    activity = VALID_CSV["activity"].replace(",value\n", ",verb\n", 1)
    problem = rejected_with_one(make_snapshot({"activity": activity}))
    assert (problem.file, problem.rule) == ("activity.csv", "bad_csv")
    assert "'verb' more than once" in problem.message


def test_bad_snapshot_toml(make_snapshot: SnapshotMaker) -> None:
    assert rejected_with_one(make_snapshot(toml="as_of = [")).rule == "bad_snapshot_toml"
    problem = rejected_with_one(make_snapshot(toml='as_of = "last tuesday"'))
    assert (problem.rule, problem.value) == ("bad_snapshot_toml", "last tuesday")


def test_nothing_to_take_as_of_from(make_snapshot: SnapshotMaker) -> None:
    empty = {
        n: VALID_CSV[n].splitlines()[0] + "\n" for n in ("lms_users", "enrollments", "activity")
    }
    result = load_snapshot(make_snapshot(empty, toml=None))
    assert not result.accepted
    assert result.report.problems["rule"].tolist() == ["no_as_of"]
