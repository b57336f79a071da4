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
