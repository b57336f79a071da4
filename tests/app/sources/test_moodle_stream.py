"""A Moodle log converted in chunks gives the snapshot the whole-file conversion gives."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from app.sources.convert import IngestOptions
from app.sources.intake import prepare_intake, store_intake
from app.sources.load import content_hash
from app.sources.store import load_stored
from review_queue.permissions import SYSTEM
from tests.app.sources.conftest import SHARED_LMS

REAL_LOG = SHARED_LMS / "moodle_course_activity_log.csv"
HEADER = ["Time", "User full name", "Affected user", "Event context", "Component",
          "Event name", "Description", "Origin", "IP address"]  # fmt: skip
WHOLE = {"stream_bytes": 1 << 60}


def chunked(rows: int) -> dict[str, int]:
    return {"stream_bytes": 0, "chunk_rows": rows}


def write_log(path: Path, rows: list[list[str]], *, bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def row(minute: int, user: str = "Ann Lee", context: str = "Course: Safety",
        event: str = "Course viewed", when: str | None = None) -> list[str]:  # fmt: skip
    return [when or f"3 May, 09:{minute:02d}", user, "-", context, "System", event,
            f"The user viewed {minute}", "web", "127.0.0.1"]  # fmt: skip


def convert_tables(tmp_path: Path, source: Path, **options: object) -> tuple[dict, list[str]]:
    work = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
    work.mkdir()
    intake = prepare_intake(
        actor=SYSTEM,
        sources=[source],
        options=IngestOptions(year=2026, **options),  # type: ignore[arg-type]
        workdir=work,
    )
    assert intake.problem is None, intake.problem
    assert intake.result is not None and intake.result.snapshot is not None
    conversion = intake.conversions[0]
    return intake.result.snapshot.tables, [*conversion.warnings, *conversion.notes]


def assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    at = pd.Timestamp("2026-06-01", tz="UTC").to_pydatetime()
    assert content_hash(a, at) == content_hash(b, at)


def test_the_real_log_stored_in_chunks_is_the_snapshot_stored_whole(
    db: Engine, gapdesk_home: Path, tmp_path: Path
) -> None:
    if not REAL_LOG.exists():
        pytest.skip(f"{REAL_LOG} is absent (real exports are read from ../shared, never copied)")
    stored = []
    for options in (WHOLE, chunked(997), chunked(5_000)):
        work = tmp_path / f"w{len(stored)}"
        work.mkdir()
        intake = prepare_intake(
            actor=SYSTEM,
            sources=[REAL_LOG],
            options=IngestOptions(year=2021, **options),  # type: ignore[arg-type]
            workdir=work,
        )
        outcome = store_intake(engine=db, actor=SYSTEM, intake=intake)
        stored.append(outcome)
    whole, *others = stored
    assert not whole.already_known and whole.record.row_counts["activity"] == 18_896
    for other in others:
        # The same content hash: the chunked ingests find the snapshot already stored.
        assert other.already_known and other.record.id == whole.record.id
    assert_same(load_stored(whole.record).tables, stored[1].result.snapshot.tables)


def test_identical_rows_across_chunks_get_the_ids_of_the_whole_log(tmp_path: Path) -> None:
    rows = [row(5)] * 7 + [row(6)] + [row(5)] * 3
    log = write_log(tmp_path / "log.csv", rows)
    whole, _ = convert_tables(tmp_path, log, **WHOLE)
    for size in (1, 4):
        parts, _ = convert_tables(tmp_path, log, **chunked(size))
        assert_same(whole, parts)
    ids = whole["activity"]["event_id"]
    assert ids.is_unique and ids.str.endswith("-9").sum() == 1  # ten identical rows: 0..9


def test_a_bad_time_in_a_later_chunk_is_reported_at_its_row_in_the_file(tmp_path: Path) -> None:
    rows = [row(m) for m in range(10)]
    rows[7] = row(7, when="yesterday-ish")
    log = write_log(tmp_path / "log.csv", rows)
    for options in (WHOLE, chunked(3)):
        _, messages = convert_tables(tmp_path, log, **options)
        bad = [m for m in messages if "could not be read" in m]
        # Row 9 of the file: the header is row 1, the eighth event row 9.
        assert bad == [
            "1 mapped event(s) have a time that could not be read (first: 'yesterday-ish', "
            "row 9); they were left out"
        ], messages


def test_a_log_smaller_than_a_chunk_and_a_byte_order_mark(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.csv", [row(m) for m in range(5)], bom=True)
    whole, _ = convert_tables(tmp_path, log, **WHOLE)
    parts, _ = convert_tables(tmp_path, log, **chunked(1_000_000))
    assert_same(whole, parts)
    small, _ = convert_tables(tmp_path, log, **chunked(2))
    assert_same(whole, small)
    assert len(whole["activity"]) == 5


def test_the_course_is_the_whole_logs_choice_not_a_chunks(tmp_path: Path) -> None:
    # The first chunk names one course, the log two: events belong to the course they name.
    rows = [row(m) for m in range(4)] + [row(m, context="Course: Excel") for m in range(4)]
    rows += [row(9, context="Forum: News")]
    log = write_log(tmp_path / "log.csv", rows)
    whole, _ = convert_tables(tmp_path, log, **WHOLE)
    parts, _ = convert_tables(tmp_path, log, **chunked(4))
    assert_same(whole, parts)
    assert sorted(whole["courses"]["course_id"]) == ["Excel", "Safety"]
