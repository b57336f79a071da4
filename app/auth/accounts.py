"""Accounts, sign-in and browser sessions. Passwords are kept only as argon2 hashes."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.tables import Role, User, UserSession
from review_queue.types import utcnow

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the name is unknown, so a wrong name takes as long as a wrong
    # password. Made on first use: hashing at import would slow every CLI start.
    return _hasher.hash("gapdesk-dummy-password-for-timing")


MIN_PASSWORD_LENGTH = 10
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,79}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why."""


class SignInFailed(Exception):
    """Wrong name or password. Deliberately does not say which."""


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash (False for a user without a password)."""
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def create_user(
    *, session: Session, actor: Actor, name: str, email: str, role: str, password: str | None
) -> User:
    """Add an account (admins only). ``password`` may be None for single-sign-on-only users."""
    require_role(actor, ADMIN_ONLY, "adding users")
    name = name.strip()
    if not _NAME_RE.fullmatch(name):
        raise AccountError(
            f"user name {name!r} must be 2-80 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    email = normalise_email(email)
    if not _EMAIL_RE.match(email):
        raise AccountError(f"{email!r} is not an email address")
    try:
        role_value = Role(role)
    except ValueError:
        raise AccountError(
            f"role {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    clash = session.exec(
        select(User).where((col(User.name) == name) | (col(User.email) == email))
    ).first()
    if clash is not None:
        which = "name" if clash.name == name else "email"
        raise AccountError(f"a user with that {which} already exists ({clash.name})")
    user = User(
        name=name,
        email=email,
        role=role_value.value,
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    return user


def list_users(*, session: Session, actor: Actor) -> list[User]:
    """Every account, by name (admins only)."""
    require_role(actor, ADMIN_ONLY, "listing users")
    return list(session.exec(select(User).order_by(col(User.name))).all())


def count_users(*, session: Session) -> int:
    """How many accounts exist (used to tell a fresh install)."""
    return int(session.exec(select(func.count()).select_from(User)).one())


def authenticate(*, session: Session, name: str, password: str) -> User:
    """The active user with this name (or email) and password, or SignInFailed."""
    key = name.strip()
    user = session.exec(
        select(User).where((col(User.name) == key) | (col(User.email) == normalise_email(key)))
    ).first()
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        raise SignInFailed("wrong user name or password")
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
        session.add(user)
    return user


def user_for_email(*, session: Session, email: str) -> User | None:
    """The active user whose email matches (for single sign-on); None if we do not know it."""
    user = session.exec(select(User).where(col(User.email) == normalise_email(email))).first()
    return user if user is not None and user.active else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(*, session: Session, user: User, days: int) -> str:
    """Open a browser session for ``user``; returns the token (shown to the browser only)."""
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            expires_at=utcnow() + timedelta(days=days),
        )
    )
    return token


def user_for_token(*, session: Session, token: str) -> User | None:
    """The active user a live session token belongs to, or None."""
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
    if user_session.revoked_at is not None or user_session.expires_at <= utcnow():
        return None
    return user if user.active else None


def end_session(*, session: Session, token: str) -> None:
    """Revoke a browser session (sign-out)."""
    row = session.exec(
        select(UserSession).where(col(UserSession.token_hash) == _token_hash(token))
    ).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)


def set_password(*, session: Session, actor: Actor, name: str, password: str) -> None:
    """Replace a user's password (admins only) and end that user's open browser sessions."""
    require_role(actor, ADMIN_ONLY, "changing passwords")
    user = session.exec(select(User).where(col(User.name) == name)).first()
    if user is None:
        raise AccountError(f"no user named {name!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
    session.add(user)
    for open_session in session.exec(
        select(UserSession).where(
            col(UserSession.user_id) == user.id, col(UserSession.revoked_at).is_(None)
        )
    ).all():
        open_session.revoked_at = utcnow()
        session.add(open_session)


def user_id_by_name(*, session: Session, name: str | None) -> int | None:
    """The id of the user called ``name`` (for assignment pickers), or None."""
    if not name:
        return None
    return session.exec(select(col(User.id)).where(col(User.name) == name)).first()
