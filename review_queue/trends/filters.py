"""What a manager looks at: the date range, time zone and filters, the options the filter
widgets offer, and the data version a cached report keys on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from models.taxonomy import CATEGORIES
from review_queue.permissions import Actor, require_role
from review_queue.tables import FeedbackLogHead, Finding, ModelVersion, Role
from review_queue.trends.query import fetch_rows, finding_department
from review_queue.trends.weeks import local_midnight, monday_of
from review_queue.types import utcnow

# Who may see trends; every metric checks it itself, as every service does.
TRENDS_ROLES = (Role.admin, Role.manager)


@dataclass(frozen=True)
class TrendFilters:
    """What the manager looks at: local dates ``start``..``end`` (inclusive) and optional filters.

    Empty ``departments`` or ``categories`` mean all of them.
    """

    start: date
    end: date
    tz: str = "UTC"
    departments: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the date range ends ({self.end}) before it starts ({self.start})")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown reporting time zone {self.tz!r}") from None
        unknown = sorted(set(self.categories) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown gap categories: {', '.join(unknown)}")

    @classmethod
    def last_weeks(
        cls,
        weeks: int,
        *,
        tz: str = "UTC",
        today: date | None = None,
        departments: Iterable[str] = (),
        categories: Iterable[str] = (),
    ) -> TrendFilters:
        """The last ``weeks`` ISO weeks up to today (the current week included, so far)."""
        if weeks < 1:
            raise ValueError(f"weeks must be at least 1, not {weeks}")
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown reporting time zone {tz!r}") from None
        today = today or utcnow().astimezone(zone).date()
        start = monday_of(today) - timedelta(weeks=weeks - 1)
        return cls(start, today, tz, tuple(departments), tuple(categories))

    @property
    def zone(self) -> ZoneInfo:
        """The reporting time zone."""
        return ZoneInfo(self.tz)

    @property
    def start_utc(self) -> datetime:
        """The instant the range starts: local midnight of ``start``."""
        return local_midnight(self.start, self.zone)

    @property
    def end_utc(self) -> datetime:
        """The instant the range ends (exclusive): local midnight after ``end``."""
        return local_midnight(self.end + timedelta(days=1), self.zone)

    def weeks(self) -> list[date]:
        """The Mondays of every ISO week the range touches, in order."""
        first, last = monday_of(self.start), monday_of(self.end)
        return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]

    def describe(self) -> str:
        """One line naming the range and filters, for a report's heading."""
        parts = [f"{self.start:%d %b %Y} to {self.end:%d %b %Y} ({self.tz})"]
        parts.append("departments: " + (", ".join(self.departments) or "all"))
        parts.append("categories: " + (", ".join(self.categories) or "all"))
        return " · ".join(parts)


@dataclass(frozen=True)
class TrendFilterOptions:
    """The departments and categories that occur in the queue, for the filter widgets."""

    departments: list[str]
    categories: list[str]


def trend_filter_options(*, session: Session, actor: Actor) -> TrendFilterOptions:
    """The departments and categories present among findings (departments include 'unknown')."""
    require_role(actor, TRENDS_ROLES, "seeing trends")
    stored = col(Finding.department)
    # The stored column is indexed; only findings without it need their JSON read.
    named = fetch_rows(session, select(stored).where(stored.is_not(None), stored != "").distinct())
    fallback = select(finding_department().label("department")).where(
        or_(stored.is_(None), stored == "")
    )
    sub = fallback.subquery()
    others = fetch_rows(session, select(sub.c.department).distinct())
    present = {str(c) for (c,) in fetch_rows(session, select(col(Finding.category)).distinct())}
    return TrendFilterOptions(
        departments=sorted({str(d) for (d,) in [*named, *others]}),
        categories=[c for c in CATEGORIES if c in present],
    )


def trends_data_version(*, session: Session) -> tuple[str, str]:
    """What a cached trend report keys on: the hash of the feedback log's newest event (every
    proposal, decision, undo and reopening appends one, and the hash chains all before it, so it
    differs between databases too) and the newest model promotion or rollback.

    Two small reads, so checking it costs nothing next to computing a report.
    """
    head = session.get(FeedbackLogHead, 1)
    promoted = session.execute(select(func.max(col(ModelVersion.promoted_at)))).scalar()
    return (head.last_hash if head else ""), str(promoted)
