"""The ``gapdesk`` command. Every command exits 0 on success and 1 with one line on failure."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from app.auth.accounts import AccountError, create_user, list_users, set_password
from app.core.db import (
    DatabaseUnavailable,
    current_revision,
    get_engine,
    head_revision,
    session_scope,
)
from app.core.db import upgrade as upgrade_db
from app.core.errors import UserError
from app.core.settings import ConfigError, get_settings
from review_queue.permissions import SYSTEM
from review_queue.tables import Role

# Errors a person can act on: shown as one line, never as a traceback.
_EXPECTED = (UserError, ConfigError, DatabaseUnavailable, AccountError, PermissionError)


class GapdeskGroup(click.Group):
    """A command group that turns expected failures into one clear line and exit code 1.

    ``lazy`` maps command names to ``module:attribute``; they are imported on first use.
    """

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module_name, attribute = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _EXPECTED as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=GapdeskGroup)
@click.version_option(package_name="gapdesk")
def cli() -> None:
    """Gapdesk: find the hidden operational gaps of a learning programme, and decide each one."""


@cli.group(cls=GapdeskGroup)
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


@cli.group(cls=GapdeskGroup)
def users() -> None:
    """Accounts that may sign in."""


@users.command("add")
@click.argument("name")
@click.option("--email", required=True, help="The person's email (also used for single sign-on).")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (for scripts)."
)
@click.option("--no-password", is_flag=True, help="Single-sign-on only: no password sign-in.")
def users_add(name: str, email: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Add an account. The password is prompted (hidden) unless read from stdin."""
    password: str | None
    if no_password:
        password = None
    elif password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UserError("no password on standard input")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with session_scope(get_engine()) as session:
        user = create_user(
            session=session, actor=SYSTEM, name=name, email=email, role=role, password=password
        )
        click.echo(f"added {user.name} <{user.email}> as {user.role}")


@users.command("list")
def users_list() -> None:
    """List every account (never a password or its hash)."""
    with session_scope(get_engine()) as session:
        rows = list_users(session=session, actor=SYSTEM)
    if not rows:
        click.echo("no users yet: add one with `gapdesk users add NAME --email E --role admin`")
        return
    width = max(len(u.name) for u in rows)
    for u in rows:
        state = "" if u.active else "  (disabled)"
        click.echo(f"{u.name:<{width}}  {u.role:<10}  {u.email}{state}")


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def users_set_password(name: str, password_stdin: bool) -> None:
    """Give an account a new password (prompted, hidden)."""
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with session_scope(get_engine()) as session:
        set_password(session=session, actor=SYSTEM, name=name, password=password)
    click.echo(f"password of {name} changed")


def _serve(port: int, address: str, headless: bool) -> None:
    get_engine()  # fail here, in one line, if the database is unusable
    root = Path(__file__).resolve().parent.parent
    args = [
        sys.executable, "-m", "streamlit", "run", str(root / "app" / "main.py"),
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
    from app.demo import ensure_demo_accounts, set_up_demo_data

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
    "ingest": "app.commands.data:ingest_command",
    "snapshots": "app.commands.data:snapshots_command",
    "demo-data": "app.commands.demo_data:demo_data_command",
    "import": "app.commands.imports:import_group",
    "detect": "app.commands.queue:detect",
    "evaluate": "app.commands.queue:evaluate",
    "log": "app.commands.queue:log",
    "export": "app.commands.queue:export",
    "report": "app.commands.report:report",
    "health": "app.commands.ops:health_command",
    "backup": "app.commands.ops:backup_command",
    "restore": "app.commands.ops:restore_command",
    "retrain": "app.commands.learning:retrain_command",
    "rollback": "app.commands.learning:rollback_command",
    "models": "app.commands.learning:models_command",
    "ledger": "app.commands.learning:ledger_command",
    "bench": "app.commands.learning:bench_group",
}


cli.lazy = LAZY_COMMANDS
