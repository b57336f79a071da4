"""The queue's counts without a scan: ``queue_counts`` rows summed over the filter's values.

Every change to a finding's status, category, severity, detector, department or assignee inserts
rows in the same transaction, by triggers on ``findings`` (migration 0014), whichever service or
script makes it: -1 for the old combination, +1 for the new (SQLite per row, PostgreSQL per
statement, one row per combination it touched). Writers only insert, so concurrent
reviewers and a detection run never wait on one counter row (PostgreSQL row locks); a reader sums
the rows in one statement, which sees one snapshot, so the figures are exact. Folding (summing
the loose rows into one row per combination) keeps the sum short; it runs from the services that
write, when enough loose rows have gathered, and changes no figure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, text
from sqlmodel import Session, col

from review_queue.tables import QueueCount

# The finding columns the counts are kept by (the queue's filters, but the course and the text).
DIMENSIONS = ("status", "category", "severity", "detector", "department", "assignee_id")
# Loose rows that make a fold due: summing a few thousand small rows takes a millisecond or two.
FOLD_AFTER_ROWS = 2048

# Written out whole (no SQL is assembled from pieces); DIMENSIONS lists the same columns.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER queue_counts_insert AFTER INSERT ON findings BEGIN
  INSERT INTO queue_counts
    (status, category, severity, detector, department, assignee_id, n, folded)
  VALUES
    (new.status, new.category, new.severity, new.detector, new.department, new.assignee_id,
     1, 0);
END""",
    """CREATE TRIGGER queue_counts_delete AFTER DELETE ON findings BEGIN
  INSERT INTO queue_counts
    (status, category, severity, detector, department, assignee_id, n, folded)
  VALUES
    (old.status, old.category, old.severity, old.detector, old.department, old.assignee_id,
     -1, 0);
END""",
    """CREATE TRIGGER queue_counts_update
AFTER UPDATE OF status, category, severity, detector, department, assignee_id ON findings
WHEN old.status IS NOT new.status OR old.category IS NOT new.category
  OR old.severity IS NOT new.severity OR old.detector IS NOT new.detector
  OR old.department IS NOT new.department OR old.assignee_id IS NOT new.assignee_id
BEGIN
  INSERT INTO queue_counts
    (status, category, severity, detector, department, assignee_id, n, folded)
  VALUES
    (old.status, old.category, old.severity, old.detector, old.department, old.assignee_id,
     -1, 0);
  INSERT INTO queue_counts
    (status, category, severity, detector, department, assignee_id, n, folded)
  VALUES
    (new.status, new.category, new.severity, new.detector, new.department, new.assignee_id,
     1, 0);
END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS queue_counts_update",
    "DROP TRIGGER IF EXISTS queue_counts_delete",
    "DROP TRIGGER IF EXISTS queue_counts_insert",
]
# PostgreSQL counts per statement, from its transition tables: a detection run's batch insert of
# thousands of findings adds one row per combination, not one per finding, which keeps the table
# (and the space a fold leaves behind) small. A trigger with transition tables may name neither
# several events nor columns, hence three, and UPDATE ones that net to zero add nothing.
POSTGRES_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION queue_counts_insert() RETURNS trigger AS $$
BEGIN
  INSERT INTO queue_counts
    (status, category, severity, detector, department, assignee_id, n, folded)
  SELECT status, category, severity, detector, department, assignee_id, count(*), false
  FROM new_rows
  GROUP BY status, category, severity, detector, department, assignee_id;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION queue_counts_delete() RETURNS trigger AS $$
BEGIN
  INSERT INTO queue_counts
    (status, category, severity, detector, department, assignee_id, n, folded)
  SELECT status, category, severity, detector, department, assignee_id, -count(*), false
  FROM old_rows
  GROUP BY status, category, severity, detector, department, assignee_id;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION queue_counts_update() RETURNS trigger AS $$
BEGIN
  INSERT INTO queue_counts
    (status, category, severity, detector, department, assignee_id, n, folded)
  SELECT status, category, severity, detector, department, assignee_id, sum(d), false
  FROM (
    SELECT status, category, severity, detector, department, assignee_id, -1 AS d
    FROM old_rows
    UNION ALL
    SELECT status, category, severity, detector, department, assignee_id, 1 AS d
    FROM new_rows
  ) AS changed
  GROUP BY status, category, severity, detector, department, assignee_id
  HAVING sum(d) <> 0;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER queue_counts_insert AFTER INSERT ON findings REFERENCING NEW TABLE AS "
    "new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_insert()",
    "CREATE TRIGGER queue_counts_delete AFTER DELETE ON findings REFERENCING OLD TABLE AS "
    "old_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_delete()",
    "CREATE TRIGGER queue_counts_update AFTER UPDATE ON findings REFERENCING OLD TABLE AS "
    "old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_update()",
    # TRUNCATE fires no row trigger: emptying the findings empties their counts.
    """CREATE OR REPLACE FUNCTION queue_counts_truncate() RETURNS trigger AS $$
