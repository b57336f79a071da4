"""Ingesting a hostile snapshot, property-tested on both databases: stored whole with its text
intact, or refused with the file named and no database row or stored file left behind.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.errors import UserError
from app.core.records import SnapshotRecord
from app.sources.store import ingest, snapshots_dir
from review_queue.permissions import SYSTEM
from tests.app.sources.conftest import VALID_CSV
from tests.helpers.hostile import (
    counted,
    csv_bytes,
    fuzz,
    hostile_text,
    store_files,
    to_bytes,
    toml_value,
    wrong_type,
)

PEOPLE = [line.split(",") for line in VALID_CSV["people"].splitlines()]
COURSES = [line.split(",") for line in VALID_CSV["courses"].splitlines()]


def _records(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(SnapshotRecord)).one())


@fuzz(20)
@given(
    people_cells=st.lists(hostile_text, min_size=1, max_size=4),
    column=st.sampled_from(["full_name", "department", "job_title", "person_id", "email",
                            "hire_date"]),
    course_title=hostile_text,
    source=st.one_of(hostile_text, wrong_type.map(toml_value)),
    bom=st.booleans(),
)  # fmt: skip
@example(people_cells=["a\x00b"], column="full_name", course_title="=1+1", source="\x00", bom=True)
@example(
    people_cells=["\ud800"],
    column="department",
    course_title="\u202eevil",
    source="\ud800",
    bom=False,
)
@example(
    people_cells=["A" * 200_000], column="person_id", course_title="e\u0301", source=None, bom=False
)
@counted
def test_ingesting_a_hostile_snapshot(
    db: Engine,
    gapdesk_home: Path,
    people_cells: list[str],
    column: str,
    course_title: str,
    source: str | None,
    bom: bool,
) -> None:
    """Stored whole with its text intact, or refused with the file named and nothing written."""
    header, *people = [list(r) for r in PEOPLE]
    at = header.index(column)
    for row, cell in zip(people, people_cells, strict=False):
        row[at] = cell
    courses_header, *courses = [list(r) for r in COURSES]
    courses[0][1] = course_title
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, text in VALID_CSV.items():
            (folder / f"{name}.csv").write_text(text, encoding="utf-8")
        (folder / "people.csv").write_bytes(csv_bytes(header, people, bom=bom))
        (folder / "courses.csv").write_bytes(csv_bytes(courses_header, courses))
        if source is not None and not source.startswith(('"', "[", "{")):
            source = json.dumps(source, ensure_ascii=False)
        toml = 'as_of = "2026-11-27T00:00:00Z"\n' + (f"source = {source}\n" if source else "")
        (folder / "snapshot.toml").write_bytes(to_bytes(toml))
        records, files = _records(db), store_files(snapshots_dir())
        try:
            outcome = ingest(engine=db, actor=SYSTEM, path=folder)
        except UserError as exc:
            message = str(exc)
            assert any(f in message for f in ("people.csv", "courses.csv", "snapshot.toml")), (
                message[:300]
            )
            assert _records(db) == records, "a refused snapshot wrote a database row"
            assert store_files(snapshots_dir()) == files, "a refused snapshot left files"
            return
    assert _records(db) == records + (0 if outcome.already_known else 1)
    stored = pd.read_parquet(snapshots_dir() / outcome.record.id / "courses.parquet")
    written = course_title.strip()
    if written and "\x00" not in written:
        assert stored["title"].iloc[0].strip() == written
