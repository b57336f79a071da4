"""free-text search index over finding titles and entity keys

SQLite: an FTS5 table with the trigram tokenizer (substring search, case-insensitive), kept in
step with ``findings`` by triggers. PostgreSQL: trigram GIN indexes (pg_trgm) that serve the
queue's ILIKE directly. Neither is a model table or index: ``app.schema.NOT_MODELLED`` keeps
them out of autogenerate's comparison.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 15:40:00
"""

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import DBAPIError

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

SQLITE_UP = [
    "CREATE VIRTUAL TABLE findings_text USING fts5(title, entity_key, content='findings', "
    "content_rowid='id', tokenize='trigram')",
    "INSERT INTO findings_text(findings_text) VALUES ('rebuild')",
    "CREATE TRIGGER findings_text_insert AFTER INSERT ON findings BEGIN "
    "INSERT INTO findings_text(rowid, title, entity_key) "
    "VALUES (new.id, new.title, new.entity_key); END",
    "CREATE TRIGGER findings_text_delete AFTER DELETE ON findings BEGIN "
    "INSERT INTO findings_text(findings_text, rowid, title, entity_key) "
    "VALUES ('delete', old.id, old.title, old.entity_key); END",
    # Only a change of the indexed text re-indexes: decisions update status and priority often.
    "CREATE TRIGGER findings_text_update AFTER UPDATE OF title, entity_key ON findings BEGIN "
    "INSERT INTO findings_text(findings_text, rowid, title, entity_key) "
    "VALUES ('delete', old.id, old.title, old.entity_key); "
    "INSERT INTO findings_text(rowid, title, entity_key) "
    "VALUES (new.id, new.title, new.entity_key); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS findings_text_update",
    "DROP TRIGGER IF EXISTS findings_text_delete",
    "DROP TRIGGER IF EXISTS findings_text_insert",
    "DROP TABLE IF EXISTS findings_text",
]
POSTGRES_INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_findings_title_trgm ON findings USING gin (title gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_findings_entity_key_trgm ON findings "
    "USING gin (entity_key gin_trgm_ops)",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may install it. Where
    # the role may not, search still works, by a scan; say so instead of failing the upgrade.
    try:
        with bind.begin_nested():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        log.warning("free-text search stays unindexed: cannot create pg_trgm (%s)", exc.orig)
        return
    for statement in POSTGRES_INDEXES:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
        return
    op.execute("DROP INDEX IF EXISTS ix_findings_entity_key_trgm")
    op.execute("DROP INDEX IF EXISTS ix_findings_title_trgm")
