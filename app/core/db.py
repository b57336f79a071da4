"""The database engine (one per process), SQLite tuning, and migrations kept at head."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import Session, create_engine

from app.core.files import private_dir, private_file, touch_private
from app.core.keys import derived_key
from app.core.settings import ConfigError, check_database_url, get_settings
from app.core.urls import mask_url_password, scrub
from review_queue.feedback_log import use_chain_key

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; the message is one line for a person."""


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the app's pages) run while a detection run writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


READ_ONLY = "gapdesk_read_only"


def _on_sqlite_begin(conn: Any) -> None:
    # pysqlite defers BEGIN; an explicit BEGIN IMMEDIATE takes the write lock up front so two
    # writers queue on busy_timeout instead of failing half way with "database is locked".
    # A read-only unit of work begins deferred: in WAL mode it reads a snapshot and neither
    # waits for nor holds up the writers (with every page read queueing for the write lock,
    # 20 reviewers at once made pages wait past the busy timeout and fail).
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _feedback_log_key() -> bytes:
    return derived_key("feedback-log")


# The log's chain is keyed with a key from the settings, which review_queue cannot read itself:
# whatever imports the engine's module has it wired.
use_chain_key(_feedback_log_key)


def _private_sqlite_file(path: Path) -> None:
    # Created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
    private_dir(path.parent)
    touch_private(path)
    for suffix in ("-wal", "-shm"):
        private_file(path.with_name(path.name + suffix))


def build_engine(url: str) -> Engine:
    """Create an engine for ``url`` with Gapdesk's settings for its backend."""
    check_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_sqlite_file(Path(parsed.database))
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        # Let SQLAlchemy, not pysqlite, manage transactions so BEGIN IMMEDIATE is honoured.
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(
            engine,
            "connect",
            lambda dbapi_conn, _rec: setattr(dbapi_conn, "isolation_level", None),
        )
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def check_connection(engine: Engine) -> None:
    """Open one connection, or raise DatabaseUnavailable with a one-line reason."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except DBAPIError as exc:
        # Any driver refusal (unreachable, a bad option such as connect_timeout=x) is one line.
        reason = scrub(str(exc.orig) if exc.orig else str(exc), engine.url)
        raise DatabaseUnavailable(
            f"cannot reach the database at {mask_url_password(engine.url)}: {reason}"
        ) from None


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration that migrates ``engine`` (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The migration revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest migration revision shipped with this code."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None
    return head


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate the database to head and the trend roll-ups to the reporting time zone; returns
    (revision before, revision after)."""
    before = current_revision(engine)
    if before != head_revision():
        command.upgrade(alembic_config(engine), "head")
    # The trend roll-ups follow GAPDESK_REPORTING_TZ: rebuilt here once after it changes.
    from review_queue.trends.rollups import ensure_rollup_zone

    ensure_rollup_zone(engine, get_settings().reporting_tz)
    return before, head_revision()


def open_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """Build the engine, check it answers, and bring an older database up to head."""
    if url is None:
        url = get_settings().resolved_database_url()
    try:
        engine = build_engine(url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise ConfigError(f"GAPDESK_DATABASE_URL cannot be used: {scrub(str(exc), url)}") from None
    check_connection(engine)
    if migrate:
        upgrade(engine)
    return engine


_engine: Engine | None = None


def get_engine() -> Engine:
    """The process's one engine (the CLI's; the app wraps this in st.cache_resource)."""
    global _engine
    if _engine is None:
        _engine = open_engine()
    return _engine


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error.

    ``read_only`` is for work that only reads: on SQLite it does not take the write lock.
    """
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
