"""Operations: health checks for monitors, and SQLite backup and restore.

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

from app.db import DatabaseUnavailable, build_engine, check_connection, current_revision
from app.db import head_revision as code_head
from app.errors import UserError
from review_queue.feedback import ChainCheck, verify_chain


@dataclass(frozen=True)
class Health:
    """What a monitor needs: is the database there, and is its schema the code's."""

    reachable: bool
    revision: str | None
    head: str
    problem: str | None

    @property
    def ok(self) -> bool:
        """Healthy: reachable and migrated to head."""
        return self.reachable and self.revision == self.head


def health(url: str) -> Health:
    """Check the database at ``url`` without changing it (no migration is applied)."""
    head = code_head()
    try:
        engine = build_engine(url)
    except Exception as exc:  # a bad URL is a health problem, not a crash
        return Health(False, None, head, str(exc).splitlines()[0])
    try:
        check_connection(engine)
        revision = current_revision(engine)
    except DatabaseUnavailable as exc:
        return Health(False, None, head, str(exc))
    finally:
        engine.dispose()
    problem = None if revision == head else f"migrations behind: at {revision}, code at {head}"
    return Health(True, revision, head, problem)


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
    partial = target.with_name(target.name + ".partial")
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
        check = verify_backup(staged)
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        staged.replace(target)
    return check
