"""Loading a snapshot folder: what is accepted, how it is typed, and every bad input's message."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from app.core.errors import UserError
from app.core.safe_csv import neutralise_csv_cell, neutralise_frame, write_safe_csv
from app.sources.load import content_hash, load_snapshot, write_snapshot
from app.sources.validation_report import Problem
from tests.app.sources.conftest import VALID_CSV, SnapshotMaker


def only_problem(result_report_problems: pd.DataFrame) -> Problem:
    assert len(result_report_problems) == 1, result_report_problems.to_string()
    rec = result_report_problems.iloc[0]
    return Problem(
        file=rec["file"],
        rule=rec["rule"],
        message=rec["message"],
        table=rec["table"],
        row=None if pd.isna(rec["row"]) else int(rec["row"]),
        column=None if pd.isna(rec["column"]) else rec["column"],
        value=None if pd.isna(rec["value"]) else rec["value"],
    )


def rejected_with_one(folder: Path, **kwargs: object) -> Problem:
    result = load_snapshot(folder, **kwargs)  # type: ignore[arg-type]
    assert not result.accepted
    assert result.snapshot is None and result.content_hash is None
    return only_problem(result.report.problems)


# --------------------------------------------------------------------------- accepted data


def test_valid_snapshot_is_accepted_and_typed(make_snapshot: SnapshotMaker) -> None:
    result = load_snapshot(make_snapshot())
    assert result.accepted, result.report.render()
    snap = result.raise_if_rejected()
    assert snap.source == "test"
    assert snap.as_of == pd.Timestamp("2026-11-27T00:00:00Z").to_pydatetime()
    people = snap["people"]
    assert people["person_id"].tolist() == ["007", "008", "009"]  # leading zeros kept
    assert people["employment_status"].tolist() == ["active", "leave", "terminated"]
    assert str(people["hire_date"].dtype) == "datetime64[us, UTC]"
    users = snap["lms_users"]
    # No offset means UTC; an offset is converted to UTC.
    assert users.loc[0, "created_at"] == pd.Timestamp("2024-01-16T09:00:00Z")
    assert users.loc[0, "last_login_at"] == pd.Timestamp("2026-11-20T06:00:00Z")
    assert users["favourite_colour"].tolist()[:2] == ["green", "blue"]  # extra column kept
    courses = snap["courses"]
    assert courses["is_compliance"].tolist() == [True, False, False]
    assert courses["is_compliance"].dtype == bool
    assert courses["due_days"].tolist()[0] == 30
    assert snap["enrollments"]["progress_pct"].tolist()[0] == 40.0
    assert not snap.has("submissions")
    assert "submissions" in result.report.skipped_tables
    assert any("favourite_colour" in w for w in result.report.warnings)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("Yes", True),
        ("1", True),
        ("no", False),
        ("0", False),
        ("False", False),
        (" yes ", True),
    ],
)
def test_booleans_in_any_spelling(make_snapshot: SnapshotMaker, word: str, expected: bool) -> None:
    courses = VALID_CSV["courses"].replace(",TRUE,", f",{word},")
    result = load_snapshot(make_snapshot({"courses": courses}))
    assert result.accepted, result.report.render()
    assert bool(result.raise_if_rejected()["courses"]["is_compliance"].iloc[0]) is expected


def test_unowned_course_orphan_link_and_outside_manager_are_not_errors(
    make_snapshot: SnapshotMaker,
) -> None:
    # VALID_CSV carries all three on purpose: they are gaps for detectors, not broken files.
    snap = load_snapshot(make_snapshot()).raise_if_rejected()
    assert "P999" in set(snap["lms_users"]["person_id"])
    assert "nobody" in set(snap["courses"]["owner_user_id"])
    assert "P404" in set(snap["people"]["manager_person_id"])


def test_without_as_of_now_is_the_latest_timestamp(make_snapshot: SnapshotMaker) -> None:
    result = load_snapshot(make_snapshot(toml=None))
    snap = result.raise_if_rejected()
    assert snap.as_of == pd.Timestamp("2026-11-20T06:05:00Z").to_pydatetime()
    assert any("latest timestamp" in w for w in result.report.warnings)


def test_header_only_optional_table_is_valid_and_empty(make_snapshot: SnapshotMaker) -> None:
    header = VALID_CSV["activity"].splitlines()[0] + "\n"
    snap = load_snapshot(make_snapshot({"activity": header})).raise_if_rejected()
    assert snap.has("activity") and len(snap["activity"]) == 0
    assert str(snap["activity"]["timestamp"].dtype) == "datetime64[us, UTC]"


def test_header_only_required_table_is_valid_and_empty(make_snapshot: SnapshotMaker) -> None:
    header = VALID_CSV["enrollments"].splitlines()[0] + "\n"
    snap = load_snapshot(make_snapshot({"enrollments": header})).raise_if_rejected()
    assert len(snap["enrollments"]) == 0


def test_formula_like_cells_are_kept_as_text(make_snapshot: SnapshotMaker, tmp_path: Path) -> None:
    people = (
        VALID_CSV["people"]
        .replace("Ann Lee", '=HYPERLINK("http://x")')
        .replace("Bob Roe", "+1+2")
        .replace("Cy Poe", "@SUM(A1)")
        .replace(",Rep,", ",-3,")
    )
    snap = load_snapshot(make_snapshot({"people": people})).raise_if_rejected()
    names = snap["people"]["full_name"].tolist()
    assert names == ['=HYPERLINK("http://x")', "+1+2", "@SUM(A1)"]
    assert snap["people"]["job_title"].iloc[0] == "-3"
    out = tmp_path / "export.csv"
    write_safe_csv(snap["people"], out)
    exported = pd.read_csv(out, dtype=str)
    assert exported["full_name"].tolist() == ['\'=HYPERLINK("http://x")', "'+1+2", "'@SUM(A1)"]
    assert exported["job_title"].iloc[0] == "'-3"
    assert exported["person_id"].iloc[0] == "007"


def test_neutralise_csv_cell() -> None:
    assert neutralise_csv_cell("=1+1") == "'=1+1"
    assert neutralise_csv_cell("@x") == "'@x"
    assert neutralise_csv_cell("\tx") == "'\tx"
    assert neutralise_csv_cell("plain") == "plain"
    assert neutralise_csv_cell(-5) == -5  # numbers are not formulas
    frame = pd.DataFrame({"a": ["=x", None, "y"], "n": [-1, 2, 3]})
    out = neutralise_frame(frame)
    assert out["a"].tolist()[0] == "'=x" and pd.isna(out["a"].iloc[1])
    assert out["n"].tolist() == [-1, 2, 3]


def test_parquet_snapshot_loads_like_csv(make_snapshot: SnapshotMaker, tmp_path: Path) -> None:
    from_csv = load_snapshot(make_snapshot()).raise_if_rejected()
    folder = write_snapshot(
        from_csv.tables, tmp_path / "pq", as_of=from_csv.as_of, source="pq", file_format="parquet"
    )
    from_parquet = load_snapshot(folder)
    snap = from_parquet.raise_if_rejected()
    for name, frame in from_csv.tables.items():
        pd.testing.assert_frame_equal(snap[name], frame, check_dtype=False)


def test_written_csv_snapshot_round_trips_with_same_hash(
    make_snapshot: SnapshotMaker, tmp_path: Path
) -> None:
    first = load_snapshot(make_snapshot())
    snap = first.raise_if_rejected()
    again = load_snapshot(write_snapshot(snap.tables, tmp_path / "rt", as_of=snap.as_of))
    assert again.content_hash == first.content_hash


def test_gzipped_csv_is_read(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot(
        {"activity": gzip.compress(VALID_CSV["activity"].encode())},
        names={"activity": "activity.csv.gz"},
    )
    assert len(load_snapshot(folder).raise_if_rejected()["activity"]) == 3


def test_same_content_same_hash_and_changed_content_new_hash(
    make_snapshot: SnapshotMaker,
) -> None:
    one = load_snapshot(make_snapshot()).content_hash
    two = load_snapshot(make_snapshot(toml='as_of = "2026-11-27T00:00:00Z"\nsource = "other"\n'))
    changed = load_snapshot(
        make_snapshot({"courses": VALID_CSV["courses"].replace("Safety", "Safety 2")})
    )
    assert one is not None and one == two.content_hash
    assert changed.content_hash != one
    snap = load_snapshot(make_snapshot()).raise_if_rejected()
    assert content_hash(snap.tables, snap.as_of) == one


def test_progress_is_reported_in_order(make_snapshot: SnapshotMaker) -> None:
    seen: list[tuple[int, int, str]] = []
    load_snapshot(make_snapshot(), progress=lambda d, t, m: seen.append((d, t, m)))
    assert seen and seen[-1][0] == seen[-1][1]
    dones = [d for d, _, _ in seen]
    assert dones == sorted(dones)
    assert all(0 <= d <= t for d, t, _ in seen)


# --------------------------------------------------------------------------- bad input


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


def test_missing_column_fails_even_in_quarantine(make_snapshot: SnapshotMaker) -> None:
    courses = VALID_CSV["courses"].replace("status\n", "state\n")
    problem = rejected_with_one(make_snapshot({"courses": courses}), quarantine=True)
    assert problem.rule == "missing_column" and problem.column == "status"


def test_wrong_type(make_snapshot: SnapshotMaker) -> None:
    enrollments = VALID_CSV["enrollments"].replace("2026-11-01T10:00:00Z", "1st of November")
    problem = rejected_with_one(make_snapshot({"enrollments": enrollments}))
    assert problem == Problem(
        file="enrollments.csv",
        table="enrollments",
        row=4,
        column="enrolled_at",
        value="1st of November",
        rule="wrong_type",
        message="is not an ISO 8601 timestamp",
    )
    assert str(problem) == (
        "enrollments.csv, row 4, column 'enrolled_at': value '1st of November': "
        "is not an ISO 8601 timestamp [wrong_type]"
    )


@pytest.mark.parametrize(
    ("table", "old", "new", "column"),
    [
        ("courses", ",30,", ",thirty,", "due_days"),
        ("courses", ",30,", ",2.5,", "due_days"),
        ("courses", ",TRUE,", ",maybe,", "is_compliance"),
        ("enrollments", ",40\n", ",forty\n", "progress_pct"),
        ("people", "2024-01-15", "15/01/2024", "hire_date"),
    ],
)
def test_wrong_type_per_column_type(
    make_snapshot: SnapshotMaker, table: str, old: str, new: str, column: str
) -> None:
    problem = rejected_with_one(make_snapshot({table: VALID_CSV[table].replace(old, new, 1)}))
    assert (problem.column, problem.rule, problem.row) == (column, "wrong_type", 2)


def test_unknown_enum_value(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(
        make_snapshot({"lms_users": VALID_CSV["lms_users"].replace("suspended", "frozen")})
    )
    assert (problem.row, problem.column, problem.value, problem.rule) == (
        4,
        "status",
        "frozen",
        "unknown_enum",
    )
    assert "active, suspended, deleted" in problem.message


def test_missing_required_cell(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(
        make_snapshot({"people": VALID_CSV["people"].replace("cy@example.org", "")})
    )
    assert (problem.row, problem.column, problem.rule) == (4, "email", "missing_value")


def test_out_of_range(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(
        make_snapshot({"enrollments": VALID_CSV["enrollments"].replace(",40\n", ",140\n")})
    )
    assert (problem.column, problem.value, problem.rule) == ("progress_pct", "140", "out_of_range")


def test_duplicate_id(make_snapshot: SnapshotMaker) -> None:
    courses = VALID_CSV["courses"] + "C1,Safety again,,,false,,,active\n"
    result = load_snapshot(make_snapshot({"courses": courses}))
    assert not result.accepted
    problems = result.report.problems
    assert set(problems["rule"]) == {"duplicate_id"}
    assert problems["row"].tolist() == [2, 5] and set(problems["value"]) == {"C1"}


def test_dangling_reference(make_snapshot: SnapshotMaker) -> None:
    enrollments = VALID_CSV["enrollments"] + "E4,u404,C1,manual,enrolled,2026-01-01,,,,\n"
    problem = rejected_with_one(make_snapshot({"enrollments": enrollments}))
    assert (problem.file, problem.row, problem.column, problem.value, problem.rule) == (
        "enrollments.csv",
        5,
        "user_id",
        "u404",
        "dangling_reference",
    )
    assert "lms_users" in problem.message


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


def test_all_problems_are_collected_not_just_the_first(make_snapshot: SnapshotMaker) -> None:
    people = VALID_CSV["people"].replace("active", "retired").replace("2023-05-02", "soon")
    enrollments = VALID_CSV["enrollments"].replace("C2", "C9").replace(",40\n", ",-1\n")
    result = load_snapshot(make_snapshot({"people": people, "enrollments": enrollments}))
    counts = result.report.counts_by_rule()
    assert counts == {
        "unknown_enum": 1,
        "wrong_type": 1,
        "out_of_range": 1,
        "dangling_reference": 1,
    }


def test_report_renders_first_fifty_then_counts(make_snapshot: SnapshotMaker) -> None:
    rows = "".join(f"X{i},u1,C1,teleported,2026-11-20T06:00:00Z,\n" for i in range(70))
    header = VALID_CSV["activity"].splitlines()[0] + "\n"
    result = load_snapshot(make_snapshot({"activity": header + rows + "X1,u1,,login,nope,\n"}))
    text = result.report.render()
    assert text.startswith("Snapshot rejected: 73 problem(s)")
    assert "Problems (first 50 of 73):" in text
    assert "activity.csv, row 2, column 'verb': value 'teleported'" in text
    assert "activity.csv, row 60," not in text  # beyond the first 50
    assert "unknown_enum: 70" in text and "duplicate_id: 2" in text and "wrong_type: 1" in text


# --------------------------------------------------------------------------- quarantine


def test_quarantine_sets_bad_rows_aside_with_reasons(make_snapshot: SnapshotMaker) -> None:
    enrollments = (
        VALID_CSV["enrollments"]
        + "E4,u404,C1,manual,enrolled,2026-01-01,,,,\n"
        + "E5,u1,C1,telepathy,enrolled,2026-01-01,,,,\n"
    )
    result = load_snapshot(make_snapshot({"enrollments": enrollments}), quarantine=True)
    snap = result.raise_if_rejected()
    assert snap["enrollments"]["enrollment_id"].tolist() == ["E1", "E2", "E3"]
    held = result.quarantined["enrollments"]
    assert held["_row"].tolist() == [5, 6]
    assert held["enrollment_id"].tolist() == ["E4", "E5"]
    assert held["_reasons"].tolist() == [
        "dangling_reference: user_id=u404",
        "unknown_enum: source=telepathy",
    ]
    assert result.report.quarantined_counts == {"enrollments": 2}
    assert "with 2 row(s) in quarantine" in result.report.render()


def test_quarantined_user_takes_its_enrolments_along(make_snapshot: SnapshotMaker) -> None:
    users = VALID_CSV["lms_users"].replace("u2,008,bob@example.org,active", "u2,008,,active")
    result = load_snapshot(make_snapshot({"lms_users": users}), quarantine=True)
    snap = result.raise_if_rejected()
    assert "u2" not in set(snap["lms_users"]["user_id"])
    assert "E2" not in set(snap["enrollments"]["enrollment_id"])
    assert "A3" not in set(snap["activity"]["event_id"])
    assert result.quarantined["enrollments"]["_reasons"].iloc[0] == (
        "dangling_reference: user_id=u2"
    )


def test_quarantine_does_not_rescue_a_broken_file(make_snapshot: SnapshotMaker) -> None:
    problem = rejected_with_one(make_snapshot({"courses": b""}), quarantine=True)
    assert problem.rule == "empty_file"


# --------------------------------------------------------------------------- both check paths


def test_pandas_and_pandera_paths_find_the_same_problems(make_snapshot: SnapshotMaker) -> None:
    people = (
        VALID_CSV["people"].replace("active", "retired").replace("cy@example.org", "")
        + "007,x@y.z,Dup,IT,Dev,,active,2020-01-01,\n"
    )
    enrollments = VALID_CSV["enrollments"].replace(",40\n", ",-1\n").replace("rule", "robot")
    folder = make_snapshot({"people": people, "enrollments": enrollments})
    by_pandera = load_snapshot(folder).report.problems
    by_pandas = load_snapshot(folder, pandera_row_limit=0).report.problems
    assert len(by_pandera) == 6
    pd.testing.assert_frame_equal(by_pandera, by_pandas)


def test_a_nul_character_in_any_text_is_a_row_problem(make_snapshot: SnapshotMaker) -> None:
    """PostgreSQL cannot store NUL in text or JSON: refused at the import, naming the place,
    in contract columns and in the extra columns kept as evidence alike."""
    courses = VALID_CSV["courses"].replace("C2,Excel,", "C2,Ex\x00cel,")
    users = VALID_CSV["lms_users"].replace(",blue\n", ",bl\x00ue\n")
    folder = make_snapshot({"courses": courses, "lms_users": users})
    result = load_snapshot(folder)
    assert not result.report.accepted
    found = {(p.table, p.row, p.column, p.value) for p in result.report.iter_problems()}
    assert found == {
        ("courses", 3, "title", "Ex␀cel"),
        ("lms_users", 3, "favourite_colour", "bl␀ue"),
    }
    assert all(p.rule == "nul_character" for p in result.report.iter_problems())
    assert "holds a NUL character" in result.report.render()
    held = load_snapshot(folder, quarantine=True)
    snap = held.raise_if_rejected()
    assert "C2" not in set(snap["courses"]["course_id"])
    assert "u2" not in set(snap["lms_users"]["user_id"])
