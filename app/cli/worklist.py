"""``gapdesk worklist``: the work lists each dismissal reason feeds, and the data-quality
tickets' rows as CSV (run by the server's administrator, as the system)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli.group import GapdeskGroup
from app.core.db import get_engine, session_scope
from app.sources.tickets import tickets_csv
from review_queue.permissions import SYSTEM
from review_queue.routing import LIST_TITLES, WorkKind
from review_queue.work_items import list_work


@click.group("worklist", cls=GapdeskGroup)
def worklist() -> None:
    """The work lists: rule tuning, data-quality tickets, proposed exceptions, duplicates."""


@worklist.command("list")
@click.option("--kind", type=click.Choice([k.value for k in WorkKind]), default=None,
              help="One list (default: all four).")  # fmt: skip
@click.option("--all", "include_closed", is_flag=True, help="Include closed items.")
def worklist_list(kind: str | None, include_closed: bool) -> None:
    """Each item: number, finding, status, age in days, owner, detector and title."""
    kinds = [WorkKind(kind)] if kind else list(WorkKind)
    with session_scope(get_engine(), read_only=True) as session:
        for which in kinds:
            rows = list_work(
                session=session, actor=SYSTEM, kind=which, include_closed=include_closed
            )
            click.echo(f"{LIST_TITLES[which]}: {len(rows)}")
            for r in rows:
                click.echo(
                    f"  #{r.id:<5} finding #{r.finding_id:<6} {r.status:<9} {r.age_days:>4} d  "
                    f"{r.owner or 'nobody':<12} {r.detector}: {r.title}"
                )


@worklist.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the CSV here (default: standard output).")  # fmt: skip
@click.option("--all", "include_closed", is_flag=True, help="Include closed tickets.")
def worklist_export(out: Path | None, include_closed: bool) -> None:
    """The data-quality tickets' rows as CSV, cells defused for spreadsheets."""
    with session_scope(get_engine(), read_only=True) as session:
        text = tickets_csv(session=session, actor=SYSTEM, include_closed=include_closed)
    if out is None:
        sys.stdout.write(text)
        return
    tmp = out.with_name(out.name + ".partial")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from None
    tmp.replace(out)  # a failed export never leaves a half-written file under the real name
    click.echo(f"wrote the data-quality tickets to {out}", err=True)
