"""``gapdesk users``: accounts that may sign in."""

from __future__ import annotations

import sys

import click

from app.auth.accounts import (
    create_user,
    list_users,
    revoke_tokens,
    set_active,
    set_password,
    set_role,
)
from app.auth.api_tokens import live_token_counts
from app.cli.group import GapdeskGroup
from app.core.db import (
    get_engine,
    session_scope,
)
from app.core.errors import UserError
from review_queue.permissions import SYSTEM
from review_queue.tables import Role


@click.group(cls=GapdeskGroup)
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
        tokens = live_token_counts(session=session, actor=SYSTEM)
    if not rows:
        click.echo("no users yet: add one with `gapdesk users add NAME --email E --role admin`")
        return
    width = max(len(u.name) for u in rows)
    mail = max(len(u.email) for u in rows)
    for u in rows:
        state = "active" if u.active else "deactivated"
        last = f"{u.last_sign_in_at:%Y-%m-%d %H:%M} UTC" if u.last_sign_in_at else "never"
        live = tokens.get(u.id or -1, 0)
        click.echo(
            f"{u.name:<{width}}  {u.role:<10}  {u.email:<{mail}}  {state:<11}  "
            f"last sign-in {last:<20}  API tokens {live}"
        )


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


@users.command("deactivate")
@click.argument("name")
def users_deactivate(name: str) -> None:
    """Stop an account from signing in; its browser sessions end and its API tokens are revoked."""
    with session_scope(get_engine()) as session:
        set_active(session=session, actor=SYSTEM, name=name, active=False)
    click.echo(f"{name} deactivated: signed out everywhere, API tokens revoked, cannot sign in")


@users.command("activate")
@click.argument("name")
def users_activate(name: str) -> None:
    """Let a deactivated account sign in again."""
    with session_scope(get_engine()) as session:
        set_active(session=session, actor=SYSTEM, name=name, active=True)
    click.echo(f"{name} activated: may sign in again")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice([r.value for r in Role]))
def users_set_role(name: str, role: str) -> None:
    """Give an account another role (its open tabs see it on their next rerun)."""
    with session_scope(get_engine()) as session:
        user = set_role(session=session, actor=SYSTEM, name=name, role=role)
    click.echo(f"{user.name} is now {user.role}")


@users.command("revoke-tokens")
@click.argument("name")
def users_revoke_tokens(name: str) -> None:
    """Revoke every live API token of an account at once (a lost laptop, a leaked token)."""
    with session_scope(get_engine()) as session:
        count = revoke_tokens(session=session, actor=SYSTEM, name=name)
    click.echo(
        f"{name}: {count} live API token(s) revoked" if count else f"{name} had no live API tokens"
    )
