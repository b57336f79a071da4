"""The demo set-up a newcomer gets from ``gapdesk demo``: accounts (and, as it grows, data)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.accounts import create_user
from review_queue.permissions import SYSTEM
from review_queue.tables import Role, User

DEMO_ACCOUNTS: tuple[tuple[str, str, Role], ...] = (
    ("admin", "admin@demo.gapdesk.local", Role.admin),
    ("instructor", "instructor@demo.gapdesk.local", Role.instructor),
    ("manager", "manager@demo.gapdesk.local", Role.manager),
)


@dataclass(frozen=True)
class DemoAccount:
    """A demo account; ``password`` is set only when it was just created (shown once)."""

    name: str
    role: Role
    password: str | None


def ensure_demo_accounts(*, session: Session) -> list[DemoAccount]:
    """Create the admin, instructor and manager demo accounts that do not exist yet."""
    out: list[DemoAccount] = []
    for name, email, role in DEMO_ACCOUNTS:
        exists = session.exec(select(User).where(col(User.name) == name)).first()
        if exists is not None:
            out.append(DemoAccount(name, role, None))
            continue
        password = secrets.token_urlsafe(9)
        create_user(
            session=session, actor=SYSTEM, name=name, email=email, role=role, password=password
        )
        out.append(DemoAccount(name, role, password))
    return out
