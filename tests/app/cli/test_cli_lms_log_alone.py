"""The shared real Moodle course log through the command line as a new user types it: import,
then ingest with no HR roster and no enrolments (contract version 2), with and without
quarantine, then detect."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.app.cli.test_cli import run
from tests.conftest import SHARED

REAL_LOG = SHARED / "data" / "lms" / "moodle_course_activity_log.csv"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"GAPDESK_HOME": str(tmp_path / "home"), "GAPDESK_DATABASE_URL": ""}


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    """The real log through ``gapdesk import moodle`` (read where it lies: it has no licence)."""
    if not REAL_LOG.exists():
        pytest.skip(f"{REAL_LOG} is absent (it may not be copied into the repository)")
    out = tmp_path / "moodle"
    done = run("import", "moodle", str(REAL_LOG), "--year", "2018", "--out", str(out), env={})
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["activity.csv", "courses.csv", "lms_users.csv"]
    return out


@pytest.mark.parametrize("quarantine", [False, True])
def test_the_log_alone_is_ingested_and_detected(
    env: dict[str, str], imported: Path, quarantine: bool
) -> None:
    flags = ["--quarantine"] if quarantine else []
    ingested = run("ingest", str(imported), *flags, env=env)
    assert ingested.returncode == 0, ingested.stderr
    assert "accepted" in ingested.stdout and "19,010 rows in 3 tables" in ingested.stdout
    assert "quarantined" not in ingested.stdout
    detected = run("detect", env=env)
    assert detected.returncode == 0, detected.stderr


def test_quarantine_sets_aside_a_broken_user_and_only_their_events(
    env: dict[str, str], imported: Path
) -> None:
    users = pd.read_csv(imported / "lms_users.csv", dtype=str, keep_default_na=False)
    activity = pd.read_csv(imported / "activity.csv", dtype=str, keep_default_na=False)
    broken = users["user_id"].iloc[0]
    users.loc[0, "status"] = "vanished"
    users.to_csv(imported / "lms_users.csv", index=False)
    events = int((activity["user_id"] == broken).sum())
    assert 0 < events < len(activity)

    refused = run("ingest", str(imported), env=env)
    assert refused.returncode == 1 and "rejected: 1 problem(s)" in refused.stderr
    ingested = run("ingest", str(imported), "--quarantine", env=env)
    assert ingested.returncode == 0, ingested.stderr
    assert "quarantined 1 rows of lms_users" in ingested.stdout
    assert f"quarantined {events:,} rows of activity" in ingested.stdout
    assert (
        f"activity.csv: {events:,} of the {events:,} row(s) set aside went only because the "
        "user or course they name was set aside" in ingested.stdout
    )
    kept = 113 - 1 + 1 + len(activity) - events
    assert f"{kept:,} rows in 3 tables" in ingested.stdout
