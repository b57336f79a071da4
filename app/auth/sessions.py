"""Browser sessions: opened at sign-in, re-checked on every rerun, idle-timed-out and rotated.

Only the SHA-256 of a token is stored. A token is asked about on every rerun of a tab (revoked,
expired, idle, the user still active, the user's role now), never trusted from the tab's memory.
Rotation gives a tab a new token once its own is older than the rotation period; the old one
then lives on for at most the idle timeout, so that other tabs holding it rotate in turn instead
of being signed out, and a copy stolen before the rotation dies with it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, or_, select

from app.core.settings import Settings
from review_queue.tables import User, UserSession
from review_queue.types import utcnow

# A session's last use is written at most this often: a rerun that only reads takes no lock.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live: in all (days), unused (idle), and between token rotations."""

    days: int
    idle: timedelta
    rotate: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        """The policy the settings ask for (GAPDESK_SESSION_*)."""
        return cls(
            days=settings.session_days,
            idle=timedelta(minutes=settings.session_idle_minutes),
            rotate=timedelta(minutes=settings.session_rotate_minutes),
        )


@dataclass(frozen=True)
class SessionCheck:
    """What a rerun learnt about its token: whose it is, and whether it needs a write."""

    user: User
    session_id: int
    needs_touch: bool
    needs_rotation: bool


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(*, session: Session, user: User, days: int) -> str:
    """Open a browser session for ``user`` (a sign-in); returns the token (for the browser only)."""
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    user.last_sign_in_at = now
    session.add(user)
    return token


def _live_row(session: Session, token: str, now: datetime) -> tuple[UserSession, User] | None:
    if not token or len(token) > 200:
        return None
    row = session.exec(
        select(UserSession, User)
        .join(User, col(User.id) == col(UserSession.user_id))
        .where(col(UserSession.token_hash) == _token_hash(token))
    ).first()
    if row is None:
        return None
    user_session, user = row
    if user_session.revoked_at is not None or user_session.expires_at <= now:
        return None
    return (user_session, user) if user.active else None


def user_for_token(*, session: Session, token: str) -> User | None:
    """The active user a live (not revoked, not expired) session token belongs to, or None."""
    row = _live_row(session, token, utcnow())
    return row[1] if row else None


def check_session(
    *, session: Session, token: str, policy: SessionPolicy, now: datetime | None = None
) -> SessionCheck | None:
    """Re-check ``token`` now (read only): None if revoked, expired, idle too long, or its user
    is gone or inactive; otherwise its user as stored now, and which writes are due."""
    now = now or utcnow()
    row = _live_row(session, token, now)
    if row is None:
        return None
    user_session, user = row
    last_seen = user_session.last_seen_at or user_session.created_at
    if now - last_seen > policy.idle:
        return None
    assert user_session.id is not None
    return SessionCheck(
        user=user,
        session_id=user_session.id,
        needs_touch=now - last_seen >= TOUCH_EVERY,
        needs_rotation=now - user_session.created_at >= policy.rotate,
    )


def refresh_session(
    *, session: Session, check: SessionCheck, policy: SessionPolicy, now: datetime | None = None
) -> str | None:
    """Write what ``check`` found due: the last use, and a rotation. Returns the new token if the
    session was rotated (the tab's token and cookie must be replaced), otherwise None."""
    now = now or utcnow()
    current = session.get(UserSession, check.session_id)
    if current is None:
        return None
    current.last_seen_at = now
    session.add(current)
    if not check.needs_rotation:
        return None
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=_token_hash(token),
            user_id=current.user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=current.expires_at,
            chain_id=current.chain_id or current.id,
        )
    )
    current.expires_at = min(current.expires_at, now + policy.idle)
    return token


def end_session(*, session: Session, token: str) -> None:
    """Revoke a browser session (sign-out), with every token rotated from the same sign-in."""
    row = session.exec(
        select(UserSession).where(col(UserSession.token_hash) == _token_hash(token))
    ).first()
    if row is None:
        return
    root = row.chain_id or row.id
    now = utcnow()
    for link in session.exec(
        select(UserSession).where(
            or_(col(UserSession.id) == root, col(UserSession.chain_id) == root),
            col(UserSession.revoked_at).is_(None),
        )
    ).all():
        link.revoked_at = now
        session.add(link)


def end_user_sessions(*, session: Session, user_id: int) -> int:
    """Revoke every open browser session of one user (new password, deactivation); how many."""
    now = utcnow()
    rows = session.exec(
        select(UserSession).where(
            col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None)
        )
    ).all()
    for row in rows:
        row.revoked_at = now
        session.add(row)
    return len(rows)
