"""Shared fixtures: a real SQLite file and a real PostgreSQL database per test run.

PostgreSQL tests create their own database on the server at GAPDESK_TEST_PG (default
127.0.0.1:5432, user postgres) and drop it at the end. Where no server answers they skip,
except under CI=true, where a missing server is a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import build_engine, upgrade
from app.core.schema import metadata

# One integrity key for the whole run, inherited by the CLI and servers the tests start, so what
# one process chains another verifies (tests of the key file itself unset it).
os.environ.setdefault("GAPDESK_LOG_KEY", "test-key-" + secrets.token_hex(32))

PG_ADMIN_URL = os.environ.get("GAPDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The admin URL of a PostgreSQL server that answers (skip or fail if none)."""
    problem = _pg_available()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL at {PG_ADMIN_URL} does not answer: {problem}")
        pytest.skip(f"no PostgreSQL server answers at {PG_ADMIN_URL}: {problem}")
    yield PG_ADMIN_URL


def create_pg_database(admin_url: str) -> str:
    """Create a uniquely named database; returns its SQLAlchemy URL."""
    name = f"gapdesk_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)


def drop_pg_database(admin_url: str, url: str) -> None:
    """Drop a database made by create_pg_database, ending its leftover connections."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables) of the parametrised backend, for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    admin = request.getfixturevalue("pg_server")
    url = create_pg_database(admin)
    try:
        yield url
    finally:
        drop_pg_database(admin, url)


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (cheaper than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "gapdesk.db"
    eng = build_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def pg_engine(pg_server: str) -> Iterator[Engine]:
    """A migrated PostgreSQL database for the whole run, dropped at the end."""
    url = create_pg_database(pg_server)
    eng = build_engine(url)
    try:
        upgrade(eng)
        yield eng
    finally:
        eng.dispose()
        drop_pg_database(pg_server, url)


def empty_tables(eng: Engine) -> None:
    """Empty every table of a PostgreSQL test database.

    The log refuses TRUNCATE (migration 0009); the fixture, a superuser, sets the replication
    role for its own transaction, under which ordinary triggers do not fire, so the guards stay
    in place for the code under test while each test still starts from nothing.
    """
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with eng.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated database of each backend (SQLite file; real PostgreSQL)."""
    if request.param == "sqlite":
        path = tmp_path / "gapdesk.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        eng = build_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
        return
    eng = request.getfixturevalue("pg_engine")
    empty_tables(eng)
    yield eng


@pytest.fixture
def engine(db: Engine) -> Engine:
    """Alias of ``db`` for tests that read better with it."""
    return db


@pytest.fixture
def session(db: Engine) -> Iterator[Session]:
    """A session on an empty database; the test commits what it wants kept."""
    with Session(db, expire_on_commit=False) as s:
        yield s


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, object]:
    """pytest-playwright launches Debian's Chromium (Playwright cannot download its own here)."""
    from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium

    require_chromium()
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo organisation (seed 3, 400 people, 60 days) with its ground truth."""
    from app.demo.organisation import generate_demo_org

    folder = tmp_path_factory.mktemp("demo") / "org"
    generate_demo_org(folder, seed=3, people=400, days=60)
    return folder


@pytest.fixture
def gapdesk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh GAPDESK_HOME for code that stores files (snapshots, models)."""
    from app.core.settings import get_settings

    home = tmp_path / "home"
    monkeypatch.setenv("GAPDESK_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


# --------------------------------------------------------------------------- hostile-input count


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under xdist, a worker hands its count of hostile inputs to the controller."""
    from tests.helpers.hostile import CASES

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["hostile_cases"] = dict(CASES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """The controller adds up the workers' counts of hostile inputs."""
    from tests.helpers.hostile import CASES

    CASES.update(getattr(node, "workeroutput", {}).get("hostile_cases", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many hostile inputs the property tests tried (tests/helpers/hostile.py counts)."""
    from tests.helpers.hostile import CASES

    if CASES and not hasattr(terminalreporter.config, "workeroutput"):
        terminalreporter.write_line(
            f"hypothesis: {sum(CASES.values()):,} hostile inputs tried across "
            f"{len(CASES)} properties"
        )
