"""Personal API tokens: created and revoked by their owner, scoped read or write.

Like a browser session token (app/auth/sessions.py), a token is random, shown once, and only its
SHA-256 is stored. A token acts as its user with the user's role as stored now: a role change
applies at the next call. Deactivating a user revokes their live tokens (so reactivating does not
bring old ones back), and an administrator can revoke every token of a user at once (a lost
laptop, a leaked token whose owner is away).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from app.core.errors import UserError
from review_queue.permissions import ADMIN_ONLY, EVERYONE, Actor, require_role
from review_queue.tables import ApiToken, User
from review_queue.types import utcnow

# Tokens start with this, so that a leaked one is recognisable (and scanners can find it).
PREFIX = "gdk_"
MAX_TOKENS_PER_USER = 20
# A token's last use is written at most this often: a call that only reads takes no lock.
TOUCH_EVERY = timedelta(minutes=1)


class Scope(StrEnum):
    """What a token may do: read only, or read and write."""

    read = "read"
    write = "write"


@dataclass(frozen=True)
class TokenView:
    """A token as its owner sees it in a list (never the token itself)."""

    id: int
    name: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class TokenCheck:
    """Whose a presented token is, and what it may do."""

    user: User
    token_id: int
    scope: Scope
    needs_touch: bool  # its last use is older than TOUCH_EVERY (written by touch_api_token)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _view(row: ApiToken) -> TokenView:
    assert row.id is not None
    return TokenView(row.id, row.name, row.scope, row.created_at, row.last_used_at, row.revoked_at)


def create_api_token(
    *, session: Session, actor: Actor, name: str, scope: Scope | str
) -> tuple[TokenView, str]:
    """A new token for the actor themself; returns it with the token (shown this once only)."""
    require_role(actor, EVERYONE, "creating an API token")
    if actor.id is None:
        raise UserError("an API token belongs to a person: name the user (gapdesk tokens --user)")
    name = (name or "").strip()
    if not name or len(name) > 80 or "\x00" in name:
        raise UserError("a token needs a name of 1 to 80 characters, saying what it is for")
    try:
        wanted = Scope(scope)
    except ValueError:
        raise UserError(f"scope {scope!r} is not read or write") from None
    live = session.exec(
        select(ApiToken).where(
            col(ApiToken.user_id) == actor.id, col(ApiToken.revoked_at).is_(None)
        )
    ).all()
    if len(live) >= MAX_TOKENS_PER_USER:
        raise UserError(f"{actor.name} has {len(live)} live tokens already; revoke one first")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(token_hash=_token_hash(token), user_id=actor.id, name=name, scope=wanted.value)
    session.add(row)
    session.flush()
    return _view(row), token


def list_api_tokens(*, session: Session, actor: Actor) -> list[TokenView]:
    """The actor's own tokens, newest first, revoked ones included."""
    require_role(actor, EVERYONE, "listing API tokens")
    rows = session.exec(
        select(ApiToken).where(col(ApiToken.user_id) == actor.id).order_by(col(ApiToken.id).desc())
    ).all()
    return [_view(r) for r in rows]


def revoke_api_token(*, session: Session, actor: Actor, token_id: int) -> TokenView:
    """Revoke one of the actor's own tokens (at once: its next call is refused)."""
    require_role(actor, EVERYONE, "revoking an API token")
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != actor.id:
        raise UserError(f"{actor.name} has no API token #{token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return _view(row)


def revoke_user_api_tokens(*, session: Session, actor: Actor, user_id: int) -> int:
    """Revoke every live token of one user (administrators); returns how many were live."""
    require_role(actor, ADMIN_ONLY, "revoking another user's API tokens")
    result = session.execute(
        update(ApiToken)
        .where(col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def live_token_counts(*, session: Session, actor: Actor) -> dict[int, int]:
    """How many live (not revoked) tokens each user has (administrators; the Users page)."""
    require_role(actor, ADMIN_ONLY, "counting users' API tokens")
    rows = session.exec(
        select(col(ApiToken.user_id), func.count())
        .where(col(ApiToken.revoked_at).is_(None))
        .group_by(col(ApiToken.user_id))
    ).all()
    return {int(user_id): int(n) for user_id, n in rows}


def check_api_token(*, session: Session, token: str) -> TokenCheck | None:
    """The active user and scope of a live (not revoked) token, or None. Reads only."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.exec(
        select(ApiToken, User)
        .join(User, col(User.id) == col(ApiToken.user_id))
        .where(col(ApiToken.token_hash) == _token_hash(token))
    ).first()
    if row is None:
        return None
    api_token, user = row
    if api_token.revoked_at is not None or not user.active:
        return None
    assert api_token.id is not None
    last = api_token.last_used_at
    due = last is None or utcnow() - last >= TOUCH_EVERY
    return TokenCheck(user, api_token.id, Scope(api_token.scope), needs_touch=due)


def touch_api_token(*, session: Session, token_id: int) -> None:
    """Record that a token was used now (shown in its owner's list)."""
    row = session.get(ApiToken, token_id)
    if row is not None:
        row.last_used_at = utcnow()
        session.add(row)
