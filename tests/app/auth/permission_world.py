"""The world the permission matrix calls services in, and the rule that says who may call one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.sources.load import LoadResult
from review_queue.permissions import Actor
from review_queue.tables import Role

Call = Callable[["World", Any], object]


@dataclass
class World:
    """A small populated Gapdesk: people, findings in each state, a suppression, a comment."""

    engine: Engine
    home: Path
    snapshot_folder: Path
    people: dict[str, Actor]
    new_id: int  # new and unclaimed
    claimed_id: int  # claimed by the admin a moment ago (undoable)
    claim_event_id: int
    confirmed_id: int  # reviewed, so it can be suppressed
    report_id: int  # a learner report filed by the instructor
    suppression_id: int
    run_id: int  # a finished detection run
    audit_item_id: int = 0  # an audit item waiting for its verdict (rules needing "audit")
    load_result: LoadResult | None = None
    model_version: str | None = None
    # Work list → the id of an open item on it (one dismissal per routed reason).
    work: dict[str, int] = field(default_factory=dict)
    session: Session | None = field(default=None, repr=False)

    @property
    def loaded(self) -> LoadResult:
        """The validated snapshot (rules needing "load")."""
        assert self.load_result is not None
        return self.load_result

    @property
    def s(self) -> Session:
        """The unit of work of the call being made."""
        assert self.session is not None
        return self.session

    def actor(self, role: Role | None) -> Actor | None:
        """The person of ``role`` (None: nobody is signed in)."""
        names = {Role.admin: "ada", Role.instructor: "ivy", Role.manager: "max"}
        return None if role is None else self.people[names[role]]


@dataclass(frozen=True)
class Rule:
    """Who may call ``fn``, and one call of it that succeeds for them in a fresh World."""

    fn: Callable[..., Any]
    allowed: tuple[Role, ...]
    call: Call
    # "snapshot" (stored), "load" (validated), "model", "condition" (on unowned_course),
    # "audit" (an audit item waiting)
    # "tuning" (false positives a threshold clears)
    needs: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"
