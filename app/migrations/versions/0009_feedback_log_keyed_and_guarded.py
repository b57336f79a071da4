"""feedback log: keyed chain version per row; TRUNCATE, replacing inserts and head resets refused

Rows get ``chain_version`` (1 for the rows already there: plain SHA-256; new rows are 2:
HMAC-SHA256 with a key kept outside the database). The database now also refuses what the
triggers of 0002 let through: TRUNCATE (PostgreSQL fires no row trigger for it), SQLite's
``INSERT OR REPLACE`` (its implicit delete fires no DELETE trigger), and any change of the
chain's head other than moving it forward to the newest row.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HEAD_MOVES_FORWARD = """
    NEW.id = OLD.id
    AND NEW.last_event_id IS NOT NULL
    AND NEW.last_event_id = (SELECT max(id) FROM feedback_log)
    AND NEW.last_hash = (SELECT row_hash FROM feedback_log WHERE id = NEW.last_event_id)
    AND (OLD.last_event_id IS NULL OR NEW.last_event_id > OLD.last_event_id)
"""

SQLITE_UP = [
    # A BEFORE INSERT trigger fires before conflict resolution, so REPLACE never gets to delete.
    """CREATE TRIGGER feedback_log_no_replace BEFORE INSERT ON feedback_log
       WHEN EXISTS (SELECT 1 FROM feedback_log WHERE id = NEW.id OR row_hash = NEW.row_hash)
       BEGIN SELECT RAISE(ABORT, 'feedback_log is append-only'); END""",
    """CREATE TRIGGER feedback_log_head_no_delete BEFORE DELETE ON feedback_log_head
       BEGIN SELECT RAISE(ABORT, 'feedback_log_head cannot be reset'); END""",
    """CREATE TRIGGER feedback_log_head_one_row BEFORE INSERT ON feedback_log_head
       WHEN NEW.id != 1 OR EXISTS (SELECT 1 FROM feedback_log_head)
            OR EXISTS (SELECT 1 FROM feedback_log)
       BEGIN SELECT RAISE(ABORT, 'feedback_log_head cannot be reset'); END""",
    f"""CREATE TRIGGER feedback_log_head_forward BEFORE UPDATE ON feedback_log_head
       WHEN NOT ({_HEAD_MOVES_FORWARD})
       BEGIN SELECT RAISE(ABORT, 'feedback_log_head only moves forward'); END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS feedback_log_head_forward",
    "DROP TRIGGER IF EXISTS feedback_log_head_one_row",
    "DROP TRIGGER IF EXISTS feedback_log_head_no_delete",
    "DROP TRIGGER IF EXISTS feedback_log_no_replace",
]
POSTGRES_UP = [
    """CREATE OR REPLACE FUNCTION feedback_log_no_truncate() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME; END;
       $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER feedback_log_no_truncate BEFORE TRUNCATE ON feedback_log
       FOR EACH STATEMENT EXECUTE FUNCTION feedback_log_no_truncate()""",
    """CREATE TRIGGER feedback_log_head_no_truncate BEFORE TRUNCATE ON feedback_log_head
       FOR EACH STATEMENT EXECUTE FUNCTION feedback_log_no_truncate()""",
    f"""CREATE OR REPLACE FUNCTION feedback_log_head_guard() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' THEN
           RAISE EXCEPTION 'feedback_log_head cannot be reset';
         ELSIF TG_OP = 'INSERT' THEN
           -- Two first writers racing both try to create the head: the later one's insert is
           -- dropped (the head stands, nothing is reset), as ON CONFLICT DO NOTHING would.
           IF NEW.id = 1 AND EXISTS (SELECT 1 FROM feedback_log_head) THEN
             RETURN NULL;
           END IF;
           IF NEW.id <> 1 OR EXISTS (SELECT 1 FROM feedback_log) THEN
             RAISE EXCEPTION 'feedback_log_head cannot be reset';
           END IF;
           RETURN NEW;
         END IF;
         IF NOT ({_HEAD_MOVES_FORWARD}) THEN
           RAISE EXCEPTION 'feedback_log_head only moves forward';
         END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER feedback_log_head_guard BEFORE INSERT OR UPDATE OR DELETE
       ON feedback_log_head FOR EACH ROW EXECUTE FUNCTION feedback_log_head_guard()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS feedback_log_head_guard ON feedback_log_head",
    "DROP FUNCTION IF EXISTS feedback_log_head_guard()",
    "DROP TRIGGER IF EXISTS feedback_log_head_no_truncate ON feedback_log_head",
    "DROP TRIGGER IF EXISTS feedback_log_no_truncate ON feedback_log",
    "DROP FUNCTION IF EXISTS feedback_log_no_truncate()",
]


def upgrade() -> None:
    # A plain ADD COLUMN, not batch mode: a batch rebuild of feedback_log on SQLite would drop
    # its triggers.
    op.add_column(
        "feedback_log",
        sa.Column("chain_version", sa.Integer(), nullable=False, server_default="1"),
    )
    statements = POSTGRES_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    statements = POSTGRES_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN
    for statement in statements:
        op.execute(statement)
    # Keyed rows cannot verify without their version: refuse to downgrade while any exist.
    keyed = (
        op.get_bind()
        .exec_driver_sql("SELECT count(*) FROM feedback_log WHERE chain_version <> 1")
        .scalar()
    )
    if keyed:
        raise RuntimeError(f"{keyed} keyed feedback log rows: cannot downgrade below 0009")
    # Not batch mode (SQLite 3.35+ drops a column in place; a rebuild would drop triggers).
    op.execute("ALTER TABLE feedback_log DROP COLUMN chain_version")
