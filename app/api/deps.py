"""What every route depends on: the engine, the caller's token (who, which scope), the rate limit.

A route declares ``reader`` or ``writer``; both give it the token's user as an Actor, whose role
the service then checks itself, exactly as for a page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app.api.rate_limit import RateLimiter
from app.auth.api_tokens import Scope, check_api_token, touch_api_token
from app.core.db import session_scope
from review_queue.permissions import Actor

log = logging.getLogger("gapdesk.api")


@dataclass(frozen=True)
class Caller:
    """The person behind a call and what their token allows."""

    actor: Actor
    scope: Scope


def engine_of(request: Request) -> Engine:
    """The API process's one engine (set by create_app)."""
    engine: Engine = request.app.state.engine
    return engine


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401,
            "no API token: send 'Authorization: Bearer <token>' (create one on the API tokens "
            "page or with `gapdesk tokens create`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def caller(request: Request, engine: Annotated[Engine, Depends(engine_of)]) -> Caller:
    """The token's user and scope, re-checked on every call; 401 if unknown or revoked, 429 if
    the token is over its rate."""
    token = _bearer(request)
    with session_scope(engine, read_only=True) as session:
        check = check_api_token(session=session, token=token)
    if check is None:
        raise HTTPException(
            401,
            "the API token is unknown, revoked, or its user is deactivated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.wait_for(check.token_id)
    if wait:
        seconds = int(wait) + 1
        raise HTTPException(
            429,
            f"rate limit: {limiter.per_minute} calls a minute per token; retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    if check.needs_touch:
        # Bookkeeping only ("last used"): a call is never refused because this write had to
        # wait too long for SQLite's write lock; the next call within the minute tries again.
        try:
            with session_scope(engine) as session:
                touch_api_token(session=session, token_id=check.token_id)
        except OperationalError:
            log.warning("could not record the last use of API token #%s", check.token_id)
    return Caller(actor=Actor.of(check.user), scope=check.scope)


def reader(who: Annotated[Caller, Depends(caller)]) -> Actor:
    """A call that only reads: any live token."""
    return who.actor


def writer(who: Annotated[Caller, Depends(caller)]) -> Actor:
    """A call that changes something: a token with the write scope."""
    if who.scope is not Scope.write:
        raise HTTPException(403, "this token is read-only; create a token with the write scope")
    return who.actor


Reader = Annotated[Actor, Depends(reader)]
Writer = Annotated[Actor, Depends(writer)]
EngineDep = Annotated[Engine, Depends(engine_of)]
