"""The append-only feedback log: one row per decision or status change, hash-chained.

Each row carries a hash of its own content and of the previous row's hash, so an edited,
deleted or inserted row breaks the chain from that point on. Rows of chain version 2 (every row
written since migration 0009) are keyed: HMAC-SHA256 with a key kept outside the database, so
whoever can write the database but not read the key cannot recompute a valid chain. Version 1
rows (plain SHA-256, written before) still verify; a version 1 row after a version 2 row is
refused. The database refuses UPDATE, DELETE, TRUNCATE and a replacing INSERT on the log and
any reset of its head (migrations 0002 and 0009), and no code path here issues them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from review_queue.outbox import on_feedback_event
from review_queue.permissions import Actor, require_role
from review_queue.states import LABEL_ACTIONS, values
from review_queue.tables import FeedbackEvent, FeedbackLogHead, Role
from review_queue.types import utcnow

GENESIS = "0" * 64
UNKEYED = 1  # plain SHA-256, the chain before migration 0009
KEYED = 2  # HMAC-SHA256 with the key kept outside the database

_key_source: Callable[[], bytes] | None = None


class ChainKeyMissing(RuntimeError):
    """No key for the log's chain was set up (the application sets it when it builds an engine)."""


def use_chain_key(source: Callable[[], bytes]) -> None:
    """Where the chain's key comes from; called by the application, which owns the settings."""
    global _key_source
    _key_source = source


def chain_key() -> bytes:
    """The key of version 2 rows."""
    if _key_source is None:
        raise ChainKeyMissing("the feedback log has no key: build the engine with app.core.db")
    return _key_source()


def event_hash(event: FeedbackEvent, prev_hash: str, key: bytes | None = None) -> str:
    """The hash of ``event``'s content chained to ``prev_hash``: HMAC-SHA256 under ``key`` for
    a keyed (version 2) row, plain SHA-256 for a version 1 row."""
    content = {
        "finding_id": event.finding_id,
        "at": event.at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor": event.actor,
        "action": event.action,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "reason": event.reason,
        "comment": event.comment,
        "model_version": event.model_version,
        "priority_at_decision": (
            None if event.priority_at_decision is None else round(event.priority_at_decision, 9)
        ),
        "undoes_event_id": event.undoes_event_id,
    }
    payload = prev_hash + json.dumps(content, sort_keys=True, separators=(",", ":"))
    if event.chain_version == UNKEYED:
        return hashlib.sha256(payload.encode()).hexdigest()
    if key is None:
        raise ChainKeyMissing("a keyed row of the feedback log needs the key")
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def append_event(
    *,
    session: Session,
    finding_id: int,
    actor: Actor,
    action: str,
    from_status: str | None,
    to_status: str,
    reason: str | None = None,
    comment: str | None = None,
    model_version: str | None = None,
    priority_at_decision: float | None = None,
    undoes_event_id: int | None = None,
    at: datetime | None = None,
) -> FeedbackEvent:
    """Append one event to the log, linked to the newest one, inside the caller's transaction."""
    key = chain_key()
    # Locking the head row serialises appenders on PostgreSQL; SQLite writers are already
    # serialised by BEGIN IMMEDIATE. Either way two appenders never link to the same parent.
    head = session.exec(
        select(FeedbackLogHead).where(FeedbackLogHead.id == 1).with_for_update()
    ).first()
    if head is None:
        _insert_genesis_head(session)
        head = session.exec(
            select(FeedbackLogHead).where(FeedbackLogHead.id == 1).with_for_update()
        ).one()
    when = at or utcnow()
    event = FeedbackEvent(
        finding_id=finding_id,
        at=when,
        actor_id=actor.id,
        actor=actor.name,
        action=action,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        comment=comment,
        model_version=model_version,
        priority_at_decision=priority_at_decision,
        undoes_event_id=undoes_event_id,
        prev_hash=head.last_hash,
        row_hash="",
        chain_version=KEYED,
    )
    event.row_hash = event_hash(event, head.last_hash, key)
    session.add(event)
    session.flush()
    head.last_event_id = event.id
    head.last_hash = event.row_hash
    session.add(head)
    # Who is told (webhooks, e-mail): written now, in the change's own transaction.
    on_feedback_event(session=session, event=event, actor=actor)
    return event


