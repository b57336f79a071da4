"""Loading a snapshot folder that is accepted: how it is typed, what it keeps, how it is written
back and hashed, and the progress it reports."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from app.core.safe_csv import neutralise_csv_cell, neutralise_frame, write_safe_csv
from app.sources.load import content_hash, load_snapshot, write_snapshot
from tests.app.sources.conftest import VALID_CSV, SnapshotMaker


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
    # Every position a spreadsheet may split a cell at, not only the first (issue 15.12).
    assert neutralise_csv_cell("ok;=1+1") == "ok;'=1+1"
    assert neutralise_csv_cell("ok\t=1+1") == "ok\t'=1+1"
    assert neutralise_csv_cell("a, @b|  -c") == "a, '@b|  '-c"
    assert neutralise_csv_cell("x\n+1") == "x\n'+1"
    assert neutralise_csv_cell("a-b c=d") == "a-b c=d"
    frame = pd.DataFrame({"a": ["=x", None, "y", "ok;=1+1"], "n": [-1, 2, 3, 4]})
    out = neutralise_frame(frame)
    assert out["a"].tolist()[0] == "'=x" and pd.isna(out["a"].iloc[1])
    assert out["a"].tolist()[2:] == ["y", "ok;'=1+1"]
    assert out["n"].tolist() == [-1, 2, 3, 4]


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
