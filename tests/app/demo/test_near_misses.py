"""The demo organisation's near misses: look-alikes the rules flag and the organisation knows to
be fine, each kind in one place, reproducible, and never left behind by a run without them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from app.demo.organisation import generate_demo_org
from models.taxonomy import parse_entity_key
from tests.app.demo.reference_rules import HEURISTIC_RULES, Snap


@pytest.fixture(scope="module")
def near_org(tmp_path_factory: pytest.TempPathFactory) -> tuple[Snap, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("demo-near")
    summary = generate_demo_org(folder, seed=2, people=400, days=49, near_misses=True)
    near = pd.read_csv(folder / "near_misses.csv", dtype=str, keep_default_na=False)
    assert summary.near_misses == near["category"].value_counts().to_dict()
    return Snap(folder), near


def test_near_misses_are_what_the_rules_flag_beyond_the_truth(
    near_org: tuple[Snap, pd.DataFrame],
) -> None:
    snap, near = near_org
    by_category = {c: set(g["entity_key"]) for c, g in near.groupby("category")}
    assert set(by_category) == {
        "enrollment_missing", "compliance_overdue", "notification_undelivered",
    }  # fmt: skip
    assert set(near["reason"]) == {"expected"} and near["explanation"].str.len().min() > 20
    for category, rule in HEURISTIC_RULES.items():
        misses = by_category.get(category, set())
        truth = snap.truth.get(category, set())
        assert truth and not (misses & truth), category
        assert rule(snap) == truth | misses, category


def test_each_kind_of_near_miss_sits_in_one_place(near_org: tuple[Snap, pd.DataFrame]) -> None:
    snap, near = near_org
    keys = {c: [parse_entity_key(k) for k in g["entity_key"]] for c, g in near.groupby("category")}
    assert len({k["course"] for k in keys["enrollment_missing"]}) == 1
    enr = snap["enrollments"].set_index("enrollment_id")["course_id"]
    assert len({enr[k["enrollment"]] for k in keys["compliance_overdue"]}) == 1
    person = snap["lms_users"].set_index("user_id")["person_id"]
    dept = snap["people"].set_index("person_id")["department"]
    assert len({dept[person[k["user"]]] for k in keys["notification_undelivered"]}) == 1


def test_near_misses_are_reproducible_and_never_left_stale(tmp_path: Path) -> None:
    def digest(folder: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}

    generate_demo_org(tmp_path / "a", seed=5, people=400, days=42, near_misses=True)
    generate_demo_org(tmp_path / "b", seed=5, people=400, days=42, near_misses=True)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    generate_demo_org(tmp_path / "c", seed=5, people=400, days=42)
    generate_demo_org(tmp_path / "a", seed=5, people=400, days=42, overwrite=True)
    assert digest(tmp_path / "a") == digest(tmp_path / "c")
    assert not (tmp_path / "a" / "near_misses.csv").exists()
