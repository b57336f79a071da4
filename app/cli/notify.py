"""``gapdesk notify``: deliver the outbox's webhooks and e-mails (cron or daemon), queue the
weekly digest, and register webhooks from the shell."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from app.cli.group import GapdeskGroup
from app.core.db import get_engine, session_scope
from app.core.settings import get_settings
from review_queue.outbox import SEVERITY_ORDER, SUBSCRIBABLE
from review_queue.permissions import SYSTEM


@click.group("notify", cls=GapdeskGroup)
def notify() -> None:
    """Webhooks and e-mail: deliver what is due, the weekly digest."""


def _say(round_: object) -> str:
    from app.notify.deliver import DeliveryRound

    assert isinstance(round_, DeliveryRound)
    line = f"delivered {round_.delivered}, retrying later {round_.retrying}, failed {round_.failed}"
    if round_.waiting_for_smtp:
        line += f"; {round_.waiting_for_smtp} e-mails wait: set GAPDESK_SMTP_HOST to send them"
    return line


@notify.command("deliver")
@click.option("--once", is_flag=True, help="One round, then exit (for cron).")
@click.option("--every", default=5.0, show_default=True, type=click.FloatRange(0.5, 3600),
              help="Seconds between rounds when running as a daemon.")  # fmt: skip
def deliver_command(once: bool, every: float) -> None:
    """Post due webhooks (signed) and send due e-mails; retries wait with back-off."""
    from app.notify.deliver import deliver_due, run_deliverer

    engine = get_engine()
    if once:
        click.echo(_say(deliver_due(engine=engine)))
        return
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"delivering every {every:g} s (Ctrl+C stops)")
    run_deliverer(engine, stop, every)


@notify.command("digest")
@click.option("--weeks", default=4, show_default=True, type=click.IntRange(1, 52))
@click.option("--no-deliver", is_flag=True, help="Only queue the e-mails.")
def digest_command(weeks: int, no_deliver: bool) -> None:
    """Queue the weekly Trends digest to every manager who wants it, then deliver (cron, weekly)."""
    from app.notify.deliver import deliver_due
    from app.notify.digest import queue_weekly_digest

    engine = get_engine()
    with session_scope(engine) as session:
        queued = queue_weekly_digest(session=session, actor=SYSTEM, weeks=weeks)
    if not queued.recipients:
        click.echo(f"no manager wants the digest for {queued.period}")
        return
    click.echo(
        f"digest for {queued.period} ({queued.takeaways} takeaways) queued to "
        + ", ".join(queued.recipients)
    )
    if not no_deliver:
        click.echo(_say(deliver_due(engine=engine, settings=get_settings())))


@notify.command("add-webhook")
@click.argument("url")
@click.option("--event", "events", multiple=True, required=True,
              type=click.Choice([k.value for k in SUBSCRIBABLE]))  # fmt: skip
@click.option("--min-severity", type=click.Choice(list(SEVERITY_ORDER)), default=None)
@click.option("--description", default="")
def add_webhook_command(
    url: str, events: tuple[str, ...], min_severity: str | None, description: str
) -> None:
    """Register a webhook (as on the Webhooks page); its secret is printed once."""
    from app.notify.webhooks import register_endpoint

    with session_scope(get_engine()) as session:
        view, secret = register_endpoint(
            session=session, actor=SYSTEM, url=url, events=list(events),
            min_severity=min_severity, description=description,
        )  # fmt: skip
    click.echo(f"webhook #{view.id} for {', '.join(view.events)} at {view.url}")
    click.echo(f"secret (shown once, verify each delivery's Gapdesk-Signature with it): {secret}")
