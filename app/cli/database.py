"""``gapdesk db``: migrations and the database's revision."""

from __future__ import annotations

import click

from app.cli.group import GapdeskGroup
from app.core.db import (
    current_revision,
    head_revision,
)
from app.core.db import upgrade as upgrade_db


@click.group(cls=GapdeskGroup)
def db() -> None:
    """The database: migrations and status."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from app.core.db import open_engine

    engine = open_engine(migrate=False)
    before, after = upgrade_db(engine)
    if before == after:
        click.echo(f"database already at {after} (head)")
    else:
        click.echo(f"database migrated from {before or 'empty'} to {after}")


@db.command("current")
def db_current() -> None:
    """Show the database's migration revision and whether it is current."""
    from app.core.db import open_engine

    engine = open_engine(migrate=False)
    current, head = current_revision(engine), head_revision()
    state = "current" if current == head else f"behind head {head}"
    click.echo(f"{current or 'empty'} ({state})")


@db.command("grant-app")
@click.argument("role")
def db_grant_app(role: str) -> None:
    """Give the app's PostgreSQL ROLE what it needs: only INSERT and SELECT on the log."""
    from app.core.db import open_engine
    from app.core.db_roles import grant_app_role

    grant_app_role(open_engine(migrate=False), role)
    click.echo(f"{role} may read and write Gapdesk's tables; on the feedback log only insert")
