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


@db.command("rebuild-trend-rollups")
@click.option(
    "--tz",
    default=None,
    help="Cut days in this zone (default: GAPDESK_REPORTING_TZ, which start-up restores).",
)
def db_rebuild_trend_rollups(tz: str | None) -> None:
    """Rebuild the Trends page's roll-ups from the findings and the feedback log."""
    import time
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from app.core.db import open_engine
    from app.core.settings import get_settings
    from review_queue.trends.rollups import rebuild_trend_rollups

    zone = tz or get_settings().reporting_tz
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"{zone!r} is not a time zone name", param_hint="--tz") from None
    engine = open_engine(migrate=False)
    if current_revision(engine) != head_revision():
        raise click.ClickException("the database is not at head: run `gapdesk db upgrade` first")
    t0 = time.perf_counter()
    with engine.begin() as conn:
        rebuild_trend_rollups(conn, zone)
    click.echo(f"trend roll-ups rebuilt for {zone} in {time.perf_counter() - t0:.1f} s")


@db.command("grant-app")
@click.argument("role")
def db_grant_app(role: str) -> None:
    """Give the app's PostgreSQL ROLE what it needs: only INSERT and SELECT on the log."""
    from app.core.db import open_engine
    from app.core.db_roles import grant_app_role

    grant_app_role(open_engine(migrate=False), role)
    click.echo(f"{role} may read and write Gapdesk's tables; on the feedback log only insert")
