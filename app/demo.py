"""The demo set-up a newcomer gets from ``gapdesk demo``: accounts (and, as it grows, data)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.accounts import create_user
from app.db import session_scope
from app.demo_org import generate_demo_org
from app.detection import run_detection
from app.settings import get_settings
from app.snapshots import ingest
from app.tables import SnapshotRecord
from models.snapshot import Snapshot
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


def ensure_demo_accounts(
    *, session: Session, instructor_email: str | None = None
) -> list[DemoAccount]:
    """Create the admin, instructor and manager demo accounts that do not exist yet.

    ``instructor_email`` ties the demo instructor to a course owner of the demo organisation, so
    the courses they may report about are theirs in the LMS data too.
    """
    out: list[DemoAccount] = []
    for name, email, role in DEMO_ACCOUNTS:
        if role is Role.instructor and instructor_email:
            email = instructor_email
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


def busiest_owner_email(snapshot: Snapshot) -> str | None:
    """The email of the LMS user who owns the most active courses (the demo instructor)."""
    courses, users = snapshot["courses"], snapshot["lms_users"]
    owned = courses.loc[courses["status"] == "active", "owner_user_id"].dropna()
    active = users.loc[users["status"] == "active", ["user_id", "email"]]
    ranked = owned.value_counts()
    for user_id in ranked.index:
        match = active.loc[active["user_id"] == user_id, "email"]
        if len(match):
            return str(match.iloc[0]).strip().lower()
    return None


def set_up_demo_data(*, engine: Engine, echo: Callable[[str], None]) -> None:
    """Generate the demo organisation, ingest it and run detection, unless data already exists."""
    with session_scope(engine) as session:
        has_data = session.exec(select(SnapshotRecord)).first() is not None
    if has_data:
        echo("Data already ingested: skipping the demo organisation.")
        return
    folder = get_settings().home.resolve() / "demo-org"
    echo(f"Generating the demo organisation in {folder} ...")
    generate_demo_org(folder, seed=1, overwrite=True)
    outcome = ingest(engine=engine, actor=SYSTEM, path=folder)
    echo(f"Ingested snapshot {outcome.record.id}; running detection ...")
    run = run_detection(engine=engine, actor=SYSTEM, snapshot_id=outcome.record.id)
    echo(f"Detection proposed {run.stats['new']} findings into the review queue.")
