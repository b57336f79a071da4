"""Operations: health for monitors, SQLite backup and a restore whose log chain is verified."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from app.core.db import open_engine
from review_queue.decisions import decide
from tests.app.cli.test_cli import run
from tests.helpers.queue_fixtures import add_finding, add_people


def _env(tmp_path: Path) -> dict[str, str]:
    return {"GAPDESK_HOME": str(tmp_path / "home"), "GAPDESK_DATABASE_URL": ""}


def test_health_exit_codes(tmp_path: Path) -> None:
    env = _env(tmp_path)
    empty = run("health", env=env)
    assert empty.returncode == 1 and "migrations behind: at None" in empty.stderr
    run("db", "upgrade", env=env)
    ok = run("health", env=env)
    assert ok.returncode == 0 and ok.stdout.startswith("ok: database reachable")
    down = run("health", env={**env, "GAPDESK_DATABASE_URL": "postgresql://u@127.0.0.1:1/x"})
    assert down.returncode == 1 and "cannot reach the database" in down.stderr


def test_backup_then_restore_verifies_the_chain(tmp_path: Path) -> None:
    env = _env(tmp_path)
    db_file = Path(env["GAPDESK_HOME"]) / "gapdesk.db"
    engine = open_engine(f"sqlite:///{db_file}")
    with Session(engine) as s:
        people = add_people(s)
        for i in range(3):
            f = add_finding(s, i)
            decide(session=s, actor=people["ada"], finding_id=f.id or 0, action="confirm")
        s.commit()
    engine.dispose()
    out = tmp_path / "b.db"
    made = run("backup", "--out", str(out), env=env)
    assert made.returncode == 0 and out.is_file(), made.stderr
    assert run("backup", "--out", str(out), env=env).returncode == 1  # never overwrites
    refused = run("restore", str(out), env=env)
    assert refused.returncode == 1 and "--force" in refused.stderr
    restored = run("restore", str(out), "--force", env=env)
    assert restored.returncode == 0, restored.stderr
    assert "feedback log intact (3 rows)" in restored.stdout
    assert run("log", "verify", env=env).stdout.startswith("feedback log intact: 3 rows")


def test_restore_refuses_garbage_and_postgres(tmp_path: Path) -> None:
    env = _env(tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    bad = run("restore", str(junk), "--force", env=env)
    assert bad.returncode == 1 and "not a SQLite database" in bad.stderr
    pg = run("backup", env={**env, "GAPDESK_DATABASE_URL": "postgresql://u@127.0.0.1/x"})
    assert pg.returncode == 1 and "pg_dump" in pg.stderr
