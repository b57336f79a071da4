"""``gapdesk demo-data OUT``: write the synthetic demo organisation with its ground truth."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click

from app.core.errors import UserError
from app.demo.organisation import DEFAULT_AS_OF, generate_demo_org


@click.command("demo-data")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same bytes.")
@click.option("--people", type=int, default=2000, show_default=True, help="Staff on the HR roster.")
@click.option(
    "--days", type=int, default=120, show_default=True, help="Days of activity before as_of."
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=DEFAULT_AS_OF.strftime("%Y-%m-%d"),
    show_default=True,
    help="The snapshot's 'now' (a UTC date).",
)
@click.option(
    "--near-misses",
    is_flag=True,
    help="Also write look-alikes the rules flag and the organisation knows to be fine "
    "(near_misses.csv), as a real organisation has them.",
)
@click.option(
    "--shard-people",
    type=int,
    default=None,
    help="Generate in shards of this many people, appended to the files (default: one shard up "
    "to 200,000 people, shards of 100,000 above).",
)
@click.option("--force", is_flag=True, help="Replace the files of an earlier demo in OUT.")
def demo_data_command(
    out: Path,
    seed: int,
    people: int,
    days: int,
    as_of: datetime,
    near_misses: bool,
    shard_people: int | None,
    force: bool,
) -> None:
    """Write a demo organisation with injected gaps and ground_truth.csv into OUT."""
    started = time.perf_counter()
    try:
        summary = generate_demo_org(
            out,
            seed=seed,
            people=people,
            days=days,
            as_of=as_of.replace(tzinfo=UTC),
            overwrite=force,
            near_misses=near_misses,
            shard_people=shard_people,
        )
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    seconds = time.perf_counter() - started
    tables = ", ".join(f"{name} {count:,}" for name, count in summary.rows.items())
    click.echo(f"wrote {summary.total_rows:,} rows to {out} in {seconds:.1f} s: {tables}")
    gaps = sum(summary.gaps.values())
    click.echo(
        f"injected {gaps} gaps in {len(summary.gaps)} categories; see {out / 'ground_truth.csv'}"
    )
    if summary.near_misses:
        click.echo(
            f"and {sum(summary.near_misses.values())} near misses in "
            f"{len(summary.near_misses)} categories; see {out / 'near_misses.csv'}"
        )
