"""Ingest and detection end to end on both databases, with a real demo organisation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from app.core.errors import UserError
from app.core.records import SnapshotRecord
from app.detection.configuration import (
    configure_detector,
    detector_settings,
    remove_condition,
)
from app.detection.run import run_detection
from app.sources.store import find_snapshot, ingest, list_snapshots, load_stored
from models.detectors.base import Detector, Proposal
from models.detectors.registry import build_detectors
from review_queue.feedback_log import verify_chain
from review_queue.permissions import SYSTEM
from review_queue.tables import DetectionRun, Finding
from tests.helpers.queue_fixtures import add_people


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def test_ingest_stores_once_and_round_trips_types(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    first = ingest(engine=db, actor=SYSTEM, path=demo_folder)
    assert not first.already_known
    again = ingest(engine=db, actor=SYSTEM, path=demo_folder)
    assert again.already_known and again.record.id == first.record.id
    assert _count(db, SnapshotRecord) == 1
    assert (gapdesk_home / "snapshots" / first.record.id / "COMPLETE").exists()
    with Session(db) as s:
        record = find_snapshot(session=s, snapshot_id=first.record.id[:6])
        assert [r.id for r in list_snapshots(session=s, actor=SYSTEM)] == [record.id]
    stored = load_stored(record)
    assert stored.tables.keys() == first.result.snapshot.tables.keys()  # type: ignore[union-attr]
    people = stored["people"]
    assert people["person_id"].map(type).eq(str).all()
    assert str(stored["enrollments"]["enrolled_at"].dt.tz) == "UTC"
    assert record.row_counts["people"] == 400


def test_a_rejected_snapshot_stores_nothing(
    db: Engine, gapdesk_home: Path, demo_folder: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(demo_folder, bad)
    (bad / "courses.csv").write_text("course_id,title\nC1,Only two columns\n", encoding="utf-8")
    with pytest.raises(UserError, match="courses"):
        ingest(engine=db, actor=SYSTEM, path=bad)
    assert _count(db, SnapshotRecord) == 0
    assert not (gapdesk_home / "snapshots").exists() or not any(
        (gapdesk_home / "snapshots").iterdir()
    )


def test_only_admins_ingest_and_detect(db: Engine, gapdesk_home: Path, demo_folder: Path) -> None:
    with Session(db) as s:
        people = add_people(s)
    for who in ("ivy", "max"):
        with pytest.raises(PermissionError):
            ingest(engine=db, actor=people[who], path=demo_folder)
        with pytest.raises(PermissionError):
            run_detection(engine=db, actor=people[who])


def test_detection_proposes_every_category_and_records_the_run(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    with pytest.raises(UserError, match="no snapshot has been ingested"):
        run_detection(engine=db, actor=SYSTEM)
    ingest(engine=db, actor=SYSTEM, path=demo_folder)
    seen: list[str] = []
    run = run_detection(engine=db, actor=SYSTEM, progress=lambda n, d, t: seen.append(n))
    assert run.status == "done" and run.stats["new"] > 0 and run.stats["skipped"] == {}
    assert len(seen) >= len(build_detectors())
    with Session(db) as s:
        categories = set(s.exec(select(Finding.category).group_by(Finding.category)).all())
        located = s.exec(
            select(func.count()).select_from(Finding).where(col(Finding.department).is_not(None))
        ).one()
        assert verify_chain(session=s).ok
    truth = (demo_folder / "ground_truth.csv").read_text().splitlines()[1:]
    assert {line.split(",")[0] for line in truth} <= categories
    assert located > 0
    # A second run on the same snapshot updates, it does not duplicate.
    again = run_detection(engine=db, actor=SYSTEM)
    assert again.stats["new"] == 0 and again.stats["updated"] == run.stats["new"]


class _Exploding(Detector):
    name = "exploding"
    version = "1"
    categories = ("compliance_overdue",)
    requires = ("people",)

    def __init__(self, max_evidence_rows: int = 10) -> None:
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: object) -> list[Proposal]:
        raise RuntimeError("boom in the middle of a run")


def test_a_failing_detector_leaves_the_queue_unchanged(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    ingest(engine=db, actor=SYSTEM, path=demo_folder)
    run_detection(engine=db, actor=SYSTEM)
    before = _count(db, Finding)
    detectors = [*build_detectors(), _Exploding()]
    with pytest.raises(UserError, match="queue is unchanged: boom"):
        run_detection(engine=db, actor=SYSTEM, detectors=detectors)
    assert _count(db, Finding) == before
    with Session(db) as s:
        last = s.exec(select(DetectionRun).order_by(col(DetectionRun.id).desc())).first()
        assert last is not None and last.status == "failed" and "boom" in (last.error or "")


def test_detector_configuration_is_versioned_and_applied(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    ingest(engine=db, actor=SYSTEM, path=demo_folder)
    with Session(db) as s:
        people = add_people(s)
        with pytest.raises(PermissionError):
            configure_detector(session=s, actor=people["max"], name="compliance_overdue",
                               enabled=False)  # fmt: skip
        with pytest.raises(UserError, match="no detector named"):
            configure_detector(session=s, actor=SYSTEM, name="nope", enabled=False)
        target = next(
            d for d in detector_settings(session=s) if "compliance_overdue" in d.categories
        )
        configure_detector(session=s, actor=people["ada"], name=target.name, enabled=False,
                           note="too noisy")  # fmt: skip
        s.commit()
        setting = next(d for d in detector_settings(session=s) if d.name == target.name)
        assert not setting.enabled and setting.config_version == 1 and setting.changed_by == "ada"
    run_detection(engine=db, actor=SYSTEM)
    with Session(db) as s:
        cats = set(s.exec(select(Finding.category).group_by(Finding.category)).all())
    assert "compliance_overdue" not in cats


def test_demo_replays_weeks_of_reviewing_through_the_services(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    import pandas as pd

    from app.demo.fixes import write_fixed_export
    from app.demo.set_up import simulate_review_weeks
    from app.detection.labelled import read_ground_truth

    outcome = ingest(engine=db, actor=SYSTEM, path=demo_folder)
    with Session(db) as s:
        reviewer = add_people(s)["ada"]
    truth = set(read_ground_truth(demo_folder))
    snapshot = load_stored(outcome.record)
    fixed = write_fixed_export(
        demo_folder, gapdesk_home / "after", truth, as_of=pd.Timestamp(snapshot.as_of)
    )
    made = simulate_review_weeks(
        engine=db, snapshot=snapshot, truth=truth, reviewer=reviewer, weeks=2, fixed=fixed
    )
    assert made > 0
    with Session(db) as s:
        statuses = set(s.exec(select(Finding.status).group_by(Finding.status)).all())
        assert {"new", "confirmed", "dismissed", "resolved"} <= statuses
        assert verify_chain(session=s).ok
        oldest = s.exec(select(func.min(Finding.first_seen_at))).one()
    assert oldest is not None and oldest < outcome.record.ingested_at


def test_a_proposal_condition_from_the_ledger_holds_back_weak_proposals(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    ingest(engine=db, actor=SYSTEM, path=demo_folder)
    with Session(db) as s:
        name = next(d.name for d in detector_settings(session=s)
                    if "compliance_overdue" in d.categories)  # fmt: skip
        bad = [{"feature": "days_overdue", "op": ">", "value": 1}]
        with pytest.raises(UserError, match="op in"):
            configure_detector(session=s, actor=SYSTEM, name=name, require=bad)
        strict = [{"feature": "days_overdue", "op": ">=", "value": 10_000}]
        configure_detector(session=s, actor=SYSTEM, name=name, require=strict, note="ledger")
        s.commit()
        setting = next(d for d in detector_settings(session=s) if d.name == name)
        assert setting.require == ({"feature": "days_overdue", "op": ">=", "value": 10_000.0},)
    run = run_detection(engine=db, actor=SYSTEM)
    assert run.stats["held_back_by_conditions"] > 0
    with Session(db) as s:
        cats = set(s.exec(select(Finding.category).group_by(Finding.category)).all())
    assert "compliance_overdue" not in cats


def test_a_place_exception_from_the_ledger_holds_back_that_place_only(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    from app.learning.rule_ledger import apply_suggestion
    from models.learning.ledger import ExceptionSuggestion, ThresholdSuggestion

    ingest(engine=db, actor=SYSTEM, path=demo_folder)
    run_detection(engine=db, actor=SYSTEM)
    with Session(db) as s:
        rows = s.exec(select(Finding.course_id).where(Finding.category == "compliance_overdue"))
        courses = sorted({c for c in rows if c})
        assert len(courses) >= 2
        for bad, message in (
            ({"place": "course_id", "op": "==", "value": "C1"}, "op '!='"),
            ({"place": "department", "op": "!=", "value": " "}, "names no department"),
            ({"place": "room", "op": "!=", "value": "R1"}, "place in"),
        ):
            with pytest.raises(UserError, match=message):
                configure_detector(
                    session=s, actor=SYSTEM, name="compliance_overdue", require=[bad]
                )
        bound = ThresholdSuggestion("compliance_overdue", "days_overdue", ">=", 0.5, 0, 0, 0)
        looser = ThresholdSuggestion("compliance_overdue", "days_overdue", ">=", 0.25, 0, 0, 0)
        place = ExceptionSuggestion("compliance_overdue", "course_id", courses[0], 5, 5, 0)
        for suggestion in (bound, place, looser):
            apply_suggestion(session=s, actor=SYSTEM, suggestion=suggestion)
        s.commit()
        setting = next(d for d in detector_settings(session=s) if d.name == "compliance_overdue")
        # The later bound on the same feature and direction replaced the first one.
        assert setting.require == (place.condition(), looser.condition())
        assert setting.config_version == 3
    # Every compliance_overdue finding of that course is held back from the next run (all are
    # days overdue, so the bound holds back nothing); the other courses' are proposed again.
    with Session(db) as s:
        there = s.exec(
            select(func.count()).where(
                Finding.category == "compliance_overdue", Finding.course_id == courses[0]
            )
        ).one()
    run = run_detection(engine=db, actor=SYSTEM)
    assert there > 0 and run.stats["held_back_by_conditions"] == there
    # Taken back: the next configuration version has only the bound, and nothing is held back.
    with Session(db) as s:
        with pytest.raises(UserError, match="has no condition 'not in course C404'"):
            unknown = {"place": "course_id", "op": "!=", "value": "C404"}
            remove_condition(session=s, actor=SYSTEM, name="compliance_overdue", condition=unknown)
        config = remove_condition(
            session=s, actor=SYSTEM, name="compliance_overdue", condition=place.condition()
        )
        s.commit()
        assert config.version == 4 and "removed the condition 'not in course" in config.note
        setting = next(d for d in detector_settings(session=s) if d.name == "compliance_overdue")
        assert setting.require == (looser.condition(),)
    assert run_detection(engine=db, actor=SYSTEM).stats["held_back_by_conditions"] == 0


def test_an_ingest_sweeps_a_killed_ingests_temporary_folder(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    import os
    import time

    from app.sources.store import snapshots_dir

    store = snapshots_dir()
    store.mkdir(parents=True)
    old, young = store / ".0123456789abcdef-dead", store / ".fedcba9876543210-busy"
    for folder in (old, young):
        folder.mkdir()
        (folder / "activity.parquet").write_bytes(b"half")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    ingest(engine=db, actor=SYSTEM, path=demo_folder)
    assert not old.exists() and young.exists()
