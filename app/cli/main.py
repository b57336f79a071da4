"""The ``gapdesk`` command. Every command exits 0 on success and 1 with one line on failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from app.cli.group import GapdeskGroup
from app.core.db import (
    get_engine,
    session_scope,
)
from app.core.settings import get_settings


@click.group(cls=GapdeskGroup)
@click.version_option(package_name="gapdesk")
def cli() -> None:
    """Gapdesk: find the hidden operational gaps of a learning programme, and decide each one."""


def _serve(port: int, address: str, headless: bool) -> None:
    get_engine()  # fail here, in one line, if the database is unusable
    root = Path(__file__).resolve().parents[2]
    args = [
        sys.executable, "-m", "streamlit", "run", str(root / "app" / "web" / "server.py"),
        "--server.port", str(port), "--server.address", address,
        "--server.headless", "true" if headless else "false",
    ]  # fmt: skip
    click.echo(f"Gapdesk at http://{address}:{port}  (Ctrl+C stops it)")
    # Streamlit reads .streamlit/ from its working directory; keep GAPDESK_HOME where it was.
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "GAPDESK_HOME": str(get_settings().home.resolve()),
    }
    try:
        raise SystemExit(subprocess.call(args, env=env, cwd=root))  # noqa: S603
    except KeyboardInterrupt:
        raise SystemExit(0) from None


@cli.command("demo")
@click.option("--port", default=8501, show_default=True, type=int)
@click.option("--address", default="127.0.0.1", show_default=True)
@click.option("--weeks", default=4, show_default=True, type=click.IntRange(0, 26),
              help="Weeks of reviewing to replay, for charts with a history.")  # fmt: skip
@click.option("--no-serve", is_flag=True, help="Set up the demo but do not start the app.")
def demo(port: int, address: str, weeks: int, no_serve: bool) -> None:
    """Generate and ingest the demo organisation, replay weeks of reviewing, start the app."""
    from app.demo.set_up import ensure_demo_accounts, set_up_demo_data

    engine = get_engine()
    created = {a.name: a.password for a in set_up_demo_data(engine=engine, echo=click.echo,
                                                             weeks=weeks)}  # fmt: skip
    with session_scope(engine) as session:
        accounts = ensure_demo_accounts(session=session)  # any deleted since are made again
    click.echo("Demo accounts (passwords are shown only when an account is created):")
    for account in accounts:
        shown = (
            created.get(account.name) or account.password
            or "(already set; `gapdesk users set-password NAME` resets it)"
        )  # fmt: skip
        click.echo(f"  {account.role.value:<10}  user {account.name:<10}  password {shown}")
    if not no_serve:
        _serve(port, address, headless=True)


@cli.command("serve")
@click.option("--port", default=8501, show_default=True, type=int)
@click.option("--address", default="127.0.0.1", show_default=True)
@click.option("--headless/--browser", default=True, help="Do not open a browser window.")
def serve(port: int, address: str, headless: bool) -> None:
    """Start the web app (migrating the database first)."""
    _serve(port, address, headless)


def main() -> None:
    """Entry point of the ``gapdesk`` console script."""
    cli(prog_name="gapdesk")


# Each area's commands live in their own module and are imported only when used, so that
# `gapdesk health` from a monitor does not pay for loading scikit-learn.
LAZY_COMMANDS = {
    "db": "app.cli.database:db",
    "users": "app.cli.users:users",
    "api": "app.cli.api:api_command",
    "tokens": "app.cli.api:tokens",
    "notify": "app.cli.notify:notify",
    "ingest": "app.cli.data:ingest_command",
    "snapshots": "app.cli.data:snapshots_command",
    "demo-data": "app.cli.demo_data:demo_data_command",
    "import": "app.cli.imports:import_group",
    "detect": "app.cli.queue:detect",
    "evaluate": "app.cli.queue:evaluate",
    "log": "app.cli.queue:log",
    "export": "app.cli.queue:export",
    "report": "app.cli.trend_report:report",
    "health": "app.cli.ops:health_command",
    "backup": "app.cli.ops:backup_command",
    "restore": "app.cli.ops:restore_command",
    "retrain": "app.cli.learning:retrain_command",
    "rollback": "app.cli.learning:rollback_command",
    "models": "app.cli.learning:models_command",
    "ledger": "app.cli.learning:ledger_command",
    "worklist": "app.cli.worklist:worklist",
    "bench": "app.cli.learning:bench_group",
    "audit": "app.cli.audit:audit_group",
}


cli.lazy = LAZY_COMMANDS
