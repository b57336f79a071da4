"""SQLite backup and restore, each checked before it is trusted.

PostgreSQL is backed up with its own tools (see the README): ``pg_dump -Fc`` and ``pg_restore``.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from app.core.db import build_engine, current_revision
from app.core.errors import UserError
from app.core.files import private_file, touch_private
from review_queue.feedback_log import ChainCheck, verify_chain


def _sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        raise UserError(
            "backup and restore here are for the embedded SQLite database; for PostgreSQL use "
            "pg_dump -Fc and pg_restore (see the README)"
        )
    return Path(parsed.database)


def backup_sqlite(url: str, target: Path) -> Path:
    """Copy the live SQLite database to ``target`` with SQLite's online backup API.

    Readers and writers may keep working meanwhile; the copy is one consistent moment.
    """
    source = _sqlite_path(url)
    if not source.is_file():
        raise UserError(f"no database at {source}")
    if target.exists():
        raise UserError(f"{target} already exists; choose another name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = touch_private(target.with_name(target.name + ".partial"))
    with sqlite3.connect(source) as src, sqlite3.connect(partial) as dst:
        src.backup(dst)
    partial.replace(target)
    return target


@dataclass(frozen=True)
class RestoreCheck:
    """What was verified in a backup before it replaced the database."""

    revision: str | None
    chain: ChainCheck


def verify_backup(path: Path) -> RestoreCheck:
    """Integrity, schema revision and the feedback log's chain of a backup file."""
    if not path.is_file():
        raise UserError(f"no backup at {path}")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            result = conn.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{path} is not a SQLite database: {exc}") from None
    if not result or result[0] != "ok":
        raise UserError(f"{path} fails SQLite's integrity check: {result}")
    engine: Engine = build_engine(f"sqlite:///{path}")
    try:
        revision = current_revision(engine)
        if revision is None:
            raise UserError(f"{path} is not a Gapdesk database (no migration revision)")
        with Session(engine) as session:
            chain = verify_chain(session=session)
    finally:
        engine.dispose()
    if not chain.ok:
        raise UserError(
            f"{path}: the feedback log is broken at row #{chain.first_broken_id} "
            f"({chain.problem}); not restoring it"
        )
    return RestoreCheck(revision, chain)


def restore_sqlite(url: str, backup: Path, *, force: bool = False) -> RestoreCheck:
    """Replace the SQLite database with a verified backup (stop the app first)."""
    target = _sqlite_path(url)
    if target.exists() and not force:
        raise UserError(f"{target} exists; pass --force to replace it (stop the app first)")
    with tempfile.TemporaryDirectory(dir=target.parent if target.parent.exists() else None) as t:
        staged = Path(t) / "restore.db"
        shutil.copyfile(backup, staged)
        private_file(staged)
        check = verify_backup(staged)
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        staged.replace(target)
    return check
