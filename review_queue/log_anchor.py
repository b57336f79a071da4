"""Anchors of the feedback log: its signed head (row count, last id, last hash, time) appended to
a file the application cannot change, so a log truncated or rewritten after the anchor was
taken is caught even by someone who could rewrite the whole database.

One anchor is one JSON line, signed with HMAC-SHA256 under the chain's key. ``check_anchors``
holds the database to every anchor in the file: the anchored row is still there with the same
hash, as many rows lead up to it, and the log has not shrunk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from review_queue.feedback_log import chain_key, verify_chain
from review_queue.tables import FeedbackEvent, FeedbackLogHead
from review_queue.types import utcnow

FIELDS = ("rows", "last_id", "last_hash", "at")


class AnchorError(ValueError):
    """The anchor cannot be taken or read; the message says why in one line."""


@dataclass(frozen=True)
class Anchor:
    """The log's head at one moment, as signed in an anchor file."""

    rows: int
    last_id: int | None
    last_hash: str
    at: str

    def signed(self, key: bytes) -> str:
        """The anchor as one JSON line with its MAC."""
        body = {name: getattr(self, name) for name in FIELDS}
        return json.dumps({**body, "mac": _mac(body, key)}, sort_keys=True)


def _mac(body: dict[str, Any], key: bytes) -> str:
    payload = "anchor:" + json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def take_anchor(*, session: Session, at: datetime | None = None) -> Anchor:
    """The current head of a log that verifies (a broken log is never anchored)."""
    check = verify_chain(session=session)
    if not check.ok:
        raise AnchorError(
            f"feedback log broken at row #{check.first_broken_id}: {check.problem}; not anchored"
        )
    head = session.get(FeedbackLogHead, 1)
    last_id = head.last_event_id if head else None
    last_hash = head.last_hash if head else "0" * 64
    when = (at or utcnow()).isoformat(timespec="seconds")
    return Anchor(rows=check.rows, last_id=last_id, last_hash=last_hash, at=when)


def append_anchor(path: Path, anchor: Anchor) -> None:
    """Append ``anchor`` as one signed line to ``path`` (created 0600; never rewritten)."""
    line = anchor.signed(chain_key()) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_anchors(path: Path) -> list[Anchor]:
    """Every anchor in ``path``, oldest first; a line that is not a signed anchor is refused."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorError(f"cannot read the anchor file {path}: {exc}") from None
    key = chain_key()
    anchors = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            body = {name: record[name] for name in FIELDS}
            mac = record["mac"]
            anchor = Anchor(
                rows=int(body["rows"]),
                last_id=None if body["last_id"] is None else int(body["last_id"]),
                last_hash=str(body["last_hash"]),
                at=str(body["at"]),
            )
        except (ValueError, KeyError, TypeError):
            raise AnchorError(f"{path} line {number} is not an anchor") from None
        if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(body, key)):
            raise AnchorError(f"{path} line {number}: its signature does not match (edited?)")
        anchors.append(anchor)
    if not anchors:
        raise AnchorError(f"{path} holds no anchor")
    return anchors


def check_anchor(*, session: Session, anchor: Anchor) -> str | None:
    """What the log contradicts in ``anchor`` (None when it agrees)."""
    total = int(session.exec(select(func.count()).select_from(FeedbackEvent)).one())
    if total < anchor.rows:
        return f"the anchor of {anchor.at} counted {anchor.rows} rows, the log has {total}"
    if anchor.last_id is None:
        return None
    row = session.get(FeedbackEvent, anchor.last_id)
    if row is None:
        return f"row #{anchor.last_id}, anchored at {anchor.at}, is missing"
    if row.row_hash != anchor.last_hash:
        return f"row #{anchor.last_id} is not the row anchored at {anchor.at} (rewritten)"
    upto = int(
        session.exec(
            select(func.count())
            .select_from(FeedbackEvent)
            .where(col(FeedbackEvent.id) <= anchor.last_id)
        ).one()
    )
    if upto != anchor.rows:
        return (
            f"the anchor of {anchor.at} counted {anchor.rows} rows up to #{anchor.last_id}, "
            f"the log has {upto}"
        )
    return None


def check_anchors(*, session: Session, anchors: list[Anchor]) -> str | None:
    """The first anchor the log contradicts, in words (None when all agree)."""
    for anchor in anchors:
        problem = check_anchor(session=session, anchor=anchor)
        if problem is not None:
            return problem
    return None
