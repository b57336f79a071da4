"""``gapdesk api`` (the REST API server) and ``gapdesk tokens`` (a user's API tokens)."""

from __future__ import annotations

import click
from sqlmodel import Session, col, select

from app.auth.api_tokens import Scope, create_api_token, list_api_tokens, revoke_api_token
from app.cli.group import GapdeskGroup
from app.core.db import get_engine, session_scope
from app.core.errors import UserError
from review_queue.permissions import Actor
from review_queue.tables import User


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8502, show_default=True, type=click.IntRange(1, 65535))
@click.option("--deliver/--no-deliver", default=False, show_default=True,
              help="Also deliver webhooks and e-mail from a background thread "
              "(instead of `gapdesk notify deliver`).")  # fmt: skip
def api_command(host: str, port: int, deliver: bool) -> None:
    """Serve the REST API (OpenAPI docs at /docs) beside the Streamlit app."""
    import uvicorn

    from app.api.app import create_app

    engine = get_engine()
    api = create_app(engine)  # fails here, in one line, if the database is unusable
    if deliver:
        from app.notify.deliver import start_background_deliverer

        start_background_deliverer(engine)
        click.echo("delivering webhooks and e-mail in the background")
    click.echo(f"Gapdesk API at http://{host}:{port}  (docs at /docs; Ctrl+C stops it)")
    uvicorn.run(api, host=host, port=port, log_level="warning")


def _person(session: Session, name: str) -> Actor:
    # The server's administrator acts for the user: the token is theirs, with their role.
    user = session.exec(select(User).where(col(User.name) == name)).first()
    if user is None or not user.active:
        raise UserError(f"no active user named {name!r}")
    return Actor.of(user)


@click.group("tokens", cls=GapdeskGroup)
def tokens() -> None:
    """Personal API tokens of a user (the same as on their API tokens page)."""


@tokens.command("create")
@click.option("--user", "user_name", required=True, help="Whose token it is.")
@click.option("--name", required=True, help="What it is for, e.g. 'LMS plug-in'.")
@click.option("--scope", type=click.Choice([s.value for s in Scope]), default="read",
              show_default=True)  # fmt: skip
def tokens_create(user_name: str, name: str, scope: str) -> None:
    """Create a token and print it (once: only its hash is kept)."""
    with session_scope(get_engine()) as session:
        view, token = create_api_token(
            session=session, actor=_person(session, user_name), name=name, scope=scope
        )
    click.echo(f"token #{view.id} for {user_name} ({view.scope}): {token}")
    click.echo("keep it now: it is not shown again")


@tokens.command("list")
@click.option("--user", "user_name", required=True)
def tokens_list(user_name: str) -> None:
    """A user's tokens (never the tokens themselves)."""
    with session_scope(get_engine(), read_only=True) as session:
        rows = list_api_tokens(session=session, actor=_person(session, user_name))
    if not rows:
        click.echo(f"{user_name} has no API tokens")
    for t in rows:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M} UTC" if t.last_used_at else "never"
        click.echo(f"#{t.id}  {t.scope:<5}  {state:<22}  last used {used}  {t.name}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.option("--user", "user_name", required=True)
def tokens_revoke(token_id: int, user_name: str) -> None:
    """Revoke one of a user's tokens; its next call is refused."""
    with session_scope(get_engine()) as session:
        view = revoke_api_token(
            session=session, actor=_person(session, user_name), token_id=token_id
        )
    click.echo(f"revoked token #{view.id} ({view.name}) of {user_name}")
