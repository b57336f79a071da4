"""The ``enrollments`` table: rule, HR-sync, self and manual enrolments and their outcomes.

Each enrolment also carries the interval in which its learner is active, which drives the activity.
Its gaps are injected by :mod:`app.demo.organisation.enrollment_gaps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.demo.organisation.context import GenerationContext
from app.demo.organisation.csv_bytes import (
    byte_table,
    encode_lookup,
    encode_numbers,
    encode_row_ids,
    encode_timestamps,
    write_table,
)
from app.demo.organisation.people import Organisation
from app.demo.organisation.timeline import DAY, HOUR, NA
from app.sources.contract import TABLES

# The contract's columns, in its order (the writer's cells follow it).
COLUMNS = tuple(c.name for c in TABLES["enrollments"].columns)
SOURCES = np.array(["rule", "manual", "hr_sync", "self"], dtype=object)
SRC_RULE, SRC_MANUAL, SRC_HR, SRC_SELF = 0, 1, 2, 3
STATUSES = np.array(["enrolled", "in_progress", "completed", "withdrawn", "failed"], dtype=object)
ST_ENROLLED, ST_PROGRESS, ST_COMPLETED, ST_WITHDRAWN, ST_FAILED = 0, 1, 2, 3, 4


@dataclass
class Enrollments:
    """Enrolment rows as parallel arrays, with the activity each implies."""

    person: np.ndarray
    course: np.ndarray
    source: np.ndarray
    status: np.ndarray
    enrolled: np.ndarray
    due: np.ndarray
    completed: np.ndarray  # as written (NA = empty)
    withdrawn: np.ndarray
    progress: np.ndarray  # float, NaN = empty
    act_lo: np.ndarray  # activity interval [act_lo, act_hi), empty when act_hi <= act_lo
    act_hi: np.ndarray
    finish: np.ndarray  # when the learner actually completed (drives the ``completed`` event)
    rate: np.ndarray  # sessions per weighted day
    no_notify: np.ndarray
    overdue: np.ndarray  # injected compliance_overdue (gets overdue notifications)
    by_rule: np.ndarray  # created by an active rule (candidate for enrollment_missing)

    def take(self, keep: np.ndarray) -> None:
        """Keep only the rows selected by ``keep`` (a mask or indices)."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name)[keep])

    @property
    def size(self) -> int:
        """How many enrolments."""
        return int(self.person.size)


