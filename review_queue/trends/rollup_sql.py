# ruff: noqa: S608  (SQL assembled from this module's constants only, never from input)
"""The SQL that keeps the trend roll-ups exact: what one finding and one feedback-log row add to
them, as triggers on SQLite (per row) and PostgreSQL (per statement), and as the rebuild.

A roll-up row is a signed count per local day (of the zone they were built for), measure,
category, department, detector. What a finding adds depends only on its own columns and its
log rows, so every trigger subtracts the old rows' part and adds the new rows' part, by the same
SQL the rebuild runs over whole tables; the two cannot drift apart. Measures:

- per finding, on the day it was first seen: ``opened``; ``open`` (not closed now), ``real``
  (confirmed or resolved now); the same per course in ``trend_finding_courses``;
- per log row, on its day: ``confirmed``, ``dismissed``, ``resolved`` (decisions, as
  ``query.net_decisions`` counts them) and ``undone_confirmed`` ... (their undos, kept apart so a
  day whose decisions were all undone still shows, as the scan shows it), ``closed`` and
  ``reopened`` (the backlog's changes);
- ``opened``, ``open``, ``closed`` and ``reopened`` also on ``TOTAL_DAY``, the sum over all days,
  so "everything before the range" is a total minus a short range, not a scan of years.

``trend_first_moves`` holds each finding's first triage and first resolution (time to decide).
Audit findings are left out, as every trend metric leaves them out. Written from constants only.
"""

from __future__ import annotations

from datetime import date

from review_queue import states
from review_queue.audits import AUDIT_DETECTOR
from review_queue.states import values

TOTAL_DAY = date(1, 1, 1)
TOTALLED = ("opened", "open", "closed", "reopened")
ROLLUP_KEY = "day, measure, category, department, detector"
COURSE_KEY = "day, measure, course, category, department"


def _quoted(items: tuple[str, ...]) -> str:
    return ", ".join(f"'{i}'" for i in items)


CLOSED = _quoted(values(states.CLOSED_STATUSES))
REAL = _quoted(values(states.REAL_STATUSES))
DECIDED = _quoted((*values(states.VERDICT_STATUSES), "resolved"))
WORK = _quoted(values(states.WORK_ACTIONS))
UNDO = states.Action.undo.value
# The measure of an undo of a decision to a status: this prefix and the status.
UNDONE = "undone_"
FIRST_MOVE_KINDS = (
    ("triage", values(states.VERDICT_STATUSES)),
    ("resolve", ("resolved",)),
)


class Dialect:
    """The few expressions SQLite and PostgreSQL spell differently."""

    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"

    def day(self, at: str) -> str:
        """The local day of a UTC time in the zone the roll-ups are built for."""
        if self.pg:
            return f"date(timezone((SELECT s.zone FROM trend_rollup_state s), {at}))"
        return (
            f"date({at}, (SELECT o.modifier FROM trend_zone_offsets o"
            f" WHERE o.starts_at <= {at} ORDER BY o.starts_at DESC LIMIT 1))"
        )

    def total_day(self) -> str:
        return "DATE '0001-01-01'" if self.pg else "'0001-01-01'"

    def department(self, f: str) -> str:
        """``query.finding_department`` on a findings row called ``f``."""
        if self.pg:
            ev, ft = f"{f}.evidence ->> 'department'", f"{f}.features ->> 'department'"
        else:
            ev = f"json_extract({f}.evidence, '$.\"department\"')"
            ft = f"json_extract({f}.features, '$.\"department\"')"
        return (
            f"coalesce(nullif({f}.department, ''), nullif({ev}, ''), nullif({ft}, ''),"
            " 'no department')"
        )

    def course(self, f: str) -> str:
        """``TrendQuery.course`` on a findings row called ``f``."""
        key = f"{f}.entity_key"
        if self.pg:
            from_key = f"substring({key} FROM '(?:^|;)course=([^;]*)')"
        else:
            pos = f"instr({key}, 'course=')"
            rest = f"substr({key}, {pos} + 7)"
            from_key = (
                f"CASE WHEN {pos} = 0 THEN NULL WHEN instr({rest}, ';') = 0 THEN {rest}"
                f" ELSE substr({rest}, 1, instr({rest}, ';') - 1) END"
            )
        return f"coalesce(nullif({f}.course_id, ''), {from_key})"

    def minutes(self, earlier: str, later: str) -> str:
        """``sql_time.minutes_between``."""
        if self.pg:
            return f"round(EXTRACT(epoch FROM {later} - {earlier}) / 60)"
        return f"round((julianday({later}) - julianday({earlier})) * 1440.0)"


def finding_marks(d: Dialect, src: str, sign: int, *, course: bool = False) -> str:
    """What the findings in ``src`` (aliased ``f``) add, each with ``sign``: day, measure, dims."""
    dims = (
        f"{d.course('f')} AS course, f.category AS category, {d.department('f')} AS department"
        if course
        else f"f.category AS category, {d.department('f')} AS department, f.detector AS detector"
    )
    where = f"f.detector <> '{AUDIT_DETECTOR}'" + (
        f" AND {d.course('f')} IS NOT NULL" if course else ""
    )
    day = d.day("f.first_seen_at")
    parts = [
        f"SELECT {day} AS day, 'opened' AS measure, {dims}, {sign} AS n FROM {src} WHERE {where}",
        f"SELECT {day}, 'open', {dims}, {sign} FROM {src}"
        f" WHERE {where} AND f.status NOT IN ({CLOSED})",
        f"SELECT {day}, 'real', {dims}, {sign} FROM {src} WHERE {where} AND f.status IN ({REAL})",
    ]
    return " UNION ALL ".join(parts)


