"""feedback log chain head, append-only guard, finding review fields

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The database itself refuses to rewrite history, whatever code connects to it.
SQLITE_GUARDS = [
    """CREATE TRIGGER feedback_log_no_update BEFORE UPDATE ON feedback_log
       BEGIN SELECT RAISE(ABORT, 'feedback_log is append-only'); END""",
    """CREATE TRIGGER feedback_log_no_delete BEFORE DELETE ON feedback_log
       BEGIN SELECT RAISE(ABORT, 'feedback_log is append-only'); END""",
]
PG_GUARDS = [
    """CREATE OR REPLACE FUNCTION feedback_log_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'feedback_log is append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER feedback_log_no_update_delete BEFORE UPDATE OR DELETE ON feedback_log
       FOR EACH ROW EXECUTE FUNCTION feedback_log_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "feedback_log_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=True),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feedback_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("undoes_event_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_feedback_log_undoes_event_id", "feedback_log", ["undoes_event_id"], ["id"]
        )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("regression", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("status_before_snooze", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("dismissed_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reported_by_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_findings_reported_by_id", ["reported_by_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_findings_duplicate_of_id", "findings", ["duplicate_of_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_findings_reported_by_id", "users", ["reported_by_id"], ["id"]
        )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.alter_column("regression", server_default=None)
    op.execute(
        "INSERT INTO feedback_log_head (id, last_event_id, last_hash) VALUES (1, NULL, '"
        + "0" * 64
        + "')"
    )
    guards = PG_GUARDS if op.get_bind().dialect.name == "postgresql" else SQLITE_GUARDS
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS feedback_log_no_update_delete ON feedback_log")
        op.execute("DROP FUNCTION IF EXISTS feedback_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS feedback_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS feedback_log_no_delete")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_constraint("fk_findings_reported_by_id", type_="foreignkey")
        batch_op.drop_constraint("fk_findings_duplicate_of_id", type_="foreignkey")
        batch_op.drop_index("ix_findings_reported_by_id")
        batch_op.drop_column("reported_by_id")
        batch_op.drop_column("duplicate_of_id")
        batch_op.drop_column("dismissed_score")
        batch_op.drop_column("status_before_snooze")
        batch_op.drop_column("regression")
    with op.batch_alter_table("feedback_log", schema=None) as batch_op:
        batch_op.drop_constraint("fk_feedback_log_undoes_event_id", type_="foreignkey")
        batch_op.drop_column("undoes_event_id")
    op.drop_table("feedback_log_head")
