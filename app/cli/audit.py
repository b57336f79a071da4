"""``gapdesk audit``: audit samples for cron, and the figures they give."""

from __future__ import annotations

import click

from app.core.db import get_engine, session_scope
from app.detection.audits import MAX_PERIOD_DAYS, draw_audit_sample
from review_queue.audit_figures import audit_estimates
from review_queue.permissions import SYSTEM


@click.group("audit")
def audit_group() -> None:
    """Audit samples: a second look at dismissals and at what the detectors passed over."""


@audit_group.command("sample")
@click.option(
    "--period-days", type=click.IntRange(1, MAX_PERIOD_DAYS), default=7, show_default=True,
    help="sample the dismissals of this many days up to now",
)  # fmt: skip
@click.option(
    "--width", type=click.FloatRange(0.0, 1.0, min_open=True), default=None,
    help="target width of each share's 95% interval (default: GAPDESK_AUDIT_INTERVAL_WIDTH)",
)  # fmt: skip
@click.option("--seed", type=int, default=None, help="random seed (default: fresh randomness)")
def sample_command(period_days: int, width: float | None, seed: int | None) -> None:
    """Draw this period's audit sample on the current snapshot into the Audits lane."""
    summary = draw_audit_sample(
        engine=get_engine(), actor=SYSTEM, period_days=period_days, width=width, seed=seed
    )
    click.echo(summary.describe())


@audit_group.command("figures")
def figures_command() -> None:
    """Wrong dismissals and recall per category from the latest audit sample."""
    with session_scope(get_engine(), read_only=True) as session:
        rows = audit_estimates(session=session, actor=SYSTEM)
    if not rows:
        click.echo("no audit sample yet: run `gapdesk audit sample`")
        return
    for r in rows:
        parts = [f"{r.category}:"]
        if r.dismissal_errors is not None:
            e = r.dismissal_errors
            parts.append(
                f"wrong dismissals {e.share:.2f} [{e.share_low:.2f}, {e.share_high:.2f}] "
                f"({e.found} of {e.sampled} audited)"
            )
        if r.recall is not None and r.recall.estimate is not None:
            rc = r.recall
            parts.append(
                f"recall {rc.estimate:.2f} [{rc.low:.2f}, {rc.high:.2f}] "
                f"({rc.misses.found} misses in {rc.misses.sampled} of {rc.misses.population})"
            )
        if r.waiting:
            parts.append(f"{r.waiting} waiting")
        click.echo(" ".join(parts))
