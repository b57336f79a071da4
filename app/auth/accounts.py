"""Accounts: adding, listing, activating, roles, passwords and the password check.

Passwords are kept only as argon2 hashes; browser sessions live in app.auth.sessions."""

from __future__ import annotations

import functools
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.auth.api_tokens import revoke_user_api_tokens
from app.auth.sessions import end_user_sessions
from app.sources.text_shapes import looks_like_email
from review_queue.permissions import ADMIN_ONLY, SYSTEM, Actor, require_role
from review_queue.tables import Role, User

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the name is unknown, so a wrong name takes as long as a wrong
    # password. Made on first use: hashing at import would slow every CLI start.
    return _hasher.hash("gapdesk-dummy-password-for-timing")


MIN_PASSWORD_LENGTH = 10
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,79}$")
# Names the log and the pages use for work nobody signed in did: an account may not take them.
RESERVED_NAMES = frozenset({SYSTEM.name, "gapdesk", "automatic", "anonymous", "nobody", "unknown"})


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
    if name.lower() in RESERVED_NAMES:
        raise AccountError(f"user name {name!r} is reserved: the log uses it for automatic actions")
    email = normalise_email(email)
    if not looks_like_email(email):  # linear: a regex here backtracked on crafted text
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


def find_user(*, session: Session, name: str) -> User | None:
    """The user whose name (or email) was typed at sign-in, active or not; None if unknown."""
    key = name.strip()
    return session.exec(
        select(User).where((col(User.name) == key) | (col(User.email) == normalise_email(key)))
    ).first()


def authenticate(*, session: Session, name: str, password: str) -> User:
    """The active user with this name (or email) and password, or SignInFailed."""
    user = find_user(session=session, name=name)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        raise SignInFailed("wrong user name or password")
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
        session.add(user)
    return user


def active_user(*, session: Session, user_id: int) -> User | None:
    """The user with this id as stored now, if still active (a tab's rerun asks this)."""
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


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
    assert user.id is not None
    end_user_sessions(session=session, user_id=user.id)


def user_id_by_name(*, session: Session, name: str | None) -> int | None:
    """The id of the user called ``name`` (for assignment pickers), or None."""
    if not name:
        return None
    return session.exec(select(col(User.id)).where(col(User.name) == name)).first()


def user_name_by_id(*, session: Session, user_id: int | None) -> str | None:
    """The name of user ``user_id`` (to say who holds a finding), or None."""
    if user_id is None:
        return None
    return session.exec(select(col(User.name)).where(col(User.id) == user_id)).first()


def _managed_user(session: Session, actor: Actor, name: str, action: str) -> User:
    require_role(actor, ADMIN_ONLY, action)
    user = session.exec(select(User).where(col(User.name) == name)).first()
    if user is None:
        raise AccountError(f"no user named {name!r}")
    return user


def _other_active_admins(session: Session, user: User) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(User)
            .where(col(User.role) == Role.admin.value, col(User.active), col(User.id) != user.id)
        ).one()
    )


def set_active(*, session: Session, actor: Actor, name: str, active: bool) -> User:
    """Deactivate (ending the user's open sessions and revoking their API tokens at once) or
    reactivate an account (admins); reactivating brings back neither sessions nor tokens.

    Nobody deactivates their own account, nor the last active administrator."""
    user = _managed_user(session, actor, name, "activating or deactivating users")
    if not active:
        if actor.id is not None and user.id == actor.id:
            raise AccountError("you cannot deactivate your own account")
        last_admin = user.role == Role.admin.value and not _other_active_admins(session, user)
        if last_admin and user.active:
            raise AccountError(f"{name} is the last active admin: add another admin first")
        assert user.id is not None
        end_user_sessions(session=session, user_id=user.id)
        revoke_user_api_tokens(session=session, actor=actor, user_id=user.id)
    user.active = active
    session.add(user)
    return user


def revoke_tokens(*, session: Session, actor: Actor, name: str) -> int:
    """Revoke every live API token of the user called ``name`` (admins); how many there were."""
    user = _managed_user(session, actor, name, "revoking another user's API tokens")
    assert user.id is not None
    return revoke_user_api_tokens(session=session, actor=actor, user_id=user.id)


def set_role(*, session: Session, actor: Actor, name: str, role: str) -> User:
    """Give an account another role (admins); open tabs see it on their next rerun.

    Nobody changes their own role, and the last active administrator stays one."""
    user = _managed_user(session, actor, name, "changing roles")
    try:
        role_value = Role(role)
    except ValueError:
        raise AccountError(
            f"role {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None
    if actor.id is not None and user.id == actor.id and role_value.value != user.role:
        raise AccountError("you cannot change your own role")
    if (
        user.role == Role.admin.value
        and role_value is not Role.admin
        and user.active
        and not _other_active_admins(session, user)
    ):
        raise AccountError(f"{name} is the last active admin: add another admin first")
    user.role = role_value.value
    session.add(user)
    return user
