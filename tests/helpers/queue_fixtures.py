"""Builders shared by the review-queue tests: people and findings in a real database."""

from __future__ import annotations

from sqlmodel import Session

from app.auth.accounts import create_user
from review_queue.permissions import SYSTEM, Actor
from review_queue.tables import Finding, Role


def add_people(session: Session) -> dict[str, Actor]:
    """Two admins, an instructor and a manager."""
    people = {}
    for name, role in [
        ("ada", Role.admin), ("bo", Role.admin), ("ivy", Role.instructor), ("max", Role.manager),
    ]:  # fmt: skip
        user = create_user(
            session=session, actor=SYSTEM, name=name, email=f"{name}@example.org",
            role=role.value, password=None,
        )  # fmt: skip
        people[name] = Actor.of(user)
    session.commit()
    return people


def add_finding(session: Session, n: int, *, priority: float = 0.5, **extra: object) -> Finding:
    """A compliance_overdue finding about enrolment E<n>."""
    values: dict[str, object] = {
        "category": "compliance_overdue",
        "entity_key": f"enrollment=E{n}",
        "title": f"Enrolment E{n} is past its due date",
        "detector": "compliance_overdue",
        "detector_version": "1",
        "score": 0.6,
        "priority": priority,
        "severity": "high",
    }
    values.update(extra)
    finding = Finding(**values)  # type: ignore[arg-type]
    session.add(finding)
    session.commit()
    return finding
