"""Commands that bring data in: ingest a snapshot folder, list stored snapshots."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.progress import progress_printer
from app.core.db import get_engine, session_scope
from app.sources.store import ingest, list_snapshots
from review_queue.permissions import SYSTEM


@click.command("ingest")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--mapping", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A TOML column mapping for exports that are not in contract shape.")  # fmt: skip
@click.option("--quarantine", is_flag=True,
              help="Set rows that break a row-level rule aside instead of failing.")  # fmt: skip
def ingest_command(path: Path, mapping: Path | None, quarantine: bool) -> None:
    """Validate the snapshot folder PATH and store it (whole, or not at all)."""
    with progress_printer("ingesting") as progress:
        outcome = ingest(
            engine=get_engine(), actor=SYSTEM, path=path, mapping=mapping,
            quarantine=quarantine, progress=progress,
        )  # fmt: skip
    record = outcome.record
    if outcome.already_known:
        click.echo(f"already ingested as snapshot {record.id} on {record.ingested_at:%Y-%m-%d}")
        return
    rows = sum(int(n) for n in record.row_counts.values())
    click.echo(
        f"snapshot {record.id} accepted: as_of {record.as_of.isoformat()}, {rows:,} rows in "
        f"{len(record.row_counts)} tables"
    )
    for name, n in record.quarantined_counts.items():
        click.echo(f"  quarantined {n:,} rows of {name} (see the report beside the snapshot)")
    for note in record.notes:
        click.echo(f"  note: {note}")


@click.command("snapshots")
def snapshots_command() -> None:
    """List stored snapshots, newest first."""
    with session_scope(get_engine()) as session:
        records = list_snapshots(session=session, actor=SYSTEM)
    if not records:
        click.echo("no snapshots yet: `gapdesk ingest PATH` stores one")
        return
    for r in records:
        rows = sum(int(n) for n in r.row_counts.values())
        click.echo(
            f"{r.id}  as_of {r.as_of:%Y-%m-%d %H:%M}  {rows:>10,} rows  "
            f"ingested {r.ingested_at:%Y-%m-%d %H:%M} by {r.ingested_by}  {r.source}"
        )
