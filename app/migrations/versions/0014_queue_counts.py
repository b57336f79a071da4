"""queue counts: per-combination count rows kept by triggers on findings, backfilled

The queue page's counts per status are sums over ``queue_counts`` (one row per combination of
status, category, severity, detector, department and assignee, plus the +1/-1 rows of changes
since the last fold) instead of a count over every matching finding. The triggers
(``review_queue.queue_counts``) insert those rows in the same transaction as each change; the
backfill counts the findings already there. Three indexes with a descending priority key let
each status's page (and the all-statuses and one-course pages) be an index range read.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from review_queue import queue_counts

revision: str = "0014"
# Other branches add their own 0011; the lead re-chains this one at merge.
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("detector", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("folded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_queue_counts_folded_id", "queue_counts", ["folded", "id"])
    for statement in queue_counts.PAGE_INDEXES.values():
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        # No change may slip between the backfill's count and the triggers' first row.
        op.execute("LOCK TABLE findings IN SHARE ROW EXCLUSIVE MODE")
    op.execute(queue_counts.BACKFILL)
    if op.get_bind().dialect.name == "sqlite":
        for statement in queue_counts.SQLITE_TRIGGERS:
            op.execute(statement)
    else:
        for statement in queue_counts.POSTGRES_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    drop = (
        queue_counts.SQLITE_DROP
        if op.get_bind().dialect.name == "sqlite"
        else queue_counts.POSTGRES_DROP
    )
    for statement in drop:
        op.execute(statement)
    for name in queue_counts.PAGE_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_queue_counts_folded_id", table_name="queue_counts")
    op.drop_table("queue_counts")
