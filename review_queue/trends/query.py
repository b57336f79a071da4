"""The SQL the trend metrics share: which statuses they count, one request's range and filters
as SQL, a finding's department and course, and decisions per day net of undos.

Every metric aggregates in the database and only small grouped results reach pandas;
``TrendQuery.rows`` is where they cross.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, func, null, or_, select
from sqlalchemy.sql.selectable import Select
from sqlmodel import Session, col

from review_queue import states
from review_queue.audits import AUDIT_DETECTOR
from review_queue.states import values
from review_queue.tables import FeedbackEvent, Finding
from review_queue.trends.sql_time import as_date, local_day, minutes_between

if TYPE_CHECKING:
    # Only a type here: filters imports this module for the department expression.
    from review_queue.trends.filters import TrendFilters

# Said as a manager reads it: a gap that belongs to no department is not a department.
UNKNOWN_DEPARTMENT = "no department"

# A trend's "open" gap (backlog, compliance exposure, a location's open gaps) is one not closed:
# review_queue.states.UNCLOSED_STATUSES, snoozed ones included (unlike the queue's OPEN_STATUSES).
CLOSED_STATUSES = values(states.CLOSED_STATUSES)
# Triage decisions (confirm or dismiss): counted by gap flow, precision and time to triage.
DECIDED_STATUSES = values(states.VERDICT_STATUSES)
UNDO_ACTION = states.Action.undo.value


class TrendQuery:
    """SQL expressions for one request: the dialect's local day, course, and the filters."""

    def __init__(self, session: Session, filters: TrendFilters) -> None:
        self.session = session
        self.filters = filters
        self.dialect = session.get_bind().dialect.name

    def in_range(self, column: Any) -> list[ColumnElement[bool]]:
        """``column`` falls inside the range."""
        return [column >= self.filters.start_utc, column < self.filters.end_utc]

    def finding_filters(self) -> list[ColumnElement[bool]]:
        """The department and category filters, on the findings table; the audits' own findings
        (their verdicts on entities no detector flagged) are the Audits panel's, not a detector's
        flow or precision."""
        out: list[ColumnElement[bool]] = [col(Finding.detector) != AUDIT_DETECTOR]
        if self.filters.categories:
            out.append(col(Finding.category).in_(self.filters.categories))
        if self.filters.departments:
            out.append(finding_department().in_(self.filters.departments))
        return out

    def day(self, column: Any) -> ColumnElement[Any]:
        """The local calendar day (reporting time zone) of a UTC timestamp column."""
        f = self.filters
        return local_day(column, dialect=self.dialect, tz=f.tz, start=f.start_utc, end=f.end_utc)

    def minutes_between(self, earlier: Any, later: Any) -> ColumnElement[Any]:
        """Whole minutes from ``earlier`` to ``later`` (rounded)."""
        return minutes_between(earlier, later, dialect=self.dialect)

    def course(self) -> ColumnElement[Any]:
        """The finding's course: its own column, else the ``course=`` part of its entity key."""
        key = col(Finding.entity_key)
        from_key: ColumnElement[Any]
        if self.dialect == "postgresql":
            from_key = func.substring(key, "(?:^|;)course=([^;]*)")
        else:
            pos = func.instr(key, "course=")
            rest = func.substr(key, pos + len("course="))
            semi = func.instr(rest, ";")
            from_key = case(
                (pos == 0, null()),
                (semi == 0, rest),
                else_=func.substr(rest, 1, semi - 1),
            )
        return func.coalesce(func.nullif(col(Finding.course_id), ""), from_key)

    def rows(self, inner: Select[Any], group: Sequence[str]) -> pd.DataFrame:
        """``inner`` grouped by its ``group`` columns, with a ``count`` and ``day`` as dates.

        Grouping happens on a subquery's columns because PostgreSQL cannot tell that two
        separately bound copies of an expression (the time zone, a JSON key) are the same.
        """
        sub = inner.subquery()
        cols = [sub.c[name] for name in group]
        result = fetch_rows(self.session, select(*cols, func.count()).group_by(*cols))
        frame = pd.DataFrame([tuple(r) for r in result], columns=[*group, "count"])
        if "day" in frame:
            frame["day"] = frame["day"].map(as_date)
        frame["count"] = frame["count"].astype("int64")
        return frame


def fetch_rows(session: Session, statement: Any) -> list[tuple[Any, ...]]:
    """Execute a Core statement in the session's transaction; all its rows as tuples."""
    return [tuple(row) for row in session.connection().execute(statement)]


def finding_department() -> ColumnElement[Any]:
    """A finding's department: its own column, else its evidence, else its features, else
    'no department' (findings proposed before the column existed carry it only in their JSON)."""
    stored = func.nullif(col(Finding.department), "")
    evidence = func.nullif(col(Finding.evidence)["department"].as_string(), "")
    features = func.nullif(col(Finding.features)["department"].as_string(), "")
    return func.coalesce(stored, evidence, features, UNKNOWN_DEPARTMENT)


def net_decisions(q: TrendQuery, *, by: str, statuses: Sequence[str]) -> pd.DataFrame:
    """Per local day and ``by`` (a findings column), decisions to each status, net of undos.

    Returns ``day``, ``<by>``, ``measure`` (a status), ``count`` (an undo subtracts one from the
    status it undid, in the week of the undo).
    """
    event = FeedbackEvent
    is_undo = col(event.action) == UNDO_ACTION
    measure = case((is_undo, col(event.from_status)), else_=col(event.to_status))
    sign = case((is_undo, -1), else_=1)
    inner = (
        select(
            q.day(col(event.at)).label("day"),
            getattr(Finding, by).label(by),
            measure.label("measure"),
            sign.label("sign"),
        )
        .join(Finding, col(Finding.id) == col(event.finding_id))
        .where(
            *q.in_range(col(event.at)),
            # Work on a dismissal's fix (review_queue.work_items) is logged on the finding
            # with its status unchanged: not another decision to that status.
            col(event.action).not_in(values(states.WORK_ACTIONS)),
            or_(
                and_(~is_undo, col(event.to_status).in_(statuses)),
                and_(is_undo, col(event.from_status).in_(statuses)),
            ),
            *q.finding_filters(),
        )
    )
    frame = q.rows(inner, ("day", by, "measure", "sign"))
    frame["count"] = frame["count"] * frame["sign"]
    frame = frame.drop(columns="sign")
    return frame.groupby(["day", by, "measure"], as_index=False)["count"].sum()
