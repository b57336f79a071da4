"""Secrets stay secret: passwords, their argon2 hashes, session tokens and the database password
appear in no log line, export, command output or error message."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from app.auth.accounts import SignInFailed, authenticate
from app.auth.sessions import start_session
from app.cli.main import cli
from app.core.db import build_engine, upgrade
from app.core.settings import get_settings
from review_queue.tables import User
from tests.conftest import REPO
from tests.helpers.queue_fixtures import add_finding

PASSWORDS = {"alice": "Alice-pass-4821-secret", "bob": "Bob-pass-9917-secret"}
NEW_PASSWORD = "Alice-new-pass-3308-secret"
WRONG_PASSWORD = "Wrong-guess-5150-secret"
DB_PASSWORD = "Db-pass-7702-secret"


class Seen:
    """Everything a person or a log could see during the test, to search for secrets."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def assert_clean(self, secrets: list[str]) -> None:
        assert self.texts, "nothing was captured"
        for where, text in self.texts:
            for secret in secrets:
                assert secret not in text, f"{secret[:12]}... appears in {where}: {text[:300]}"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("GAPDESK_HOME", str(home))
    monkeypatch.setenv("GAPDESK_DATABASE_URL", f"sqlite:///{home / 'gapdesk.db'}")
    get_settings.cache_clear()
    engine = build_engine(f"sqlite:///{home / 'gapdesk.db'}")
    upgrade(engine)
    engine.dispose()
    yield home
    get_settings.cache_clear()


def _run(seen: Seen, args: list[str], stdin: str | None = None, *, ok: bool = True) -> str:
    get_settings.cache_clear()
    from app.core import db as app_db

    if app_db._engine is not None:  # the CLI keeps one engine per process; each run is new
        app_db._engine.dispose()
        app_db._engine = None
    result = CliRunner().invoke(cli, args, input=stdin, catch_exceptions=False)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    seen.add(f"gapdesk {' '.join(args)}", output)
    assert (result.exit_code == 0) is ok, output
    return output


def test_no_secret_in_logs_exports_or_messages(
    home: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = Seen()
    for name, role in (("alice", "admin"), ("bob", "manager")):
        _run(seen, ["users", "add", name, "--email", f"{name}@example.org", "--role", role,
                    "--password-stdin"], PASSWORDS[name] + "\n")  # fmt: skip
    _run(seen, ["users", "list"])
    _run(seen, ["users", "set-password", "alice", "--password-stdin"], NEW_PASSWORD + "\n")
    # Refused passwords are not echoed back.
    _run(seen, ["users", "set-password", "bob", "--password-stdin"], "short7\n", ok=False)
    _run(seen, ["users", "add", "carol", "--email", "c@example.org", "--role", "admin",
                "--password-stdin"], "tiny-pw\n", ok=False)  # fmt: skip
    _run(seen, ["users", "add", "alice", "--email", "a2@example.org", "--role", "admin",
                "--password-stdin"], PASSWORDS["alice"] + "\n", ok=False)  # fmt: skip

    engine = build_engine(f"sqlite:///{home / 'gapdesk.db'}")
    with Session(engine, expire_on_commit=False) as session:
        hashes = [u.password_hash or "" for u in session.exec(select(User))]
        assert all(h.startswith("$argon2") for h in hashes)
        try:
            authenticate(session=session, name="alice", password=WRONG_PASSWORD)
        except SignInFailed as exc:
            seen.add("wrong password", f"{exc!s} {exc!r}")
        else:
            pytest.fail("a wrong password signed in")
        user = authenticate(session=session, name="alice", password=NEW_PASSWORD)
        token = start_session(session=session, user=user, days=1)
        add_finding(session, 1, title="Enrolment E1 is past its due date")
        session.commit()
    engine.dispose()

    _run(seen, ["users", "list"])
    out_dir = home / "exports"
    out_dir.mkdir()
    for kind in ("findings", "decisions"):
        for fmt in ("csv", "jsonl"):
            target = out_dir / f"{kind}.{fmt}"
            _run(seen, ["export", kind, "--format", fmt, "--out", str(target)])
            seen.add(f"export {kind} {fmt}", target.read_text(encoding="utf-8"))
    _run(seen, ["export", "decisions"])
    _run(seen, ["backup", "--out", str(home / "backup.db")])
    _run(seen, ["health"])
    _run(seen, ["db", "current"])
    _run(seen, ["log", "verify"])

    # A database URL with a password: unreachable, refused, malformed.
    for url in (
        f"postgresql+psycopg://gapdesk:{DB_PASSWORD}@127.0.0.1:1/gapdesk",
        f"postgresql+psycopg://postgres:{DB_PASSWORD}@127.0.0.1:5432/no_such_db",
        f"postgresql://gapdesk:{DB_PASSWORD}@@host:notaport/db",
        f"mysql://gapdesk:{DB_PASSWORD}@127.0.0.1/gapdesk",
    ):
        monkeypatch.setenv("GAPDESK_DATABASE_URL", url)
        for args in (["health"], ["db", "current"], ["users", "list"], ["snapshots"]):
            _run(seen, args, ok=False)
    monkeypatch.setenv("GAPDESK_DATABASE_URL", f"sqlite:///{home / 'gapdesk.db'}")
    get_settings.cache_clear()

    # The real console script, as cron runs it: stdout and stderr of a failure.
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "health"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "GAPDESK_HOME": str(home),
             "GAPDESK_DATABASE_URL": f"postgresql+psycopg://u:{DB_PASSWORD}@127.0.0.1:1/x"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    seen.add("gapdesk health (process)", proc.stdout + proc.stderr)
    seen.add("logging", caplog.text)
    seen.add("log records", json.dumps([r.getMessage() for r in caplog.records]))

    secrets = [*PASSWORDS.values(), NEW_PASSWORD, WRONG_PASSWORD, DB_PASSWORD, token, "$argon2",
               *hashes]  # fmt: skip
    seen.assert_clean(secrets)
    # The test saw the failures it provoked (so the search above had something to search).
    assert any("at least" in t or "password" in t.lower() for _, t in seen.texts)
    assert any("cannot reach" in t or "does not exist" in t for _, t in seen.texts)
