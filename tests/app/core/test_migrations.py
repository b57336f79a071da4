"""Migrations build the schema from nothing on both backends, and agree with the models."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app.core.db import alembic_config, build_engine, current_revision, head_revision, upgrade
from app.core.schema import include_object, metadata
from tests.conftest import BACKENDS


@pytest.mark.parametrize("fresh_db_url", BACKENDS, indirect=True)
def test_empty_database_migrates_to_head_and_matches_the_models(fresh_db_url: str) -> None:
    engine = build_engine(fresh_db_url)
    try:
        assert current_revision(engine) is None
        before, after = upgrade(engine)
        assert (before, after) == (None, head_revision())
        tables = set(inspect(engine).get_table_names())
        assert {"findings", "feedback_log", "users", "suppressions", "comments"} <= tables
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(
                    conn, opts={"compare_type": True, "include_object": include_object}
                ),
                metadata,
            )
        assert diff == [], f"models and migrations disagree: {diff}"
        # Downgrade to nothing and back proves every migration is reversible.
        command.downgrade(alembic_config(engine), "base")
        assert current_revision(engine) is None
        assert upgrade(engine)[1] == head_revision()
    finally:
        engine.dispose()


@pytest.mark.parametrize("fresh_db_url", BACKENDS, indirect=True)
def test_upgrade_is_idempotent(fresh_db_url: str) -> None:
    engine = build_engine(fresh_db_url)
    try:
        upgrade(engine)
        assert upgrade(engine) == (head_revision(), head_revision())
    finally:
        engine.dispose()


@pytest.mark.parametrize("fresh_db_url", [BACKENDS[0]], indirect=True)
def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(fresh_db_url: str) -> None:
    engine = build_engine(fresh_db_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    finally:
        engine.dispose()
