"""indexes for the trend metrics

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 14:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE INDEX, not batch mode: a batch rebuild of feedback_log on SQLite would drop
    # its append-only triggers.
    op.create_index("ix_findings_first_seen_at", "findings", ["first_seen_at"])
    op.create_index(
        "ix_feedback_log_finding_to_at", "feedback_log", ["finding_id", "to_status", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_log_finding_to_at", table_name="feedback_log")
    op.drop_index("ix_findings_first_seen_at", table_name="findings")
