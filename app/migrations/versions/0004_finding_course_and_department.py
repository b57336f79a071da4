"""finding course and department

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 12:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("course_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("department", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_findings_course_id", ["course_id"], unique=False)
        batch_op.create_index("ix_findings_department", ["department"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_department")
        batch_op.drop_index("ix_findings_course_id")
        batch_op.drop_column("department")
        batch_op.drop_column("course_id")
