"""Coverage recorded with each detection run and shown for the current snapshot, on both
databases: an LMS log alone is checked for what its events show, and nothing else is proposed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.db import session_scope
from app.detection.configuration import configure_detector
from app.detection.coverage import coverage_lines, run_coverage, snapshot_coverage
from app.detection.run import run_detection
from app.sources.load import LoadResult
from app.sources.store import ingest, store_snapshot
from app.sources.validation_report import ValidationReport
from models.snapshot import Snapshot
from review_queue.permissions import SYSTEM, Actor
from review_queue.tables import Finding, Role
from tests.helpers.detector_snapshots import course, daily_activity, snap, user

# Categories whose detectors read only what an LMS log carries.
FROM_EVENTS = {"access_failure", "reporting_gap", "engagement_anomaly"}


def lms_log_snapshot(*, owner_column: bool = False) -> Snapshot:
    """What a Moodle log becomes: users and courses known by id only, and their events (with a
    launch outage of C1 on 2026-11-18). ``owner_column`` adds an owner column left empty."""
    act = daily_activity(course_outage="2026-11-18")
    s = snap(
        lms_users=[user(u) for u in sorted({r["user_id"] for r in act})],
        courses=[course("C1"), course("C2")],
        activity=act,
    )
    del s.tables["people"], s.tables["enrollments"]
    s.tables["lms_users"] = s["lms_users"][["user_id", "status"]]
    keep = ["course_id", "title", "is_compliance", "status"]
    s.tables["courses"] = s["courses"][keep + (["owner_user_id"] if owner_column else [])]
    return s


def _findings(engine: Engine) -> list[Finding]:
    with Session(engine) as s:
        return list(s.exec(select(Finding)))


def test_a_run_on_an_lms_log_alone_records_what_it_skipped_and_proposes_nothing_from_absent_data(
    db: Engine, gapdesk_home: Path
) -> None:
    run = run_detection(engine=db, actor=SYSTEM, snapshot=lms_log_snapshot())
    rows = {r.detector: r for r in run_coverage(run)}
    assert len(rows) == 16
    assert run.stats["skipped"]["unowned_course"] == "needs column courses.owner_user_id, absent"
    assert run.stats["skipped"]["orphan_account"] == (
        "needs table people and column lms_users.person_id, absent"
    )
    assert rows["unowned_course"].status == "not checked"
    assert rows["unowned_course"].missing == "courses carry no owner"
    assert rows["orphan_account"].missing.startswith("HR roster missing")
    assert rows["sync_failure"].missing == "integration run log missing"
    checked = {r.category for r in rows.values() if r.checked}
    assert checked == FROM_EVENTS
    assert set(run.stats["skipped"]) == {n for n, r in rows.items() if not r.checked}
    found = _findings(db)
    assert "course=C1;date=2026-11-18" in {f.entity_key for f in found}
    assert {f.category for f in found} <= checked


def test_an_owner_column_left_empty_is_data_an_absent_one_is_not(
    db: Engine, gapdesk_home: Path
) -> None:
    run = run_detection(engine=db, actor=SYSTEM, snapshot=lms_log_snapshot(owner_column=True))
    assert "unowned_course" not in run.stats["skipped"]
    unowned = {f.entity_key for f in _findings(db) if f.category == "unowned_course"}
    assert unowned == {"course=C1", "course=C2"}


def test_the_current_snapshot_s_coverage_follows_its_columns_and_the_configuration(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    with Session(db) as s:
        assert snapshot_coverage(session=s, actor=SYSTEM) is None
    demo = ingest(engine=db, actor=SYSTEM, path=demo_folder)
    with Session(db) as s:
        full = snapshot_coverage(session=s, actor=SYSTEM)
    assert full is not None and full.snapshot_id == demo.record.id
    # The demo organisation's courses carry no dates: reporting gaps are judged from each
    # course's first to last event, and the coverage says so.
    partly = {r.detector for r in full.rows if r.status == "partly checked"}
    assert partly == {"reporting_gap"}
    assert {r.status for r in full.rows} == {"checked", "partly checked"}
    assert full.lines == [
        "15 of 15 gap categories checked on this snapshot.",
        "Courses carry no start date; courses carry no end date: courses silent from their "
        "start and courses silent before their end not checked.",
    ]
    # A later snapshot without owners or an HR roster becomes the current one.
    log = lms_log_snapshot()
    result = LoadResult(report=ValidationReport(accepted=True), snapshot=log, content_hash="f" * 64)
    stored = store_snapshot(engine=db, actor=SYSTEM, result=result, origin="moodle log")
    with session_scope(db) as s:
        configure_detector(session=s, actor=SYSTEM, name="engagement_learner", enabled=False)
    with Session(db) as s:
        current = snapshot_coverage(session=s, actor=SYSTEM)
        earlier = snapshot_coverage(session=s, actor=SYSTEM, snapshot_id=demo.record.id)
    assert current is not None and current.snapshot_id == stored.record.id
    rows = {r.detector: r for r in current.rows}
    assert rows["unowned_course"].needs == ("courses.owner_user_id",)
    assert rows["engagement_learner"].status == "switched off"
    assert "Courses carry no owner: unowned courses cannot be checked." in current.lines
    assert earlier is not None and earlier.lines[0].startswith("15 of 15")


def test_coverage_lines_for_the_ingest_command_and_only_for_admins(db: Engine) -> None:
    lines = coverage_lines(engine=db, actor=SYSTEM, snapshot=lms_log_snapshot())
    assert lines[0] == "3 of 15 gap categories checked on this snapshot."
    assert "HR roster missing: " in "\n".join(lines)
    with pytest.raises(PermissionError):
        instructor = Actor(None, "ina", Role.instructor)
        coverage_lines(engine=db, actor=instructor, snapshot=lms_log_snapshot())
