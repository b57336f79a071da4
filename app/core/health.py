"""Health for monitors: the database answers and its schema is the code's (nothing is changed)."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.db import DatabaseUnavailable, build_engine, check_connection, current_revision
from app.core.db import head_revision as code_head


@dataclass(frozen=True)
class Health:
    """What a monitor needs: is the database there, and is its schema the code's."""

    reachable: bool
    revision: str | None
    head: str
    problem: str | None

    @property
    def ok(self) -> bool:
        """Healthy: reachable and migrated to head."""
        return self.reachable and self.revision == self.head


def health(url: str) -> Health:
    """Check the database at ``url`` without changing it (no migration is applied)."""
    head = code_head()
    try:
        engine = build_engine(url)
    except Exception as exc:  # a bad URL is a health problem, not a crash
        return Health(False, None, head, str(exc).splitlines()[0])
    try:
        check_connection(engine)
        revision = current_revision(engine)
    except DatabaseUnavailable as exc:
        return Health(False, None, head, str(exc))
    finally:
        engine.dispose()
    problem = None if revision == head else f"migrations behind: at {revision}, code at {head}"
    return Health(True, revision, head, problem)
