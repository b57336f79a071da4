"""The trend roll-ups' zone and their rebuild, and whether a report may read them.

The roll-ups cut days in one reporting time zone, the one ``trend_rollup_state`` names. SQLite
has no time zones, so its triggers read the zone's UTC offsets from ``trend_zone_offsets`` (the
same offsets ``sql_time`` computes for a query); PostgreSQL's convert with ``timezone()``. A
report in another zone, or inside ``full_computation()``, scans findings and the log instead:
that scan is the reference the roll-ups are tested against.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from review_queue.trends.rollup_sql import Dialect, rebuild_statements
from review_queue.trends.sql_time import offset_segments
from review_queue.types import UTCDateTime, utcnow

# Made by migration 0015 and kept out of the models (tests empty the modelled tables; these two
# say what the roll-ups mean, so they stay).
_meta = sa.MetaData()
STATE = sa.Table(
    "trend_rollup_state",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("zone", sa.String(64), nullable=False),
    sa.Column("built_at", UTCDateTime, nullable=False),
)
ZONE_OFFSETS = sa.Table(
    "trend_zone_offsets",
    _meta,
    sa.Column("starts_at", UTCDateTime, primary_key=True),
    sa.Column("modifier", sa.String(20), nullable=False),
)
# SQLite's offsets cover these years; a time outside takes the nearest segment's offset.
OFFSETS_FROM, OFFSETS_TO = 1900, 2100

_full: ContextVar[bool] = ContextVar("trend_full_computation", default=False)


@contextmanager
def full_computation() -> Iterator[None]:
    """Inside, every trend metric scans findings and the log (the reference computation)."""
    token = _full.set(True)
    try:
        yield
    finally:
        _full.reset(token)


def forced_full() -> bool:
    """Whether the caller asked for the full computation."""
    return _full.get()


def built_zone(conn: Connection) -> str | None:
    """The zone the roll-ups are built for (None: not built)."""
    return conn.execute(sa.select(STATE.c.zone).where(STATE.c.id == 1)).scalar()


def zone_offset_rows(tz: str) -> list[dict[str, object]]:
    """``trend_zone_offsets`` for ``tz``: each UTC offset and the instant it starts."""
    zone = ZoneInfo(tz)
    segments = offset_segments(
        zone, datetime(OFFSETS_FROM, 1, 2, tzinfo=UTC), datetime(OFFSETS_TO, 1, 1, tzinfo=UTC)
    )
    rows = [{"starts_at": at, "modifier": f"{minutes:+d} minutes"} for at, minutes in segments]
    rows[0]["starts_at"] = datetime(1, 1, 1, tzinfo=UTC)
    return rows


def rebuild_trend_rollups(conn: Connection, tz: str) -> None:
    """Rebuild every roll-up for ``tz`` in the caller's transaction, from findings and the log.

    PostgreSQL first locks both tables against writers (readers go on), so no change slips
    between the rebuild's reads and the triggers' first rows.
    """
    ZoneInfo(tz)  # an unknown zone is refused before anything changes
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("LOCK TABLE findings, feedback_log IN SHARE ROW EXCLUSIVE MODE"))
    conn.execute(STATE.delete())
    conn.execute(STATE.insert().values(id=1, zone=tz, built_at=utcnow()))
    if dialect != "postgresql":
        conn.execute(ZONE_OFFSETS.delete())
        conn.execute(ZONE_OFFSETS.insert(), zone_offset_rows(tz))
    for statement in rebuild_statements(Dialect(dialect)):
        conn.execute(text(statement))


def ensure_rollup_zone(engine: Engine, tz: str) -> bool:
    """Rebuild the roll-ups if they were built for another zone than ``tz``; True if it did."""
    with engine.connect() as conn:
        current = built_zone(conn)
    if current == tz:
        return False
    with engine.begin() as conn:
        rebuild_trend_rollups(conn, tz)
    return True
