"""PostgreSQL roles: an owner runs the migrations, the application's role may only INSERT into
and SELECT from the feedback log, and move its head forward (the head's trigger checks how).

Set up once, as a superuser: ``CREATE ROLE gapdesk_owner LOGIN PASSWORD …; CREATE ROLE
gapdesk_app LOGIN PASSWORD …; CREATE DATABASE gapdesk OWNER gapdesk_owner``. Then, with
``GAPDESK_DATABASE_URL`` naming the owner: ``gapdesk db upgrade`` and ``gapdesk db grant-app
gapdesk_app`` (again after every upgrade, for new tables); the app runs with the URL of
``gapdesk_app``. Not being the owner, the app's role can neither drop nor disable the triggers.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from app.core.errors import UserError

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def app_role_grants(role: str) -> list[str]:
    """The statements that give ``role`` what the application needs and no more."""
    if not _ROLE_NAME.fullmatch(role):
        raise UserError(f"{role!r} is not a plain role name (lower-case letters, digits, _)")
    quoted = f'"{role}"'
    return [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON feedback_log FROM {quoted}",
        f"REVOKE INSERT, DELETE, TRUNCATE, REFERENCES, TRIGGER ON feedback_log_head FROM {quoted}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {quoted}",
    ]


def grant_app_role(engine: Engine, role: str) -> None:
    """Give the application's PostgreSQL role its privileges (run as the tables' owner)."""
    if engine.dialect.name != "postgresql":
        raise UserError("roles are a PostgreSQL matter: SQLite has no roles")
    statements = app_role_grants(role)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise UserError(f"cannot grant {role} its privileges: {reason}") from None
