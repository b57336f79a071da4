"""The ``activity`` table's rows in memory, and what its generation and its gaps share.

:class:`Events` holds the rows as arrays; :class:`Calendar` weights the window's days (weekends and
public holidays are quiet); :class:`Learners` draws who acts in a course; :class:`ActivityBaseline`
is what the clean activity looks like, which the activity-based gaps are measured against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from app.demo.organisation.context import GenerationContext
from app.demo.organisation.enrollments import Enrollments
from app.demo.organisation.people import Organisation
from app.demo.organisation.timeline import public_holidays
from app.sources.contract import TABLES

# Relative activity per weekday (Mon..Sun) and on public holidays.
WEEKDAY_WEIGHT = np.array([1.0, 1.05, 1.0, 0.95, 0.8, 0.3, 0.25])
HOLIDAY_WEIGHT = 0.3

# The contract's own verb list, in its order (the generator indexes into it).
VERBS = np.array(TABLES["activity"].column("verb").enum, dtype=object)
(V_LOGIN, V_LOGIN_FAILED, V_LAUNCHED, V_LAUNCH_FAILED, V_VIEWED, V_PROGRESSED, V_SUBMITTED) = range(
    7
)
V_COMPLETED, V_PASSED, V_FAILED = 7, 8, 9


@dataclass
class Calendar:
    """Per window-day weekday, holiday flag and activity weight (index 0 = first window day)."""

    weekday: np.ndarray
    holiday: np.ndarray
    weight: np.ndarray
    cum: np.ndarray  # cumulative weight, len days + 1

    @classmethod
    def build(cls, ctx: GenerationContext) -> Calendar:
        """The calendar of ``ctx``'s window."""
        first = date(1970, 1, 1) + timedelta(days=ctx.t_day - ctx.days)
        dates = [first + timedelta(days=i) for i in range(ctx.days)]
        hol = public_holidays(range(first.year, dates[-1].year + 1))
        weekday = np.array([d.weekday() for d in dates], dtype=np.int64)
        holiday = np.array([d in hol for d in dates])
        weight = WEEKDAY_WEIGHT[weekday].copy()
        weight[holiday] = np.minimum(weight[holiday], HOLIDAY_WEIGHT)
        cum = np.concatenate([[0.0], np.cumsum(weight)])
        return cls(weekday, holiday, weight, cum)


@dataclass
class Events:
    """Activity rows as parallel arrays (one element per event)."""

    person: np.ndarray  # the acting person's (base) account; index into people
    course: np.ndarray  # course index or -1 for site-level events
    verb: np.ndarray
    ts: np.ndarray
    value: np.ndarray  # float, NaN = empty
    enr: np.ndarray  # enrolment index for progressed events, else -1

    @classmethod
    def make(
        cls,
        person: np.ndarray,
        course: np.ndarray | int,
        verb: int,
        ts: np.ndarray,
        value: np.ndarray | None = None,
        enr: np.ndarray | None = None,
    ) -> Events:
        """Events of one verb (``course`` -1: site-level; ``value`` NaN: empty)."""
        size = ts.size
        return cls(
            person=np.asarray(person, dtype=np.int64),
            course=np.broadcast_to(np.asarray(course, dtype=np.int64), (size,)).copy(),
            verb=np.full(size, verb, dtype=np.int8),
            ts=np.asarray(ts, dtype=np.int64),
            value=np.full(size, np.nan) if value is None else np.round(value, 1),
            enr=np.full(size, -1, dtype=np.int64) if enr is None else enr,
        )

    @classmethod
    def concat(cls, parts: list[Events]) -> Events:
        """All events of ``parts``, in order."""
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__)
        )

    def take(self, keep: np.ndarray) -> Events:
        """The events selected by ``keep`` (a mask or indices)."""
        return Events(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


@dataclass
class Learners:
    """Who may act in a course: the current staff enrolled in it with activity, else any staff."""

    person: np.ndarray  # person of each enrolment
    pool: np.ndarray  # enrolments of current staff that have activity, sorted by course
    start: np.ndarray  # per course, where its enrolments begin in ``pool``
    size: np.ndarray  # per course, how many there are
    staff: np.ndarray  # current staff already hired

    @classmethod
    def of(cls, ctx: GenerationContext, org: Organisation, enr: Enrollments) -> Learners:
        """The learners of every course of ``org``."""
        ok = (enr.act_hi > enr.act_lo + 600) & (org.p_status[enr.person] < 2)
        pool = np.flatnonzero(ok)
        pool = pool[np.argsort(enr.course[pool], kind="stable")]
        size = np.bincount(enr.course[pool], minlength=org.c_kind.size)
        start = np.concatenate([[0], np.cumsum(size)[:-1]])
        staff = np.flatnonzero((org.p_status < 2) & (org.p_hire < ctx.t_day))
        return cls(enr.person, pool, start, size, staff)

    def draw(self, ctx: GenerationContext, courses: np.ndarray) -> np.ndarray:
        """A learner of each of ``courses`` (a random member of staff for a course with none)."""
        pool, sz = self.pool, self.size[courses]
        pick = self.start[courses] + (ctx.rng.random(courses.size) * np.maximum(sz, 1)).astype(
            np.int64
        )
        fallback = self.staff[ctx.rng.integers(0, self.staff.size, courses.size)]
        holder = np.where(sz > 0, pool[np.minimum(pick, pool.size - 1)] if pool.size else 0, -1)
        return np.where(holder >= 0, self.person[np.maximum(holder, 0)], fallback)


@dataclass
class ActivityBaseline:
    """The clean activity the activity-based gaps are measured against."""

    calendar: Calendar
    learners: Learners
    active_courses: np.ndarray
    launches: np.ndarray  # launched events per (course, window day), before the daily floors
    logins: np.ndarray  # login events per window day, before the daily floors
