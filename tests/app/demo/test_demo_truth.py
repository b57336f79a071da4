"""The demo tells the truth: what its replay marks resolved is fixed in the export after it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from app.demo.set_up import set_up_demo_data
from app.detection.run import recent_runs, run_detection
from review_queue.permissions import SYSTEM
from review_queue.tables import Finding


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_fresh_detection_run_on_the_demo_reopens_nothing_it_resolved(
    db: Engine, gapdesk_home: Path
) -> None:
    lines: list[str] = []
    set_up_demo_data(engine=db, echo=lines.append, weeks=4)
    with Session(db) as s:
        resolved = s.exec(
            select(func.count()).select_from(Finding).where(col(Finding.status) == "resolved")
        ).one()
        last = recent_runs(session=s, actor=SYSTEM, limit=1)[0]
    assert resolved > 50  # the replay resolves real gaps, not a token few
    # The demo's own last run is on record, so the Detectors page has figures for each detector.
    assert last.status == "done" and sum(last.stats["per_detector"].values()) > 100
    assert last.stats["regressions"] == 0 and last.stats["new"] == 0
    run = run_detection(engine=db, actor=SYSTEM)
    assert run.stats["regressions"] == 0 and run.stats["reopened"] == 0
    with Session(db) as s:
        still = s.exec(
            select(func.count()).select_from(Finding).where(col(Finding.status) == "resolved")
        ).one()
    assert still == resolved