def _insert_genesis_head(session: Session) -> None:
    # The migration seeds the head; this only runs on a database emptied by hand. ON CONFLICT
    # lets two first appenders race without either failing.
    dialect = session.get_bind().dialect.name
    insert_fn = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert_fn(FeedbackLogHead)
        .values(id=1, last_event_id=None, last_hash=GENESIS)
        .on_conflict_do_nothing(index_elements=["id"])
    )


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of verifying the log: rows checked and the first broken one, if any."""

    rows: int
    first_broken_id: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        """Whether every row links and hashes correctly."""
        return self.first_broken_id is None


def iter_events(*, session: Session, batch: int = 5000) -> Iterator[FeedbackEvent]:
    """Every event in the order it happened, read in batches (constant memory)."""
    last_id = 0
    while True:
        rows = session.exec(
            select(FeedbackEvent)
            .where(col(FeedbackEvent.id) > last_id)
            .order_by(col(FeedbackEvent.id))
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id or last_id
        session.expunge_all()


def verify_chain(*, session: Session) -> ChainCheck:
    """Recompute every hash in order; name the first row whose link, version or content is
    wrong, and check the head points at the last row."""
    prev = GENESIS
    count = 0
    keyed = False
    key: bytes | None = None
    last_id: int | None = None
    for event in iter_events(session=session):
        count += 1
        if event.prev_hash != prev:
            return ChainCheck(count, event.id, "it does not link to the row before it")
        if event.chain_version not in (UNKEYED, KEYED):
            return ChainCheck(count, event.id, f"unknown chain version {event.chain_version}")
        if event.chain_version == UNKEYED and keyed:
            return ChainCheck(count, event.id, "an unkeyed row follows keyed ones")
        if event.chain_version == KEYED and key is None:
            key = chain_key()
        keyed = keyed or event.chain_version == KEYED
        if event_hash(event, prev, key) != event.row_hash:
            return ChainCheck(count, event.id, "its content does not match its hash")
        prev = event.row_hash
        last_id = event.id
    head = session.get(FeedbackLogHead, 1)
    if head is None and count:
        return ChainCheck(count, last_id, "the log's head row is missing")
    if head is not None and (head.last_hash != prev or head.last_event_id != last_id):
        return ChainCheck(count, head.last_event_id, "rows after it are missing")
    return ChainCheck(count, None, None)


def log_page(
    *,
    session: Session,
    actor: Actor,
    actions: tuple[str, ...] = (),
    actor_name: str | None = None,
    finding_id: int | None = None,
    page: int = 0,
    page_size: int = 100,
) -> tuple[list[FeedbackEvent], int]:
    """A page of the log, newest first, with the total matching (admins and managers)."""
    require_role(actor, (Role.admin, Role.manager), "reading the feedback log")
    query = select(FeedbackEvent)
    count = select(func.count()).select_from(FeedbackEvent)
    conditions: list[Any] = []
    if actions:
        conditions.append(col(FeedbackEvent.action).in_(actions))
    if actor_name:
        conditions.append(col(FeedbackEvent.actor) == actor_name)
    if finding_id is not None:
        conditions.append(col(FeedbackEvent.finding_id) == finding_id)
    for condition in conditions:
        query = query.where(condition)
        count = count.where(condition)
    rows = session.exec(
        query.order_by(col(FeedbackEvent.id).desc()).offset(page * page_size).limit(page_size)
    ).all()
    return list(rows), int(session.exec(count).one())


def standing_verdicts() -> tuple[Any, ...]:
    """SQL conditions on the log: a confirm or dismiss that has not been undone (what the
    models learn from and what counts towards the next retraining)."""
    undone = select(FeedbackEvent.undoes_event_id).where(
        col(FeedbackEvent.undoes_event_id).is_not(None)
    )
    return (
        col(FeedbackEvent.action).in_(values(LABEL_ACTIONS)),
        col(FeedbackEvent.id).not_in(undone),
    )
