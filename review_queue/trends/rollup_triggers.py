# ruff: noqa: S608  (SQL assembled from this module's constants only, never from input)
"""The triggers that keep the trend roll-ups exact in the same transaction as every change to
``findings`` and ``feedback_log``, whichever service or script makes it (migration 0015).

SQLite runs them per row, PostgreSQL per statement from the transition tables, so a detection
run's batch of thousands of findings adds one upsert per day and combination, not one per
finding. Each trigger subtracts what the old rows added and adds what the new rows add, with the
statements of ``rollup_sql``. A new finding has no log rows yet (the foreign key sees to that),
so an insert adds only its own part; a deleted one takes its remaining log rows' part with it.
"""

from __future__ import annotations

from review_queue.trends.rollup_sql import (
    ALL_FINDING_COLUMNS,
    DECIDED,
    EVENT_COLUMNS,
    UNDO,
    Dialect,
    add_to_courses,
    add_to_rollups,
    event_marks,
    finding_marks,
    first_moves_of,
)

SQLITE = Dialect("sqlite")
PG = Dialect("postgresql")
MOVE_COLUMNS = ("first_seen_at", "category", "detector")
MARK_COLUMNS = ("status", *MOVE_COLUMNS)


def _row(prefix: str, columns: tuple[str, ...], alias: str) -> str:
    """A one-row source made of a SQLite trigger's ``new``/``old`` row."""
    return "(SELECT " + ", ".join(f"{prefix}.{c} AS {c}" for c in columns) + f") AS {alias}"


def _changed(d: Dialect, a: str, b: str, columns: tuple[str, ...], *, course: bool) -> str:
    """Whether rows ``a`` and ``b`` differ in ``columns``, the department or (``course``) the
    course."""
    neq = "IS NOT" if not d.pg else "IS DISTINCT FROM"
    parts = [f"{a}.{c} {neq} {b}.{c}" for c in columns]
    parts.append(f"{d.department(a)} {neq} {d.department(b)}")
    if course:
        parts.append(f"{d.course(a)} {neq} {d.course(b)}")
    return " OR ".join(parts)


def _sqlite_triggers() -> list[str]:
    d = SQLITE
    new_f, old_f = _row("new", ALL_FINDING_COLUMNS, "f"), _row("old", ALL_FINDING_COLUMNS, "f")
    new_e, old_e = _row("new", EVENT_COLUMNS, "e"), _row("old", EVENT_COLUMNS, "e")
    marks_changed = _changed(d, "old", "new", MARK_COLUMNS, course=True)
    moved = _changed(d, "old", "new", MOVE_COLUMNS, course=False)
    qualifies = "{r}.action <> '" + UNDO + "' AND {r}.to_status IN (" + DECIDED + ")"

    def body(*statements: str) -> str:
        return "BEGIN\n" + "".join(f"  {s};\n" for s in statements) + "END"

    return [
        "CREATE TRIGGER trend_rollups_finding_insert AFTER INSERT ON findings "
        + body(
            add_to_rollups(d, finding_marks(d, new_f, 1)),
            add_to_courses(finding_marks(d, new_f, 1, course=True)),
        ),
        "CREATE TRIGGER trend_rollups_finding_delete AFTER DELETE ON findings "
        + body(
            add_to_rollups(d, finding_marks(d, old_f, -1)),
            add_to_rollups(d, event_marks(d, "feedback_log e", old_f, -1)),
            add_to_courses(finding_marks(d, old_f, -1, course=True)),
            "DELETE FROM trend_first_moves WHERE finding_id = old.id",
        ),
        "CREATE TRIGGER trend_rollups_finding_update AFTER UPDATE ON findings "
        f"WHEN {marks_changed} "
        + body(
            add_to_rollups(
                d, finding_marks(d, old_f, -1) + " UNION ALL " + finding_marks(d, new_f, 1)
            ),
            add_to_courses(
                finding_marks(d, old_f, -1, course=True)
                + " UNION ALL "
                + finding_marks(d, new_f, 1, course=True)
            ),
        ),
        f"CREATE TRIGGER trend_rollups_finding_moved AFTER UPDATE ON findings WHEN {moved} "
        + body(
            add_to_rollups(
                d,
                event_marks(d, "feedback_log e", old_f, -1)
                + " UNION ALL "
                + event_marks(d, "feedback_log e", new_f, 1),
            ),
            *first_moves_of(d, "SELECT new.id"),
        ),
        "CREATE TRIGGER trend_rollups_event_insert AFTER INSERT ON feedback_log "
        + body(add_to_rollups(d, event_marks(d, new_e, "findings f", 1))),
        "CREATE TRIGGER trend_rollups_event_first_move AFTER INSERT ON feedback_log "
        f"WHEN {qualifies.format(r='new')} " + body(*first_moves_of(d, "SELECT new.finding_id")),
        "CREATE TRIGGER trend_rollups_event_delete AFTER DELETE ON feedback_log "
        + body(
            add_to_rollups(d, event_marks(d, old_e, "findings f", -1)),
            *first_moves_of(d, "SELECT old.finding_id"),
        ),
        "CREATE TRIGGER trend_rollups_event_update AFTER UPDATE ON feedback_log "
        + body(
            add_to_rollups(
                d,
                event_marks(d, old_e, "findings f", -1)
                + " UNION ALL "
                + event_marks(d, new_e, "findings f", 1),
            ),
            *first_moves_of(d, "SELECT old.finding_id UNION SELECT new.finding_id"),
        ),
    ]