BEGIN
  DELETE FROM queue_counts;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER queue_counts_truncate AFTER TRUNCATE ON findings "
    "FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_truncate()",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS queue_counts_insert ON findings",
    "DROP TRIGGER IF EXISTS queue_counts_delete ON findings",
    "DROP TRIGGER IF EXISTS queue_counts_update ON findings",
    "DROP TRIGGER IF EXISTS queue_counts_truncate ON findings",
    "DROP FUNCTION IF EXISTS queue_counts_insert()",
    "DROP FUNCTION IF EXISTS queue_counts_delete()",
    "DROP FUNCTION IF EXISTS queue_counts_update()",
    "DROP FUNCTION IF EXISTS queue_counts_truncate()",
]
# The counts of the findings already there (the migration's backfill), folded from the start.
BACKFILL = """INSERT INTO queue_counts
  (status, category, severity, detector, department, assignee_id, n, folded)
SELECT status, category, severity, detector, department, assignee_id, count(*), true
FROM findings
GROUP BY status, category, severity, detector, department, assignee_id"""
_PG_FOLD = """WITH gone AS (
  DELETE FROM queue_counts
  RETURNING status, category, severity, detector, department, assignee_id, n
)
INSERT INTO queue_counts
  (status, category, severity, detector, department, assignee_id, n, folded)
SELECT status, category, severity, detector, department, assignee_id, sum(n), true
FROM gone
GROUP BY status, category, severity, detector, department, assignee_id
HAVING sum(n) <> 0"""
_SQLITE_FOLD = """INSERT INTO queue_counts
  (status, category, severity, detector, department, assignee_id, n, folded)
SELECT status, category, severity, detector, department, assignee_id, sum(n), 1
FROM queue_counts WHERE id <= :last
GROUP BY status, category, severity, detector, department, assignee_id
HAVING sum(n) <> 0"""


# Made by migration 0014, not models (a descending key is not a column list): the page's order,
# priority high to low then id low to high, read straight off an index for one status, for any
# status, and for one course. The filter columns ride along, so a narrowed page tests index
# entries rather than reading a row for each.
PAGE_INDEXES = {
    "ix_findings_queue_desc": "CREATE INDEX ix_findings_queue_desc ON findings "
    "(status, priority DESC, id, category, department, severity, assignee_id)",
    "ix_findings_priority_desc": "CREATE INDEX ix_findings_priority_desc ON findings "
    "(priority DESC, id, status, category, department, severity, assignee_id)",
    "ix_findings_course_queue": "CREATE INDEX ix_findings_course_queue ON findings "
    "(course_id, status, priority DESC, id)",
}


def fold_queue_counts(session: Session) -> None:
    """Sum the count rows into one folded row per combination (figures are unchanged).

    PostgreSQL does it in one statement: it deletes the rows its snapshot sees and inserts their
    sums, so rows that concurrent writers insert meanwhile stay for the next fold, and a second
    fold running at once skips the rows the first deleted. SQLite has one writer at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(_PG_FOLD))
        return
    last = session.execute(text("SELECT max(id) FROM queue_counts")).scalar()
    if last is None:
        return
    session.execute(text(_SQLITE_FOLD), {"last": last})
    session.execute(text("DELETE FROM queue_counts WHERE id <= :last"), {"last": last})


def fold_if_due(session: Session) -> bool:
    """Fold when ``FOLD_AFTER_ROWS`` loose rows have gathered (one index probe otherwise)."""
    due = session.execute(
        select(col(QueueCount.id))
        .where(col(QueueCount.folded).is_(False))
        .order_by(col(QueueCount.id))
        .offset(FOLD_AFTER_ROWS - 1)
        .limit(1)
    ).first()
    if due is None:
        return False
    fold_queue_counts(session)
    return True


def counts_by(
    session: Session, narrow: Callable[[Any], Any], *, by: tuple[str, ...] = ("status",)
) -> dict[tuple[Any, ...], int]:
    """Findings per value of ``by``, summed from the count rows that ``narrow`` keeps.

    ``narrow`` adds WHERE clauses to a query on ``QueueCount`` (the same columns as on
    ``Finding``), so the queue's own filter code applies to both.
    """
    columns = [getattr(QueueCount, name) for name in by]
    query = narrow(select(*columns, func.sum(QueueCount.n)).group_by(*columns))
    return {tuple(row[:-1]): int(row[-1]) for row in session.execute(query).all() if int(row[-1])}
