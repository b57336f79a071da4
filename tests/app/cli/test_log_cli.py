"""``gapdesk log anchor`` and ``gapdesk log verify --anchor``: an emptied log is caught (15.6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from app.core.db import build_engine, upgrade
from review_queue.feedback_log import GENESIS
from tests.app.cli.test_cli import run
from tests.conftest import BACKENDS
from tests.review_queue.test_log_guards import _bypass_guards, _decided_log


@pytest.mark.parametrize("fresh_db_url", BACKENDS, indirect=True)
def test_verify_against_the_anchor_catches_an_emptied_log(
    fresh_db_url: str, tmp_path: Path
) -> None:
    env = {"GAPDESK_HOME": str(tmp_path / "home"), "GAPDESK_DATABASE_URL": fresh_db_url}
    engine = build_engine(fresh_db_url)
    upgrade(engine)
    _decided_log(engine, n=3)
    anchors = tmp_path / "elsewhere" / "anchors.jsonl"
    anchors.parent.mkdir()
    made = run("log", "anchor", str(anchors), env=env)
    assert made.returncode == 0, made.stderr
    assert "anchored 3 rows" in made.stdout
    ok = run("log", "verify", "--anchor", str(anchors), env=env)
    assert ok.returncode == 0 and "agrees with 1 anchors" in ok.stdout, ok.stderr
    with engine.begin() as conn:
        _bypass_guards(conn)
        conn.execute(text("DELETE FROM feedback_log"))
        conn.execute(text("UPDATE feedback_log_head SET last_event_id = NULL, last_hash = :g"),
                     {"g": GENESIS})  # fmt: skip
    engine.dispose()
    assert run("log", "verify", env=env).returncode == 0  # the chain alone cannot tell
    caught = run("log", "verify", "--anchor", str(anchors), env=env)
    assert caught.returncode == 1
    assert caught.stderr.strip().splitlines() == [
        f"Error: feedback log does not match {anchors}: the anchor of "
        f"{caught.stderr.split('the anchor of ')[1].split(' counted')[0]} counted 3 rows, "
        "the log has 0"
    ]
    missing = run("log", "verify", "--anchor", str(tmp_path / "nope.jsonl"), env=env)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
