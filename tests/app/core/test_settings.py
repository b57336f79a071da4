"""Every setting is a field of Settings: the environment and a .env file both work, a bad value is
one line naming the variable, and no code reads a GAPDESK_ variable behind Settings' back."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.settings import ConfigError, get_settings
from app.learning.after_decision import retrain_every
from app.web.trend_charts import default_reporting_tz
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> object:
    for name in (
        "GAPDESK_RETRAIN_EVERY", "GAPDESK_REPORTING_TZ", "GAPDESK_SESSION_DAYS",
        "GAPDESK_INGEST_ROOTS", "GAPDESK_UPLOAD_MAX_BYTES", "GAPDESK_UPLOAD_MAX_ROWS",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # .env is read from the working directory
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults() -> None:
    assert retrain_every() == 25
    assert default_reporting_tz() == "UTC"


def test_ingest_roots_and_upload_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings()
    assert settings.ingest_roots == []  # server-folder ingest is off by default
    assert (settings.upload_max_bytes, settings.upload_max_rows) == (2 * 1024**3, 50_000_000)
    monkeypatch.setenv("GAPDESK_INGEST_ROOTS", "/srv/lms-exports:/data/moodle ")
    monkeypatch.setenv("GAPDESK_UPLOAD_MAX_BYTES", "1048576")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.ingest_roots == [Path("/srv/lms-exports"), Path("/data/moodle")]
    assert settings.upload_max_bytes == 1024**2


def test_a_dot_env_file_sets_learning_and_reporting(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "GAPDESK_RETRAIN_EVERY=7\nGAPDESK_REPORTING_TZ=Europe/Berlin\n", encoding="utf-8"
    )
    assert retrain_every() == 7
    assert default_reporting_tz() == "Europe/Berlin"


def test_the_environment_wins_over_dot_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("GAPDESK_RETRAIN_EVERY=7\n", encoding="utf-8")
    monkeypatch.setenv("GAPDESK_RETRAIN_EVERY", "0")
    assert retrain_every() == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GAPDESK_RETRAIN_EVERY", "often"),
        ("GAPDESK_RETRAIN_EVERY", "-3"),
        ("GAPDESK_REPORTING_TZ", "Mars/Olympus_Mons"),
        ("GAPDESK_SESSION_DAYS", "0"),
        ("GAPDESK_INGEST_ROOTS", "exports/lms"),
        ("GAPDESK_UPLOAD_MAX_BYTES", "0"),
        ("GAPDESK_UPLOAD_MAX_ROWS", "many"),
    ],
)
def test_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=re.escape(name)) as caught:
        get_settings()
    assert "\n" not in str(caught.value)


def test_the_cli_says_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "GAPDESK_HOME": str(tmp_path), "GAPDESK_RETRAIN_EVERY": "x"}
    done = subprocess.run(
        [sys.executable, "-c", "from app.cli.main import main; main()", "models"],
        capture_output=True, text=True, cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)},
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "GAPDESK_RETRAIN_EVERY" in done.stderr and "Traceback" not in done.stderr


def test_no_code_reads_a_gapdesk_variable_behind_settings() -> None:
    bare = re.compile(r"os\.(environ|getenv)[^\n]*GAPDESK_")
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("app", "models", "review_queue", "pages")
        for path in (REPO / folder).rglob("*.py")
        if bare.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
