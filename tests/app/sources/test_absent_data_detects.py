"""Every detector runs, and every finding can be placed, on version 2 snapshots that lack
optional tables or leave out every column a source may leave out (the demo organisation, cut)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.sources.contract import TABLES
from app.sources.load import load_snapshot, write_snapshot
from models.detectors.registry import build_detectors, run_detectors
from models.taxonomy import attribute_entities

CUTS: dict[str, tuple[tuple[str, ...] | None, bool]] = {
    # name: (tables kept, None = all; whether every column that may be absent is left out)
    "every optional column absent": (None, True),
    "no HR roster": (tuple(t for t in TABLES if t != "people"), False),
    "no enrolments": (tuple(t for t in TABLES if t != "enrollments"), False),
    "an LMS log alone": (("lms_users", "courses", "activity"), False),
    "an LMS log alone, bare columns": (("lms_users", "courses", "activity"), True),
    "required tables only, bare columns": (("lms_users", "courses"), True),
}


def _cut(demo: Path, out: Path, keep: tuple[str, ...] | None, bare: bool) -> Path:
    tables = {}
    for name in keep or tuple(TABLES):
        frame = pd.read_csv(demo / f"{name}.csv", dtype=str, keep_default_na=False)
        if bare:
            absent = [c.name for c in TABLES[name].columns if c.may_be_absent and c.name in frame]
            frame = frame.drop(columns=absent)
        tables[name] = frame
    return write_snapshot(tables, out, as_of=pd.Timestamp("2026-11-27T00:00:00Z"))


@pytest.mark.parametrize("cut", list(CUTS))
def test_detectors_run_on_a_cut_snapshot(demo_folder: Path, tmp_path: Path, cut: str) -> None:
    keep, bare = CUTS[cut]
    snap = load_snapshot(_cut(demo_folder, tmp_path / "cut", keep, bare)).raise_if_rejected()
    if bare:
        for name, frame in snap.tables.items():
            for col in TABLES[name].columns:
                assert snap.has_column(name, col.name) == (not col.may_be_absent), (name, col)
                assert (col.name in frame) == (not col.may_be_absent)
    found = run_detectors(snap, build_detectors())
    for detector, why in found.skipped.items():
        assert "absent" in why, (detector, why)
    keys = sorted({p.entity_key for p in found.proposals})
    placed = attribute_entities(snap, keys)
    assert sorted(placed["entity_key"]) == keys