def event_marks(d: Dialect, events: str, findings: str, sign: int) -> str:
    """What the log rows in ``events`` (``e``) of the findings in ``findings`` (``f``) add."""
    day = d.day("e.at")
    dims = f"f.category AS category, {d.department('f')} AS department, f.detector AS detector"
    join = (
        f"FROM {events} JOIN {findings} ON f.id = e.finding_id"
        f" WHERE f.detector <> '{AUDIT_DETECTOR}'"
    )
    is_undo = f"e.action = '{UNDO}'"
    closes = f"e.from_status NOT IN ({CLOSED}) AND e.to_status IN ({CLOSED})"
    reopens = f"e.from_status IN ({CLOSED}) AND e.to_status NOT IN ({CLOSED})"
    decisions = (
        f"SELECT {day} AS day, CASE WHEN {is_undo} THEN '{UNDONE}' || e.from_status"
        f" ELSE e.to_status END AS measure, {dims}, {sign} AS n {join}"
        f" AND e.action NOT IN ({WORK}) AND ((e.action <> '{UNDO}' AND e.to_status IN"
        f" ({DECIDED})) OR ({is_undo} AND e.from_status IN ({DECIDED})))"
    )
    changes = (
        f"SELECT {day}, CASE WHEN {closes} THEN 'closed' ELSE 'reopened' END, {dims}, {sign}"
        f" {join} AND e.from_status IS NOT NULL AND (({closes}) OR ({reopens}))"
    )
    return f"{decisions} UNION ALL {changes}"


def add_to_rollups(d: Dialect, marks: str) -> str:
    """Sum ``marks`` into ``trend_rollups`` (the totalled measures also on ``TOTAL_DAY``)."""
    totalled = _quoted(TOTALLED)
    return (
        f"INSERT INTO trend_rollups ({ROLLUP_KEY}, n)"
        f" SELECT CASE WHEN t.total = 1 THEN {d.total_day()} ELSE m.day END AS day,"
        " m.measure, m.category, m.department, m.detector, sum(m.n)"
        f" FROM ({marks}) AS m CROSS JOIN (SELECT 0 AS total UNION ALL SELECT 1) AS t"
        f" WHERE t.total = 0 OR m.measure IN ({totalled})"
        " GROUP BY 1, m.measure, m.category, m.department, m.detector HAVING sum(m.n) <> 0"
        f" ON CONFLICT ({ROLLUP_KEY}) DO UPDATE SET n = trend_rollups.n + excluded.n"
    )


def add_to_courses(marks: str) -> str:
    """Sum per-course ``marks`` into ``trend_finding_courses``."""
    return (
        f"INSERT INTO trend_finding_courses ({COURSE_KEY}, n)"
        f" SELECT m.day, m.measure, m.course, m.category, m.department, sum(m.n)"
        f" FROM ({marks}) AS m GROUP BY m.day, m.measure, m.course, m.category, m.department"
        f" HAVING sum(m.n) <> 0"
        f" ON CONFLICT ({COURSE_KEY}) DO UPDATE SET n = trend_finding_courses.n + excluded.n"
    )


def first_moves_of(d: Dialect, ids: str) -> list[str]:
    """Recompute ``trend_first_moves`` of the findings whose ids ``ids`` (a subquery) gives."""
    kinds = " UNION ALL ".join(
        f"SELECT '{kind}' AS kind, '{status}' AS status"
        for kind, statuses in FIRST_MOVE_KINDS
        for status in statuses
    )
    return [
        f"DELETE FROM trend_first_moves WHERE finding_id IN ({ids})",
        "INSERT INTO trend_first_moves"
        " (finding_id, kind, at, day, minutes, category, department)"
        f" SELECT fm.finding_id, fm.kind, fm.at, {d.day('fm.at')},"
        f" {d.minutes('f.first_seen_at', 'fm.at')}, f.category, {d.department('f')}"
        " FROM (SELECT e.finding_id AS finding_id, k.kind AS kind, min(e.at) AS at"
        f" FROM feedback_log e JOIN ({kinds}) AS k ON k.status = e.to_status"
        f" WHERE e.finding_id IN ({ids}) AND e.action <> '{UNDO}'"
        " GROUP BY e.finding_id, k.kind) AS fm"
        f" JOIN findings f ON f.id = fm.finding_id WHERE f.detector <> '{AUDIT_DETECTOR}'",
    ]


def rebuild_statements(d: Dialect) -> list[str]:
    """Empty the roll-ups and fill them from every finding and log row (the backfill)."""
    return [
        "DELETE FROM trend_rollups",
        "DELETE FROM trend_finding_courses",
        add_to_rollups(d, finding_marks(d, "findings f", 1)),
        add_to_rollups(d, event_marks(d, "feedback_log e", "findings f", 1)),
        add_to_courses(finding_marks(d, "findings f", 1, course=True)),
        *first_moves_of(d, "SELECT id FROM findings"),
    ]


# A finding's columns its roll-up rows depend on; ``DIMENSION_COLUMNS`` also move its log rows.
FINDING_COLUMNS = ("status", "first_seen_at", "category", "detector", "department", "evidence",
                   "features", "course_id", "entity_key")  # fmt: skip
DIMENSION_COLUMNS = ("first_seen_at", "category", "detector", "department", "evidence", "features")
ALL_FINDING_COLUMNS = ("id", *FINDING_COLUMNS)
EVENT_COLUMNS = ("id", "finding_id", "at", "action", "from_status", "to_status")