def build_enrollments(ctx: GenerationContext, org: Organisation) -> Enrollments:
    """Every enrolment of the clean background, in enrolment-time order."""
    rng, t_day, n = ctx.rng, ctx.t_day, ctx.people
    end_day = np.where(org.p_status == 2, org.p_term, t_day) - 1
    # Rule enrolments: everyone an active rule selects, except people hired in the last two days.
    persons, courses, sources = [], [], []
    enrollable = org.p_hire <= t_day - 3
    for r in np.flatnonzero(org.r_active):
        match = enrollable.copy()
        if org.r_dept[r] >= 0:
            match &= org.p_dept == org.r_dept[r]
        if org.r_title[r] >= 0:
            match &= org.p_title == org.r_title[r]
        idx = np.flatnonzero(match)
        persons.append(idx)
        courses.append(np.full(idx.size, org.r_course[r]))
        sources.append(np.full(idx.size, org.r_source[r]))
    rp = np.concatenate(persons)
    rc = np.concatenate(courses)
    rs = np.concatenate(sources)
    nc = org.c_kind.size
    _, first = np.unique(rp * nc + rc, return_index=True)
    rp, rc, rs = rp[first], rc[first], rs[first]
    # Staff who predate a course were enrolled as it rolled out over its first year; one launch
    # day for everyone would make every anniversary a company-wide campaign spike.
    span = np.minimum(365, t_day - 3 - org.c_launch[rc])
    rollout = org.c_launch[rc] + (rng.random(rp.size) * span).astype(np.int64)
    base_day = np.maximum(org.p_hire[rp] + rng.integers(0, 3, rp.size), rollout)
    comp = org.c_compliance[rc]
    cycles = np.maximum((end_day[rp] - base_day) // 365, 0)
    r_day = np.where(comp, base_day + 365 * cycles, base_day)
    ok = r_day <= end_day[rp]
    rp, rc, rs, r_day = rp[ok], rc[ok], rs[ok], r_day[ok]

    # Electives and archived courses: self-enrolled or added by an admin, spread over two years.
    elect = np.flatnonzero((org.c_kind == 4) | (org.c_kind == 5))
    pop = 1.0 / (np.arange(elect.size) + 3.0)
    pop = pop[rng.permutation(elect.size)]
    counts = rng.poisson(4.5, n)
    counts[org.p_hire > t_day - 3] = 0
    ep = np.repeat(np.arange(n), counts)
    ec = np.empty(ep.size, dtype=np.int64)
    for d in range(len(org.dept_names)):
        sel = org.p_dept[ep] == d
        w = pop * np.where((org.c_dept[elect] == d), 3.0, 1.0)
        ec[sel] = elect[rng.choice(elect.size, size=int(sel.sum()), p=w / w.sum())]
    _, first = np.unique(ep * nc + ec, return_index=True)
    ep, ec = ep[first], ec[first]
    archived = org.c_kind[ec] == 5
    hi = np.where(archived, np.minimum(end_day[ep], org.c_archive[ec] - 60), end_day[ep])
    lo = np.maximum.reduce([org.p_hire[ep], org.c_launch[ec], np.full(ep.size, t_day - 730)])
    lo = np.where(archived, np.maximum(org.p_hire[ep], org.c_launch[ec]), lo)
    ok = lo <= hi
    ep, ec, lo, hi = ep[ok], ec[ok], lo[ok], hi[ok]
    e_day = lo + (rng.random(ep.size) * (hi - lo + 1)).astype(np.int64)
    es = np.where(rng.random(ep.size) < 0.7, SRC_SELF, SRC_MANUAL)
    in_rules = np.isin(ep * nc + ec, rp * nc + rc)
    ep, ec, e_day, es = ep[~in_rules], ec[~in_rules], e_day[~in_rules], es[~in_rules]

    person = np.concatenate([rp, ep])
    course = np.concatenate([rc, ec])
    source = np.concatenate([rs, es])
    by_rule = np.concatenate([np.ones(rp.size, bool), np.zeros(ep.size, bool)])
    e_day = np.concatenate([r_day, e_day])
    m = person.size
    enrolled = e_day * DAY + rng.integers(7 * HOUR, 19 * HOUR, m)
    kind = org.c_kind[course]
    comp = org.c_compliance[course]
    terminated = org.p_status[person] == 2
    end_limit = np.where(terminated, org.p_term[person] * DAY, ctx.as_of)
    start = enrolled + np.clip(rng.exponential(1.2 * DAY, m), 600, 6 * DAY).astype(np.int64)

    completer = np.where(comp | (kind == 5), True, rng.random(m) < np.where(kind == 4, 0.55, 0.9))
    due_days = org.c_due[course]
    dur = np.where(
        comp,
        rng.uniform(0.1, 0.75, m) * due_days * DAY,
        np.where(
            kind == 5,
            rng.uniform(1, 40, m) * DAY,
            np.clip(rng.lognormal(np.log(np.where(kind == 4, 25, 14) * DAY), 0.7), HOUR, 300 * DAY),
        ),
    ).astype(np.int64)
    completion = np.maximum(enrolled + dur, start + HOUR)
    stall = start + np.clip(rng.lognormal(np.log(10 * DAY), 0.8, m), HOUR, 400 * DAY).astype(
        np.int64
    )
    quits = rng.random(m) < 0.4
    never = (~completer) & (source == SRC_SELF) & (rng.random(m) < 0.15)

    status = np.full(m, ST_PROGRESS, dtype=np.int64)
    completed = np.full(m, NA, dtype=np.int64)
    withdrawn = np.full(m, NA, dtype=np.int64)
    act_hi = np.full(m, NA, dtype=np.int64)

    done = completer & (completion < end_limit)
    status[done] = ST_COMPLETED
    completed[done] = completion[done]
    act_hi[done] = completion[done]

    open_ = ~done
    unstarted = open_ & ((start >= end_limit) | never)
    status[unstarted & ~terminated] = ST_ENROLLED
    left = unstarted & terminated
    status[left] = ST_WITHDRAWN
    withdrawn[left] = end_limit[left]

    started = open_ & ~unstarted
    stop = np.where(completer, end_limit, np.minimum(stall, end_limit))
    act_hi[started] = stop[started]
    w_quit = started & ~completer & quits & (stall < end_limit)
    w_term = started & terminated & ~w_quit
    status[w_quit] = ST_WITHDRAWN
    withdrawn[w_quit] = stall[w_quit]
    status[w_term] = ST_WITHDRAWN
    withdrawn[w_term] = end_limit[w_term]

    progress = np.full(m, np.nan)
    progress[done] = 100.0
    ip = status == ST_PROGRESS
    frac = (ctx.as_of - start) / np.maximum(completion - start, 1)
    progress[ip] = np.where(
        completer[ip], np.clip(100 * frac[ip], 3, 97), rng.uniform(5, 85, int(ip.sum()))
    )
    wd = (status == ST_WITHDRAWN) & (act_hi > 0)
    progress[wd] = rng.uniform(1, 80, int(wd.sum()))
    en = status == ST_ENROLLED
    progress[en] = np.where(rng.random(int(en.sum())) < 0.5, 0.0, np.nan)
    progress = np.round(progress, 1)
    due = np.where(comp, enrolled + due_days * DAY, NA)

    act_lo = np.maximum(start, ctx.w0)
    act_hi = np.where(act_hi == NA, NA, np.minimum(act_hi, ctx.as_of))
    # Sessions: about eight per completion, spread over the time it took; stallers drift.
    dur_days = np.maximum((completion - start) / DAY, 3)
    rate = np.where(completer, np.clip(8 / dur_days, 0.05, 1.5), 0.1)

    enr = Enrollments(
        person=person,
        course=course,
        source=source,
        status=status,
        enrolled=enrolled,
        due=due,
        completed=completed,
        withdrawn=withdrawn,
        progress=progress,
        act_lo=act_lo,
        act_hi=act_hi,
        finish=completed.copy(),
        rate=rate,
        no_notify=np.zeros(m, dtype=bool),
        overdue=np.zeros(m, dtype=bool),
        by_rule=by_rule,
    )
    # Rows in enrolment-time order give chronological enrolment ids.
    enr.take(np.lexsort((course, person, enrolled)))
    return enr


def write_enrollments(
    path: Path, enr: Enrollments, user_ids: np.ndarray, course_ids: np.ndarray
) -> int:
    """Write the ``enrollments`` table; returns its row count."""
    users, courses = byte_table(user_ids), byte_table(course_ids)
    sources, statuses = byte_table(SOURCES), byte_table(STATUSES)

    def cells(rows: slice) -> list[np.ndarray]:
        return [
            encode_row_ids("E", rows, 8),
            encode_lookup(users, enr.person[rows]),
            encode_lookup(courses, enr.course[rows]),
            encode_lookup(sources, enr.source[rows]),
            encode_lookup(statuses, enr.status[rows]),
            encode_timestamps(enr.enrolled[rows]),
            encode_timestamps(enr.due[rows]),
            encode_timestamps(enr.completed[rows]),
            encode_timestamps(enr.withdrawn[rows]),
            encode_numbers(enr.progress[rows]),
        ]

    return write_table(path, COLUMNS, enr.size, cells)
