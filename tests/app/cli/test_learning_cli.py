"""``gapdesk retrain``, ``models``, ``rollback`` and ``bench discovery`` as scripts use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.cli.test_cli import run
from tests.conftest import SHARED

TOY2 = SHARED / "data" / "anomaly" / "toy2.csv"


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {"GAPDESK_HOME": str(tmp_path / "home"), "GAPDESK_DATABASE_URL": ""}


def test_retrain_on_an_empty_log_fails_with_one_line(cli_env: dict[str, str]) -> None:
    result = run("retrain", env=cli_env)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "needs at least 8 decided findings" in result.stderr
    listed = run("models", env=cli_env)
    assert listed.returncode == 0 and "no priority model yet" in listed.stdout


def test_rollback_to_an_unknown_version_fails_with_one_line(cli_env: dict[str, str]) -> None:
    result = run("rollback", "7-nope", env=cli_env)
    assert result.returncode != 0
    assert "no priority model version '7-nope'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not TOY2.exists(), reason="shared anomaly data not present")
def test_bench_feedback_prints_runs_and_the_mean(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run("bench", "discovery", str(TOY2), "--budget", "8", "--runs", "1", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "run 0: found" in result.stdout
    assert "toy2 @ 8, mean of 1: found" in result.stdout
    wrong = run("bench", "discovery", str(TOY2), "--label-column", "kind", env=cli_env)
    assert wrong.returncode != 0 and "no column 'kind'" in wrong.stderr


def test_ledger_lists_numbered_suggestions_and_applies_one(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    from sqlmodel import Session

    from app.core.db import open_engine
    from review_queue.decisions import decide
    from review_queue.permissions import SYSTEM
    from tests.helpers.queue_fixtures import add_finding

    nothing = run("ledger", "--apply", "1", env=cli_env)
    assert nothing.returncode != 0 and "the ledger has 0" in nothing.stderr
    engine = open_engine(f"sqlite:///{tmp_path / 'home' / 'gapdesk.db'}")
    with Session(engine) as s:
        for n in range(6):
            finding = add_finding(s, n, course_id="C00042", detector="compliance_overdue")
            decide(session=s, actor=SYSTEM, finding_id=finding.id or 0, action="dismiss",
                   reason="expected")  # fmt: skip
        s.commit()
    engine.dispose()
    listed = run("ledger", env=cli_env)
    assert listed.returncode == 0, listed.stderr
    assert "1. compliance_overdue: make course C00042 an exception" in listed.stdout
    applied = run("ledger", "--apply", "1", env=cli_env)
    assert applied.returncode == 0, applied.stderr
    assert "compliance_overdue: configuration v1 applies from the next detection run" in (
        applied.stdout
    )
    again = run("ledger", env=cli_env)
    assert "make course C00042 an exception" not in again.stdout  # in force: not suggested again
