"""Snapshots stored under contract version 1 stay readable: they load, validate to the same
content hash and detect under version 2, with only the columns version 2 added absent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.records import SnapshotRecord
from app.detection.run import run_detection
from app.sources.contract import TABLES
from app.sources.load import load_snapshot, write_snapshot
from app.sources.store import load_stored, snapshots_dir
from models.detectors.base import Proposal
from models.detectors.registry import build_detectors, run_detectors
from models.snapshot import Snapshot
from review_queue.permissions import SYSTEM
from tests.app.sources.conftest import TEST_DATA

STORED_V1 = TEST_DATA / "contract_v1_stored_snapshot"
RECORD: dict[str, Any] = json.loads((STORED_V1 / "record.json").read_text(encoding="utf-8"))
# The columns contract version 2 added; a version 1 snapshot cannot have carried them.
ADDED_IN_V2 = {
    "lms_users": ("full_name",),
    "courses": ("starts_at", "ends_at"),
    "activity": ("object_id",),
}


def _install_v1() -> SnapshotRecord:
    """The fixture's files under ``$GAPDESK_HOME/snapshots/<id>/`` and the row that names them,
    as contract version 1's ``store_snapshot`` left them."""
    snapshot_id = RECORD["content_hash"][:16]
    shutil.copytree(STORED_V1, snapshots_dir() / snapshot_id)
    return SnapshotRecord(
        id=snapshot_id,
        content_hash=RECORD["content_hash"],
        as_of=pd.Timestamp(RECORD["as_of"]).to_pydatetime(),
        source=RECORD["source"],
        origin=str(STORED_V1),
        ingested_by="contract v1",
        row_counts=RECORD["row_counts"],
    )


def _found(snapshot: Snapshot) -> list[tuple[str, str, float, str]]:
    proposals: list[Proposal] = run_detectors(snapshot, build_detectors()).proposals
    return sorted((p.category, p.entity_key, p.score, json.dumps(p.evidence)) for p in proposals)


def test_the_fixture_is_a_version_1_store() -> None:
    for name, columns in RECORD["columns"].items():
        schema = pd.read_parquet(STORED_V1 / f"{name}.parquet").columns
        assert list(schema) == columns
        assert not set(ADDED_IN_V2.get(name, ())) & set(columns)


def test_a_version_1_snapshot_loads_with_the_new_columns_absent(gapdesk_home: Path) -> None:
    snap = load_stored(_install_v1())
    assert {n: len(f) for n, f in snap.tables.items()} == RECORD["row_counts"]
    for name, columns in RECORD["columns"].items():
        assert list(snap[name].columns) == columns
        for column in TABLES[name].column_names:
            assert snap.has_column(name, column) == (column not in ADDED_IN_V2.get(name, ()))
    assert str(snap["courses"]["due_days"].dtype) == "Int64"
    assert str(snap["enrollments"]["enrolled_at"].dtype) == "datetime64[us, UTC]"


def test_a_version_1_snapshot_validates_to_the_same_hash(
    gapdesk_home: Path, tmp_path: Path
) -> None:
    snap = load_stored(_install_v1())
    folder = write_snapshot(snap.tables, tmp_path / "again", as_of=snap.as_of)
    again = load_snapshot(folder)
    assert again.content_hash == RECORD["content_hash"]
    assert again.report.row_counts == RECORD["row_counts"]
    assert again.report.problems.empty


def test_a_version_1_snapshot_detects_as_a_fresh_load_does(
    gapdesk_home: Path, tmp_path: Path
) -> None:
    stored = load_stored(_install_v1())
    folder = write_snapshot(stored.tables, tmp_path / "again", as_of=stored.as_of)
    fresh = load_snapshot(folder).raise_if_rejected()
    found = _found(stored)
    assert found and found == _found(fresh)
    assert run_detectors(stored, build_detectors()).skipped == {}


def test_a_version_1_snapshot_goes_through_a_detection_run(db: Engine, gapdesk_home: Path) -> None:
    record = _install_v1()
    snapshot_id = record.id
    with Session(db) as session:
        session.add(record)
        session.commit()
    run = run_detection(engine=db, actor=SYSTEM, snapshot_id=snapshot_id)
    assert run.status == "done" and run.stats["skipped"] == {}
    assert int(run.stats["new"]) > 0


def test_the_demo_organisation_is_a_version_1_snapshot(demo_folder: Path) -> None:
    # The demo writes version 1's columns: version 2 reads them with only the new ones absent.
    snap = load_snapshot(demo_folder).raise_if_rejected()

    def contract_columns(name: str, columns: list[str]) -> list[str]:
        return [c for c in columns if c in TABLES[name].column_names]

    carried = {n: contract_columns(n, list(f.columns)) for n, f in snap.tables.items()}
    assert carried == {n: contract_columns(n, cols) for n, cols in RECORD["columns"].items()}
    for name, columns in ADDED_IN_V2.items():
        assert not any(snap.has_column(name, c) for c in columns)
