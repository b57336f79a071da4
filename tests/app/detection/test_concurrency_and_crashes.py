"""A detection run killed half way, and reviewers overtaken at the last moment.

The full-size versions are tests/bench/bench_crash.py (SIGKILL at random moments) and
tests/bench/bench_reviewers.py (16 reviewers); these pin the two bugs they found.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.detection.run import run_detection
from app.sources.store import ingest
from review_queue.decisions import AlreadyDecided, decide, undo
from review_queue.feedback_log import verify_chain
from review_queue.permissions import SYSTEM
from review_queue.tables import DetectionRun, FeedbackEvent, Finding
from tests.conftest import REPO, empty_tables
from tests.helpers.queue_fixtures import add_finding, add_people

_KILLED_MID_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from app.core.db import build_engine
    from app.detection.run import run_detection
    from review_queue.permissions import SYSTEM

    def progress(name, done, total):
        if done >= 1:  # the first detector has finished: the run is well under way
            os.kill(os.getpid(), signal.SIGKILL)

    run_detection(engine=build_engine(sys.argv[1]), actor=SYSTEM, progress=progress)
    """
)


def _counts(db: Engine) -> tuple[int, int, int]:
    with Session(db) as s:
        return tuple(  # type: ignore[return-value]
            s.exec(select(func.count()).select_from(table)).one()
            for table in (DetectionRun, Finding, FeedbackEvent)
        )


def test_a_detection_run_killed_half_way_leaves_no_trace_and_the_next_run_succeeds(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    ingest(engine=db, actor=SYSTEM, path=demo_folder)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_RUN, db.url.render_as_string(hide_password=False)],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # Not even a run left "running" for ever: the database is as before the run.
    assert _counts(db) == (0, 0, 0)
    run = run_detection(engine=db, actor=SYSTEM)
    assert run.status == "done"
    runs, findings, events = _counts(db)
    assert runs == 1 and findings == run.stats["new"] > 0 and events == findings
    with Session(db) as s:
        assert verify_chain(session=s).ok


def test_an_undo_overtaken_between_its_check_and_its_write_names_who_won(
    pg_engine: Engine,
) -> None:
    """PostgreSQL only: on SQLite, BEGIN IMMEDIATE makes the whole undo one locked step."""
    db = pg_engine
    empty_tables(db)
    with Session(db, expire_on_commit=False) as s:
        people = add_people(s)
        finding = add_finding(s, 1)
        mine = decide(session=s, actor=people["ada"], finding_id=finding.id or 0, action="claim")
        s.commit()
    sneaked: list[str] = []

    def bo_confirms_first(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Just before ada's undo writes, bo (another connection) confirms and commits.
        if statement.lstrip().upper().startswith("UPDATE FINDINGS") and not sneaked:
            sneaked.append(statement)
            with Session(db) as other:
                decide(session=other, actor=people["bo"], finding_id=finding.id or 0,
                       action="confirm")  # fmt: skip
                other.commit()

    with Session(db) as s:
        event.listen(s.connection(), "before_cursor_execute", bo_confirms_first)
        with pytest.raises(AlreadyDecided, match=r"changed after it, by bo \(confirm at "):
            undo(session=s, actor=people["ada"], event_id=mine.event.id or 0)
        s.rollback()
    assert sneaked
    with Session(db) as s:
        assert s.get(Finding, finding.id).status == "confirmed"  # type: ignore[union-attr]
        actions = [e.action for e in s.exec(select(FeedbackEvent).order_by(FeedbackEvent.id))]  # type: ignore[arg-type]
        assert actions == ["claim", "confirm"]


def test_a_refusal_names_the_winning_action_in_plain_words(db: Engine) -> None:
    with Session(db, expire_on_commit=False) as s:
        people = add_people(s)
        finding = add_finding(s, 1)
        seen = finding.row_version
        decide(session=s, actor=people["ada"], finding_id=finding.id or 0, action="snooze",
               until=datetime.now(UTC) + timedelta(days=3))  # fmt: skip
        s.commit()
        with pytest.raises(AlreadyDecided, match=r"was already snoozed by ada at "):
            decide(session=s, actor=people["bo"], finding_id=finding.id or 0, action="confirm",
                   expected_row_version=seen)  # fmt: skip
