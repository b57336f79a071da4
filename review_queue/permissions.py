"""Who may call which service. Checked inside the services, whatever a page shows or hides."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from review_queue.tables import Role, User


@dataclass(frozen=True)
class Actor:
    """The person (or the system itself) on whose behalf a service runs."""

    id: int | None
    name: str
    role: Role

    @classmethod
    def of(cls, user: User) -> Actor:
        """The actor for a stored user."""
        assert user.id is not None
        return cls(id=user.id, name=user.name, role=Role(user.role))


# Command-line work is done by whoever holds the server's shell and database: an administrator.
SYSTEM = Actor(id=None, name="system", role=Role.admin)


def require_role(actor: Actor | None, allowed: Iterable[Role], action: str) -> Actor:
    """Return ``actor`` if its role is allowed to do ``action``; otherwise raise PermissionError."""
    allowed = tuple(allowed)
    if actor is None:
        raise PermissionError(f"sign in to {action}")
    if actor.role not in allowed:
        roles = " or ".join(r.value for r in allowed)
        raise PermissionError(
            f"{action} needs the {roles} role; {actor.name} is {actor.role.value}"
        )
    return actor


ADMIN_ONLY = (Role.admin,)
EVERYONE = (Role.admin, Role.instructor, Role.manager)
