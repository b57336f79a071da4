"""Password sign-in with back-off per account and per client, and a cap on concurrent checks.

Failures are rows of ``sign_in_failures``, so the back-off holds across every process and
server that shares the database. After ``free`` failures within the window an account (or, after
``client_free``, a client address) must wait ``base * 2**(extra failures)`` seconds from its last
failure, at most the window. A refused attempt checks no password and records nothing, so
hammering a locked account neither costs the server a hash nor lengthens the lock. The cap on
concurrent password checks (argon2 is deliberately slow and memory-hungry) is per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.auth.accounts import SignInFailed, authenticate, find_user
from app.auth.sessions import start_session
from app.core.db import session_scope
from app.core.records import SignInFailure
from app.core.settings import Settings
from review_queue.tables import User
from review_queue.types import utcnow

log = logging.getLogger("gapdesk.auth")


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, per account and per client, and how the wait grows."""

    free: int = 5
    client_free: int = 20
    base: timedelta = timedelta(seconds=30)
    window: timedelta = timedelta(minutes=15)
    max_checks: int = 4
    check_wait: timedelta = timedelta(seconds=10)

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        """The policy the settings ask for (GAPDESK_SIGN_IN_*)."""
        return cls(
            free=settings.sign_in_free_failures,
            client_free=settings.sign_in_client_free_failures,
            base=timedelta(seconds=settings.sign_in_backoff_seconds),
            window=timedelta(minutes=settings.sign_in_window_minutes),
            max_checks=settings.sign_in_max_concurrent,
        )


class SignInThrottled(SignInFailed):
    """Too many recent failures for this account or client; ``retry_after`` says how long."""

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        seconds = max(1, int(retry_after.total_seconds() + 0.999))
        super().__init__(f"too many failed sign-ins: try again in {seconds} s")


class SignInBusy(SignInFailed):
    """Every password-check slot of this process is taken; try again in a moment."""


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


@contextmanager
def password_check_slot(policy: ThrottlePolicy) -> Iterator[None]:
    """Hold one of the process's ``max_checks`` password-check slots, or raise SignInBusy."""
    with _slots_lock:
        slots = _slots.setdefault(policy.max_checks, threading.BoundedSemaphore(policy.max_checks))
    if not slots.acquire(timeout=policy.check_wait.total_seconds()):
        log.warning("sign-in refused: all %d password checks busy", policy.max_checks)
        raise SignInBusy("the server is busy checking other sign-ins: try again in a moment")
    try:
        yield
    finally:
        slots.release()


def _wait(
    failures: int, last: datetime | None, free: int, policy: ThrottlePolicy, now: datetime
) -> timedelta | None:
    if failures < free or last is None:
        return None
    delay = min(policy.window, policy.base * 2 ** min(failures - free, 30))
    until = last + delay
    return until - now if until > now else None


def _recent(
    session: Session, where: ColumnElement[bool], since: datetime
) -> tuple[int, datetime | None]:
    count, last = session.exec(
        select(func.count(), func.max(SignInFailure.at)).where(where, col(SignInFailure.at) > since)
    ).one()
    return int(count), last


def retry_after(
    *, session: Session, account: str, client: str, policy: ThrottlePolicy, now: datetime
) -> timedelta | None:
    """How long ``account`` (or ``client``) must still wait before a password is checked."""
    since = now - policy.window
    waits = [
        _wait(*_recent(session, col(SignInFailure.account) == account, since), policy.free,
              policy, now),
        _wait(*_recent(session, col(SignInFailure.client) == client, since), policy.client_free,
              policy, now),
    ]  # fmt: skip
    due = [w for w in waits if w is not None]
    return max(due) if due else None


def _account_key(session: Session, name: str) -> str:
    # One counter per account, whether its name or its email was typed.
    user = find_user(session=session, name=name)
    return user.name if user is not None else name.strip().lower()[:254]


def password_sign_in(
    *,
    engine: Engine,
    name: str,
    password: str,
    client: str,
    days: int,
    policy: ThrottlePolicy,
    now: datetime | None = None,
) -> tuple[User, str]:
    """Check a password under the back-off; returns the user and a new session token.

    SignInThrottled if the account or client must wait, SignInBusy if no check slot is free,
    SignInFailed if the name or password is wrong (the failure is recorded and logged)."""
    now = now or utcnow()
    client = (client or "unknown")[:100]
    with session_scope(engine, read_only=True) as session:
        account = _account_key(session, name)
        wait = retry_after(session=session, account=account, client=client, policy=policy, now=now)
    if wait is not None:
        log.warning("sign-in refused for %r from %s: backing off %s", account, client, wait)
        raise SignInThrottled(wait)
    with password_check_slot(policy):
        try:
            # The slow check runs without the write lock; only its outcome is written.
            with session_scope(engine, read_only=True) as session:
                user = authenticate(session=session, name=name, password=password)
                session.expunge(user)
        except SignInFailed:
            with session_scope(engine) as session:
                session.add(SignInFailure(account=account, client=client, at=now))
                session.execute(
                    delete(SignInFailure).where(col(SignInFailure.at) <= now - policy.window)
                )
            log.warning("sign-in failed for %r from %s", account, client)
            raise
    with session_scope(engine) as session:
        user = session.merge(user)
        session.execute(delete(SignInFailure).where(col(SignInFailure.account) == account))
        token = start_session(session=session, user=user, days=days)
        session.flush()
        session.expunge(user)
    log.info("signed in %r from %s", user.name, client)
    return user, token
