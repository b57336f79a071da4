"""queue index covers the page query

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 13:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # (status, priority, id) lets the queue's page query sort and page inside the index.
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_queue")
        batch_op.create_index("ix_findings_queue", ["status", "priority", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_queue")
        batch_op.create_index("ix_findings_queue", ["status", "priority"], unique=False)
