"""Organisations generated shard by shard: one organisation in the files, its truth still true."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.core.errors import UserError
from app.demo.organisation import generate_demo_org
from app.demo.organisation.shards import shard_sizes
from app.sources.load import load_snapshot
from tests.bench.bench_detectors import MODEL_CATEGORIES, run_all, score

# Scored in a sharded organisation as in a single one (see app/demo/organisation/shards.py).
DILUTED = {"notification_outage"}


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sharded")
    summary = generate_demo_org(folder, seed=3, people=900, days=42, shard_people=300)
    assert summary.rows["people"] == 900
    return folder


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def test_sizes_are_one_shard_up_to_the_threshold_and_even_above() -> None:
    assert shard_sizes(200_000, None) == [200_000]
    assert shard_sizes(1_000_000, None) == [100_000] * 10
    assert shard_sizes(250_001, None) == [83_334, 83_334, 83_333]
    assert shard_sizes(900, 300) == [300, 300, 300]


def test_the_shards_make_one_valid_snapshot_with_no_id_shared(sharded: Path) -> None:
    snapshot = load_snapshot(sharded).raise_if_rejected()
    assert len(snapshot.tables["people"]) == 900
    people, users = _csv(sharded, "people"), _csv(sharded, "lms_users")
    assert people["person_id"].is_unique and users["user_id"].is_unique
    # Each shard's people keep their own departments and addresses.
    assert {d[-2:] for d in people["department"]} == {"00", "01", "02"}
    assert people["email"].str.lower().is_unique
    activity = _csv(sharded, "activity")
    assert activity["event_id"].is_unique
    assert set(activity["user_id"]) <= set(users["user_id"])
    # One organisation has one set of integrations: shard 0's runs only.
    runs = _csv(sharded, "sync_runs")
    assert runs["run_id"].is_unique and len(runs) < 4000


def test_the_detectors_find_exactly_the_sharded_ground_truth(sharded: Path) -> None:
    proposals, _, skipped = run_all(load_snapshot(sharded).raise_if_rejected())
    assert not skipped
    # Site-level days are diluted by the other shards' rows: neither promised nor scored.
    proposals = [p for p in proposals if not p.entity_key.startswith("date=")]
    truth = pd.read_csv(sharded / "ground_truth.csv")
    assert len(truth) > 100
    for category, figures in score(proposals, truth).items():
        if category.split("[")[0] in {*MODEL_CATEGORIES, *DILUTED}:
            continue
        assert figures["fp"] == 0, (category, figures)
        # One course-day of a 300-person shard's small course reads as a quiet day, not a hole.
        assert figures["fn"] <= (1 if category == "reporting_gap" else 0), (category, figures)


def test_shards_too_small_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="shards of 100 people"):
        generate_demo_org(tmp_path / "out", people=900, shard_people=100)
    assert not (tmp_path / "out").exists()
