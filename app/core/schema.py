"""Every table Gapdesk keeps, gathered in one metadata for migrations and tests."""

from typing import Any

from sqlmodel import SQLModel

import app.core.records  # noqa: F401  (registers the application's tables)
import review_queue.tables  # noqa: F401  (registers the queue's tables)

metadata = SQLModel.metadata

# Made by migrations, not models (migration 0007): SQLite's FTS5 search table and its shadow
# tables, PostgreSQL's trigram indexes. Autogenerate must not read them as strays.
# Migration 0015's record of the zone the trend roll-ups are built for, and its UTC offsets.
NOT_MODELLED_PREFIXES = ("findings_text", "trend_rollup_state", "trend_zone_offsets")
# Migration 0014's page indexes, whose descending key the models do not spell.
NOT_MODELLED_INDEXES = frozenset(
    {
        "ix_findings_title_trgm",
        "ix_findings_entity_key_trgm",
        "ix_findings_queue_desc",
        "ix_findings_priority_desc",
        "ix_findings_course_queue",
    }
)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: leave the migration-only search objects out of model comparisons."""
    if type_ == "table" and name and name.startswith(NOT_MODELLED_PREFIXES):
        return False
    return not (type_ == "index" and name in NOT_MODELLED_INDEXES)
