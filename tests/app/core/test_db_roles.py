"""On PostgreSQL an owner role runs the migrations and the app's role may only INSERT into and
SELECT from the feedback log (issue 15.6): roles the test creates on the real server."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.core.db import build_engine, upgrade
from app.core.db_roles import grant_app_role
from review_queue.decisions import decide
from review_queue.feedback_log import verify_chain
from tests.helpers.queue_fixtures import add_finding, add_people

pytestmark = pytest.mark.postgres


@pytest.fixture
def owner_and_app(pg_server: str) -> Iterator[tuple[str, str, str]]:
    """A database owned by a fresh owner role, and a fresh app role (dropped afterwards)."""
    tag = secrets.token_hex(4)
    owner, app, name = f"gd_owner_{tag}", f"gd_app_{tag}", f"gapdesk_roles_{tag}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {owner} LOGIN")  # type: ignore[arg-type]
        conn.execute(f"CREATE ROLE {app} LOGIN")  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}" OWNER {owner}')  # type: ignore[arg-type]
    base = pg_server.rsplit("/", 1)[0].split("://", 1)[1].split("@", 1)[1]
    try:
        yield owner, app, f"postgresql+psycopg://{{}}@{base}/{name}"
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
            conn.execute(f"DROP ROLE IF EXISTS {app}")  # type: ignore[arg-type]
            conn.execute(f"DROP ROLE IF EXISTS {owner}")  # type: ignore[arg-type]


def test_the_app_role_may_only_append_to_the_log(owner_and_app: tuple[str, str, str]) -> None:
    owner, app, url = owner_and_app
    as_owner = build_engine(url.format(owner))
    upgrade(as_owner)
    grant_app_role(as_owner, app)
    as_owner.dispose()
    engine = build_engine(url.format(app))
    try:
        with Session(engine, expire_on_commit=False) as s:
            ada = add_people(s)["ada"]
            finding = add_finding(s, 1)
            decide(session=s, actor=ada, finding_id=finding.id or 0, action="confirm",
                   expected_row_version=finding.row_version)  # fmt: skip
            s.commit()
        for statement in [
            "UPDATE feedback_log SET comment = 'x'",
            "DELETE FROM feedback_log",
            "TRUNCATE feedback_log CASCADE",
            "TRUNCATE feedback_log_head",
            "DELETE FROM feedback_log_head",
            "ALTER TABLE feedback_log DISABLE TRIGGER ALL",
            "DROP TRIGGER feedback_log_no_update_delete ON feedback_log",
            "SET session_replication_role = replica",
        ]:
            with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
                conn.execute(text(statement))
            assert "permission denied" in str(caught.value.orig) or "must be owner" in str(
                caught.value.orig
            ), statement
        with Session(engine) as s:
            check = verify_chain(session=s)
        assert check.ok and check.rows == 1
    finally:
        engine.dispose()