SQLITE_TRIGGER_NAMES = (
    "trend_rollups_finding_insert", "trend_rollups_finding_delete",
    "trend_rollups_finding_update", "trend_rollups_finding_moved",
    "trend_rollups_event_insert", "trend_rollups_event_first_move",
    "trend_rollups_event_delete", "trend_rollups_event_update",
)  # fmt: skip


def _pg_function(name: str, *statements: str) -> str:
    body = "".join(f"  {s};\n" for s in statements)
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$\nBEGIN\n{body}"
        "  RETURN NULL;\nEND $$ LANGUAGE plpgsql"
    )


def _pg_triggers() -> list[str]:
    d = PG
    pair = "FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE "
    marked = _changed(d, "o", "n", MARK_COLUMNS, course=True)
    moved = _changed(d, "o", "n", MOVE_COLUMNS, course=False)
    old_marked, new_marked = (
        f"(SELECT o.* {pair}{marked}) AS f",
        f"(SELECT n.* {pair}{marked}) AS f",
    )
    old_moved, new_moved = f"(SELECT o.* {pair}{moved}) AS f", f"(SELECT n.* {pair}{moved}) AS f"
    qualifying = f"action <> '{UNDO}' AND to_status IN ({DECIDED})"
    functions = [
        _pg_function(
            "trend_rollups_finding_insert",
            add_to_rollups(d, finding_marks(d, "new_rows f", 1)),
            add_to_courses(finding_marks(d, "new_rows f", 1, course=True)),
        ),
        _pg_function(
            "trend_rollups_finding_delete",
            add_to_rollups(d, finding_marks(d, "old_rows f", -1)),
            add_to_rollups(d, event_marks(d, "feedback_log e", "old_rows f", -1)),
            add_to_courses(finding_marks(d, "old_rows f", -1, course=True)),
            "DELETE FROM trend_first_moves WHERE finding_id IN (SELECT id FROM old_rows)",
        ),
        _pg_function(
            "trend_rollups_finding_update",
            add_to_rollups(
                d,
                finding_marks(d, old_marked, -1) + " UNION ALL " + finding_marks(d, new_marked, 1),
            ),
            add_to_courses(
                finding_marks(d, old_marked, -1, course=True)
                + " UNION ALL "
                + finding_marks(d, new_marked, 1, course=True)
            ),
            add_to_rollups(
                d,
                event_marks(d, "feedback_log e", old_moved, -1)
                + " UNION ALL "
                + event_marks(d, "feedback_log e", new_moved, 1),
            ),
            *first_moves_of(d, f"SELECT n.id {pair}{moved}"),
        ),
        _pg_function(
            "trend_rollups_event_insert",
            add_to_rollups(d, event_marks(d, "new_rows e", "findings f", 1)),
            *first_moves_of(d, f"SELECT finding_id FROM new_rows WHERE {qualifying}"),
        ),
        _pg_function(
            "trend_rollups_event_delete",
            add_to_rollups(d, event_marks(d, "old_rows e", "findings f", -1)),
            *first_moves_of(d, f"SELECT finding_id FROM old_rows WHERE {qualifying}"),
        ),
        _pg_function(
            "trend_rollups_event_update",
            add_to_rollups(
                d,
                event_marks(d, "old_rows e", "findings f", -1)
                + " UNION ALL "
                + event_marks(d, "new_rows e", "findings f", 1),
            ),
            *first_moves_of(
                d, "SELECT finding_id FROM old_rows UNION SELECT finding_id FROM new_rows"
            ),
        ),
        _pg_function(
            "trend_rollups_findings_truncate",
            "DELETE FROM trend_rollups",
            "DELETE FROM trend_finding_courses",
            "DELETE FROM trend_first_moves",
        ),
    ]
    triggers = [
        f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {refs} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        for name, event, table, refs in PG_TRIGGERS
    ]
    triggers.append(
        "CREATE TRIGGER trend_rollups_findings_truncate AFTER TRUNCATE ON findings "
        "FOR EACH STATEMENT EXECUTE FUNCTION trend_rollups_findings_truncate()"
    )
    return functions + triggers


PG_TRIGGERS = (
    ("trend_rollups_finding_insert", "INSERT", "findings", "NEW TABLE AS new_rows"),
    ("trend_rollups_finding_delete", "DELETE", "findings", "OLD TABLE AS old_rows"),
    ("trend_rollups_finding_update", "UPDATE", "findings",
     "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("trend_rollups_event_insert", "INSERT", "feedback_log", "NEW TABLE AS new_rows"),
    ("trend_rollups_event_delete", "DELETE", "feedback_log", "OLD TABLE AS old_rows"),
    ("trend_rollups_event_update", "UPDATE", "feedback_log",
     "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
)  # fmt: skip


def create_triggers(dialect: str) -> list[str]:
    """The statements that create the roll-up triggers on ``dialect``."""
    return _pg_triggers() if dialect == "postgresql" else _sqlite_triggers()


def drop_triggers(dialect: str) -> list[str]:
    """The statements that drop them."""
    if dialect != "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGER_NAMES]
    out = [f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, _, table, _ in PG_TRIGGERS]
    out.append("DROP TRIGGER IF EXISTS trend_rollups_findings_truncate ON findings")
    names = [name for name, *_ in PG_TRIGGERS] + ["trend_rollups_findings_truncate"]
    return out + [f"DROP FUNCTION IF EXISTS {name}()" for name in names]
