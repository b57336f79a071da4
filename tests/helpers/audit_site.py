"""A demo organisation in a fresh database with one dismissal for the audit tests to sample."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.db import build_engine, session_scope, upgrade
from app.demo.set_up import ensure_demo_accounts
from app.detection.run import run_detection
from app.sources.store import ingest
from review_queue.decisions import decide
from review_queue.permissions import Actor
from review_queue.tables import Finding, Role, User


def demo_site_with_a_dismissal(
    url: str, demo_folder: Path, *, reason: str
) -> tuple[Engine, dict[Role, tuple[str, str]]]:
    """The demo accounts and organisation at ``url``, detected, with the first
    ``enrollment_missing`` finding dismissed for ``reason`` (the Audits lane's first item)."""
    engine = build_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        accounts = {
            a.role: (a.name, a.password or "") for a in ensure_demo_accounts(session=session)
        }
    with Session(engine) as s:
        admin = Actor.of(s.exec(select(User).where(User.role == "admin")).one())
    ingest(engine=engine, actor=admin, path=demo_folder)
    run_detection(engine=engine, actor=admin)
    with Session(engine) as s:
        first = s.exec(
            select(Finding).where(Finding.category == "enrollment_missing").order_by(Finding.id)
        ).first()
        assert first is not None and first.id is not None
        decide(session=s, actor=admin, finding_id=first.id, action="dismiss", reason=reason)
        s.commit()
    return engine, accounts
