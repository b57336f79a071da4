"""audits: audit samples and their items (dismissals and unflagged entities for a second look)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import review_queue.types

revision: str = "0011"
# Other branches add migrations after 0010; the lead re-chains this one at merge.
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = review_queue.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "audit_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drawn_at", _T(timezone=True), nullable=False),
        sa.Column("drawn_by", _S(length=80), nullable=False),
        sa.Column("period_start", _T(timezone=True), nullable=False),
        sa.Column("period_end", _T(timezone=True), nullable=False),
        sa.Column("snapshot_id", _S(length=80), nullable=True),
        sa.Column("width", sa.Float(), nullable=False),
        sa.Column("plan", review_queue.types.PortableJSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_samples", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_samples_drawn_at"), ["drawn_at"])
    op.create_table(
        "audit_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("stream", _S(length=20), nullable=False),
        sa.Column("category", _S(length=40), nullable=False),
        sa.Column("entity_key", _S(length=400), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("original_reviewer_id", sa.Integer(), nullable=True),
        sa.Column("original_reviewer", _S(length=80), nullable=True),
        sa.Column("original_reason", _S(length=40), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("sampled", sa.Integer(), nullable=False),
        sa.Column("verdict", _S(length=20), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", _S(length=80), nullable=True),
        sa.Column("decided_at", _T(timezone=True), nullable=True),
        sa.Column("comment", _S(length=4000), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["sample_id"], ["audit_samples.id"]),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"]),
        sa.ForeignKeyConstraint(["original_reviewer_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sample_id", "category", "entity_key", name="uq_audit_items_entity"),
    )
    with op.batch_alter_table("audit_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_items_sample_id"), ["sample_id"])
        batch_op.create_index(batch_op.f("ix_audit_items_finding_id"), ["finding_id"])
        batch_op.create_index("ix_audit_items_open", ["verdict", "assignee_id"])


def downgrade() -> None:
    op.drop_table("audit_items")
    op.drop_table("audit_samples")
