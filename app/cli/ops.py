"""Operations commands: health (for monitors), backup and restore of the SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from app.core.backup import backup_sqlite, restore_sqlite
from app.core.health import health
from app.core.settings import get_settings


@click.command("health")
def health_command() -> None:
    """Exit 0 if the database answers and is migrated to head; 1 otherwise (one line)."""
    state = health(get_settings().resolved_database_url())
    if state.ok:
        click.echo(f"ok: database reachable, migrations current ({state.revision})")
        return
    raise click.ClickException(state.problem or "unhealthy")


@click.command("backup")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Backup file (default: $GAPDESK_HOME/backups/gapdesk-<time>.db).")  # fmt: skip
def backup_command(out: Path | None) -> None:
    """Back up the SQLite database online (the app may keep running)."""
    settings = get_settings()
    if out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = settings.home.resolve() / "backups" / f"gapdesk-{stamp}.db"
    path = backup_sqlite(settings.resolved_database_url(), out)
    click.echo(f"backed up to {path}")


@click.command("restore")
@click.argument("backup", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing database (stop the app first).")
def restore_command(backup: Path, force: bool) -> None:
    """Restore the SQLite database from BACKUP after checking it and its feedback-log chain."""
    check = restore_sqlite(get_settings().resolved_database_url(), backup, force=force)
    click.echo(
        f"restored from {backup}: revision {check.revision}, feedback log intact "
        f"({check.chain.rows} rows)"
    )
