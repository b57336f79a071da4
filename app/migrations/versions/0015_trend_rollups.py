"""trend roll-ups: daily signed counts kept by triggers on findings and the log, backfilled

The Trends page reads ``trend_rollups`` (per local day, measure, category, department and
detector), ``trend_finding_courses`` and ``trend_first_moves`` instead of scanning every finding
and log row. Triggers (``review_queue.trends.rollup_triggers``) keep them exact in the same
transaction as each change; the backfill fills them from the rows already there, cut in days of
the reporting time zone (GAPDESK_REPORTING_TZ), which ``trend_rollup_state`` records.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.settings import get_settings
from review_queue.trends.rollup_triggers import create_triggers, drop_triggers
from review_queue.trends.rollups import rebuild_trend_rollups
from review_queue.types import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trend_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("detector", sa.String(length=200), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "measure", "category", "department", "detector"),
    )
    op.create_index("ix_trend_rollups_measure_day", "trend_rollups", ["measure", "day"])
    op.create_table(
        "trend_finding_courses",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("course", sa.String(length=400), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "measure", "course", "category", "department"),
    )
    op.create_table(
        "trend_first_moves",
        sa.Column("finding_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Float(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("finding_id", "kind"),
    )
    op.create_index(
        "ix_trend_first_moves_kind_day", "trend_first_moves", ["kind", "day", "minutes"]
    )
    op.create_table(
        "trend_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("built_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "trend_zone_offsets",
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("modifier", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("starts_at"),
    )
    conn = op.get_bind()
    # Backfill first, then the triggers; PostgreSQL holds both tables locked till the commit.
    rebuild_trend_rollups(conn, get_settings().reporting_tz)
    for statement in create_triggers(conn.dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_triggers(op.get_bind().dialect.name):
        op.execute(statement)
    for table in ("trend_zone_offsets", "trend_rollup_state", "trend_first_moves",
                  "trend_finding_courses", "trend_rollups"):  # fmt: skip
        op.drop_table(table)
