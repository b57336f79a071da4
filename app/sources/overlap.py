"""Which snapshot is current, and whether a new one looks like the same organisation.

The current snapshot is the one ingested last (detection, the roster and the pages read it).
Before a new snapshot becomes current the Data page compares their user ids and course ids:

    share = ids found in both / ids of the smaller of the two lists

and warns, asking for an explicit confirmation, when the share of user ids or of course ids is
below 50% (:data:`FEW_SHARED`). Dividing by the smaller list keeps a one-course log of the same
site (a small part of the current snapshot) or a fuller export of it from warning, while another
organisation's export, or a file whose ids are written another way, shares almost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlmodel import Session, col, select

from app.core.records import SnapshotRecord
from app.sources.store import snapshots_dir
from models.snapshot import Snapshot
from review_queue.permissions import ADMIN_ONLY, Actor, require_role

FEW_SHARED = 0.5


@dataclass(frozen=True)
class IdOverlap:
    """How many ids two lists share, and that as a share of the smaller list."""

    current: int
    new: int
    shared: int

    @property
    def share(self) -> float:
        """Shared ids over the smaller list's ids (1.0 when either list is empty)."""
        smaller = min(self.current, self.new)
        return self.shared / smaller if smaller else 1.0


def id_overlap(current: Iterable[object], new: Iterable[object]) -> IdOverlap:
    """The overlap of two id lists (ids compared as text, blanks and nulls left out)."""

    def ids(values: Iterable[object]) -> set[str]:
        return {str(v).strip() for v in values if not pd.isna(v) and str(v).strip()}

    a, b = ids(current), ids(new)
    return IdOverlap(current=len(a), new=len(b), shared=len(a & b))


@dataclass(frozen=True)
class SnapshotOverlap:
    """A new snapshot against the current one: users and courses shared, and the verdict."""

    current_id: str
    users: IdOverlap
    courses: IdOverlap

    @property
    def few_shared(self) -> bool:
        """Whether users or courses share less than :data:`FEW_SHARED` (the page then asks)."""
        return min(self.users.share, self.courses.share) < FEW_SHARED

    def describe(self) -> str:
        """The comparison in one sentence."""
        u, c = self.users, self.courses
        return (
            f"it shares {u.shared:,} of {min(u.current, u.new):,} user ids ({u.share:.0%}) and "
            f"{c.shared:,} of {min(c.current, c.new):,} course ids ({c.share:.0%}) with the "
            f"current snapshot {self.current_id} (of the smaller of the two lists; a warning "
            f"below {FEW_SHARED:.0%})"
        )


def compare_snapshots(
    current_id: str,
    current_users: Iterable[object],
    current_courses: Iterable[object],
    new_users: Iterable[object],
    new_courses: Iterable[object],
) -> SnapshotOverlap:
    """The overlap of a new snapshot's user and course ids with the current one's."""
    return SnapshotOverlap(
        current_id=current_id,
        users=id_overlap(current_users, new_users),
        courses=id_overlap(current_courses, new_courses),
    )


@dataclass(frozen=True)
class CurrentSnapshot:
    """What identifies the current snapshot, and how much it holds."""

    id: str
    ingested_at: datetime
    ingested_by: str
    as_of: datetime
    source: str
    users: int
    courses: int
    enrollments: int | None
    events: int | None

    def describe(self) -> str:
        """The snapshot in one line: id, when stored, its counts (absent tables say so)."""

        def count(n: int | None, what: str) -> str:
            return f"{n:,} {what}" if n is not None else f"no {what} table"

        return (
            f"Snapshot {self.id}, stored {self.ingested_at:%Y-%m-%d %H:%M} UTC by "
            f"{self.ingested_by}, as of {self.as_of:%Y-%m-%d %H:%M} UTC: {self.users:,} users, "
            f"{self.courses:,} courses, {count(self.enrollments, 'enrolments')}, "
            f"{count(self.events, 'activity events')}"
        )


def _latest(session: Session) -> SnapshotRecord | None:
    return session.exec(
        select(SnapshotRecord).order_by(col(SnapshotRecord.ingested_at).desc())
    ).first()


def current_snapshot(*, session: Session, actor: Actor) -> CurrentSnapshot | None:
    """The current snapshot (the one ingested last), or None when none is stored (admins)."""
    require_role(actor, ADMIN_ONLY, "seeing which snapshot is current")
    record = _latest(session)
    if record is None:
        return None
    counts = record.row_counts
    return CurrentSnapshot(
        id=record.id, ingested_at=record.ingested_at, ingested_by=record.ingested_by,
        as_of=record.as_of, source=record.source, users=int(counts.get("lms_users", 0)),
        courses=int(counts.get("courses", 0)),
        enrollments=int(counts["enrollments"]) if "enrollments" in counts else None,
        events=int(counts["activity"]) if "activity" in counts else None,
    )  # fmt: skip


def _stored_ids(record: SnapshotRecord, table: str, column: str) -> pd.Series:
    path = snapshots_dir() / record.id / f"{table}.parquet"
    if table not in record.row_counts or not path.exists():
        return pd.Series([], dtype="str")
    return pd.read_parquet(path, columns=[column])[column]


def overlap_with_current(
    *, session: Session, actor: Actor, snapshot: Snapshot, content_hash: str | None = None
) -> SnapshotOverlap | None:
    """How far ``snapshot`` (validated, not stored) shares users and courses with the current
    snapshot (admins only); None when nothing is stored yet or it is the current one."""
    require_role(actor, ADMIN_ONLY, "comparing snapshots")
    record = _latest(session)
    if record is None or (content_hash is not None and record.content_hash == content_hash):
        return None
    tables = snapshot.tables
    return compare_snapshots(
        record.id,
        _stored_ids(record, "lms_users", "user_id"),
        _stored_ids(record, "courses", "course_id"),
        tables["lms_users"]["user_id"] if "lms_users" in tables else [],
        tables["courses"]["course_id"] if "courses" in tables else [],
    )
