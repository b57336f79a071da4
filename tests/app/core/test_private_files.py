"""GAPDESK_HOME is created 0700 and Gapdesk's files in it 0600, whatever the umask (15.14)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.db import build_engine, upgrade
from app.sources.store import ingest
from review_queue.permissions import SYSTEM


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The common default umask (022), under which files come out world-readable."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def test_home_database_and_snapshot_files_are_private(
    gapdesk_home: Path, demo_folder: Path, open_umask: None
) -> None:
    assert not gapdesk_home.exists()
    engine = build_engine(f"sqlite:///{gapdesk_home / 'gapdesk.db'}")
    try:
        upgrade(engine)
        outcome = ingest(engine=engine, actor=SYSTEM, path=demo_folder)
        assert _mode(gapdesk_home) == 0o700
        database = gapdesk_home / "gapdesk.db"
        for path in (database, *database.parent.glob("gapdesk.db-*")):
            assert _mode(path) == 0o600, path
        snapshots = gapdesk_home / "snapshots"
        stored = snapshots / outcome.record.id
        assert _mode(snapshots) == 0o700 and _mode(stored) == 0o700
        files = list(stored.iterdir())
        assert files and all(_mode(f) == 0o600 for f in files), [
            (f.name, oct(_mode(f))) for f in files
        ]
    finally:
        engine.dispose()
