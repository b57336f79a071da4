"""Commands that learn from decisions: retrain, list model versions, roll back, and the
active-discovery benchmark through the real queue services."""

from __future__ import annotations

from pathlib import Path

import click

from app.core.db import get_engine, session_scope
from app.learning.discovery_bench import bench_discovery
from app.learning.model_store import list_versions
from app.learning.retraining import promote, retrain
from app.learning.rule_ledger import apply_suggestion, rule_ledger_tables
from models.learning.priority import DEFAULT_EXPLORATION_SHARE, DEFAULT_K
from review_queue.permissions import SYSTEM


@click.command("retrain")
@click.option("--k", default=DEFAULT_K, show_default=True, type=click.IntRange(1, 10_000),
              help="Precision at k for the gate: a week of reviewing capacity.")  # fmt: skip
@click.option("--holdout", default=0.25, show_default=True, type=click.FloatRange(0.05, 0.5),
              help="Share of the latest decisions held out for the gate.")  # fmt: skip
@click.option("--exploration", default=DEFAULT_EXPLORATION_SHARE, show_default=True,
              type=click.FloatRange(0.0, 0.5),
              help="Share of the top k given to exploration.")  # fmt: skip
def retrain_command(k: int, holdout: float, exploration: float) -> None:
    """Train a priority model from the feedback log; promote it only if it beats the current."""
    with session_scope(get_engine()) as session:
        result = retrain(
            session=session, actor=SYSTEM, k=k, holdout_share=holdout,
            exploration_share=exploration,
        )  # fmt: skip
        row = result.version
        m = row.metrics
        click.echo(
            f"model {row.version}: trained on {row.training_size} decisions; held out "
            f"{m['holdout_size']}: precision@{m['k_evaluated']} {m['precision_at_k']:.3f} vs "
            f"{m['current_precision_at_k']:.3f} ({m['compared_with']})"
        )
        if result.promoted:
            click.echo(f"promoted ({result.reason}); {result.rescored} open findings rescored")
        else:
            click.echo(f"kept as a candidate: {result.reason}")


@click.command("models")
def models_command() -> None:
    """List the priority model versions with their figures and who promoted them."""
    with session_scope(get_engine()) as session:
        rows = list_versions(session=session)
        if not rows:
            click.echo("no priority model yet (gapdesk retrain trains one)")
        for row in rows:
            m = row.metrics or {}
            figure = m.get("precision_at_k")
            shown = (
                f"precision@{m.get('k_evaluated', m.get('k'))} {figure:.3f}"
                if figure is not None
                else ""
            )
            who = f" by {row.promoted_by}" if row.promoted_by else ""
            click.echo(
                f"{row.version:<24} {row.status:<10} trained on {row.training_size:>5}  "
                f"{shown}{who}"
            )


@click.command("rollback")
@click.argument("version")
def rollback_command(version: str) -> None:
    """Promote an earlier priority model VERSION again (see gapdesk models)."""
    with session_scope(get_engine()) as session:
        rescored = promote(session=session, actor=SYSTEM, version=version)
    click.echo(f"model {version} promoted; {rescored} open findings rescored")


@click.command("ledger")
@click.option("--apply", "apply_n", type=int, default=None, metavar="N",
              help="Apply suggestion N as the detector's next configuration version.")  # fmt: skip
def ledger_command(apply_n: int | None) -> None:
    """The rule ledger: how each detector fares with reviewers, and numbered suggestions."""
    with session_scope(get_engine()) as session:
        ledger, suggestions = rule_ledger_tables(session=session, actor=SYSTEM)
        if apply_n is not None:
            if not 1 <= apply_n <= len(suggestions):
                raise click.ClickException(
                    f"there is no suggestion {apply_n}; the ledger has {len(suggestions)}"
                )
            chosen = suggestions[apply_n - 1]
            config = apply_suggestion(session=session, actor=SYSTEM, suggestion=chosen)
            click.echo(
                f"{chosen.detector}: configuration v{config.version} applies from the next "
                f"detection run ({chosen.describe()})"
            )
            return
    columns = ["detector", "proposals", "confirmed", "dismissed", "precision"]
    click.echo(ledger[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if not suggestions:
        click.echo("no suggestions yet")
    for n, suggestion in enumerate(suggestions, start=1):
        click.echo(f"{n}. {suggestion.describe()}")


@click.group("bench")
def bench_group() -> None:
    """Benchmarks run through the real services."""


@bench_group.command("discovery")
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--label-column", default="label", show_default=True)
@click.option("--positive", default="anomaly", show_default=True,
              help="The label value that marks a true gap.")  # fmt: skip
@click.option("--budget", default=300, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--runs", default=10, show_default=True, type=click.IntRange(1, 100))
def bench_discovery_command(
    data: Path, label_column: str, positive: str, budget: int, runs: int
) -> None:
    """Active anomaly discovery through the queue: found with feedback vs isolation forest."""
    bench_discovery(
        data, label_column=label_column, positive=positive, budget=budget, runs=runs,
        echo=click.echo,
    )  # fmt: skip
