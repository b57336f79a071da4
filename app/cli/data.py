"""Commands that bring data in: ingest a snapshot folder or real exports, list snapshots."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import pandas as pd

from app.cli.progress import progress_printer
from app.core.db import get_engine, session_scope
from app.detection.coverage import coverage_lines
from app.sources.convert import IngestOptions
from app.sources.intake import prepare_intake, store_intake
from app.sources.recognise import FORMATS
from app.sources.store import IngestOutcome, list_snapshots
from review_queue.permissions import SYSTEM


def _parse_as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    stamp = pd.Timestamp(value) if value.strip() else pd.NaT
    if pd.isna(stamp):
        raise click.BadParameter(f"{value!r} is not an ISO 8601 timestamp")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _check_timezone(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"{value!r} is not a time zone name (e.g. Europe/Madrid)"
        ) from None
    return value


@click.command("ingest")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--mapping", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A TOML column mapping for a snapshot folder not in contract form.")  # fmt: skip
@click.option("--quarantine", is_flag=True,
              help="Set rows that break a row-level rule aside instead of failing.")  # fmt: skip
@click.option("--format", "format_", type=click.Choice(sorted(FORMATS)), default=None,
              help="Read every file as this format instead of recognising it.")  # fmt: skip
@click.option("--year", type=int, default=None,
              help="Year of Moodle log times that carry none (default: this year).")  # fmt: skip
@click.option("--timezone", default="UTC", show_default=True, callback=_check_timezone,
              help="Time zone of times written without one (Moodle logs).")  # fmt: skip
@click.option("--encoding", default=None,
              help="Text encoding of files that are not UTF-8 (e.g. latin-1, cp1252).")  # fmt: skip
@click.option("--day-first/--month-first", "day_first", default=None,
              help="How to read numeric dates like 2/03/21 (default: from the data).")  # fmt: skip
@click.option("--as-of", default=None, callback=_parse_as_of,
              help="The moment the snapshot describes (default: its latest time).")  # fmt: skip
def ingest_command(
    sources: tuple[Path, ...], mapping: Path | None, quarantine: bool, format_: str | None,
    year: int | None, timezone: str, encoding: str | None, day_first: bool | None,
    as_of: Any,
) -> None:  # fmt: skip
    """Ingest SOURCES: a snapshot folder, or real exports (files, folders, archives).

    Each export is recognised from its content (Moodle logs and user lists, xAPI statements,
    Open edX tracking logs, Canvas SIS files, contract tables), converted, merged into one
    snapshot, validated and stored whole, or not at all.
    """
    options = IngestOptions(
        format=format_, year=year, timezone=timezone, encoding=encoding, day_first=day_first,
        as_of=as_of,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="gapdesk-ingest-") as tmp:
        with progress_printer("ingesting") as progress:
            intake = prepare_intake(
                actor=SYSTEM, sources=list(sources), options=options, workdir=Path(tmp),
                mapping=mapping, quarantine=quarantine, progress=progress, release_tables=True,
            )  # fmt: skip
        for conversion in intake.conversions:
            click.echo(conversion.render())
        for shown, why in intake.skipped:
            click.echo(f"{shown}: skipped ({why})")
        for note in intake.links:
            click.echo(f"joined: {note}")
        for note in intake.notes:
            click.echo(note)
        outcome = store_intake(engine=get_engine(), actor=SYSTEM, intake=intake)
    _print_outcome(outcome)


def _print_outcome(outcome: IngestOutcome) -> None:
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
    if outcome.result.snapshot is not None:
        for line in coverage_lines(
            engine=get_engine(), actor=SYSTEM, snapshot=outcome.result.snapshot
        ):
            click.echo(f"  coverage: {line}")


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
