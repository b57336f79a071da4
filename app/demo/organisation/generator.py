"""Generation of the demo organisation (what it holds: the docstring of the package)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from app.core.errors import UserError
from app.demo.organisation.csv_bytes import (
    byte_table,
    encode_ids,
    encode_lookup,
    encode_numbers,
    encode_timestamps,
    write_rows,
)
from app.demo.organisation.person_names import FIRST_NAMES, LAST_NAMES
from app.demo.organisation.vocabulary import (
    ARCHIVED_COURSES,
    COMPANY_COMPLIANCE,
    DEPARTMENT_COMPLIANCE,
    DEPARTMENTS,
    ELECTIVE_LEVELS,
    ELECTIVE_TOPICS,
    EMAIL_DOMAIN,
    INTEGRATIONS,
    LD_TITLE,
)
from app.sources.contract import TABLES
from models.taxonomy import entity_key

DAY = 86_400
HOUR = 3_600
NA = -1  # "no timestamp" in the int64 epoch-second arrays used during generation

DEFAULT_AS_OF = datetime(2026, 11, 27, tzinfo=UTC)
MIN_PEOPLE = 200
MAX_PEOPLE = 500_000
MIN_DAYS = 35
MAX_DAYS = 730
CHUNK_ROWS = 500_000

# Relative activity per weekday (Mon..Sun) and on public holidays.
WEEKDAY_WEIGHT = np.array([1.0, 1.05, 1.0, 0.95, 0.8, 0.3, 0.25])
HOLIDAY_WEIGHT = 0.3

SOURCES = np.array(["rule", "manual", "hr_sync", "self"], dtype=object)
SRC_RULE, SRC_MANUAL, SRC_HR, SRC_SELF = 0, 1, 2, 3
STATUSES = np.array(["enrolled", "in_progress", "completed", "withdrawn", "failed"], dtype=object)
ST_ENROLLED, ST_PROGRESS, ST_COMPLETED, ST_WITHDRAWN, ST_FAILED = 0, 1, 2, 3, 4
# The contract's own verb list, in its order (the generator indexes into it).
VERBS = np.array(TABLES["activity"].column("verb").enum, dtype=object)
(V_LOGIN, V_LOGIN_FAILED, V_LAUNCHED, V_LAUNCH_FAILED, V_VIEWED, V_PROGRESSED, V_SUBMITTED) = range(
    7
)
V_COMPLETED, V_PASSED, V_FAILED = 7, 8, 9
CHANNELS = np.array(["email", "sms", "push", "in_app"], dtype=object)
CH_EMAIL, CH_SMS, CH_PUSH, CH_INAPP = 0, 1, 2, 3
CHANNEL_FAILURE = np.array([0.015, 0.02, 0.03, 0.002])
CHANNEL_LATENCY = np.array([20.0, 6.0, 2.0, 0.5])  # median seconds to delivery
CHANNEL_OPEN = np.array([0.45, 0.0, 0.3, 0.6])
KINDS = np.array(["enrollment", "reminder", "overdue", "feedback", "other"], dtype=object)
K_ENROLLMENT, K_REMINDER, K_OVERDUE, K_FEEDBACK, K_OTHER = range(5)


@dataclass(frozen=True)
class DemoOrgSummary:
    """What was written: row counts per table and gap counts per category."""

    out_dir: Path
    rows: dict[str, int]
    gaps: dict[str, int]
    near_misses: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        """All rows written across the contract tables."""
        return sum(self.rows.values())


@dataclass
class _Ctx:
    """Shared state of one generation run."""

    rng: np.random.Generator
    people: int
    days: int
    as_of: int  # epoch seconds, a UTC midnight
    scale: float
    truth: set[tuple[str, str]] = field(default_factory=set)

    @property
    def t_day(self) -> int:
        return self.as_of // DAY

    @property
    def w0(self) -> int:
        return self.as_of - self.days * DAY

    def n(self, base: int) -> int:
        """How many gaps of a kind to inject: ``base`` at 2,000 people, fewer below, at least 2."""
        return max(2, round(base * self.scale))

    def add(self, category: str, keys: list[str] | np.ndarray | pd.Series) -> None:
        for key in keys:
            self.truth.add((category, str(key)))


# --------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def public_holidays(years: range) -> set[date]:
    """US federal public holidays (fixed-date ones not moved to a weekday) for ``years``."""
    out: set[date] = set()
    for y in years:
        out |= {
            date(y, 1, 1),
            _nth_weekday(y, 1, 0, 3),
            _nth_weekday(y, 2, 0, 3),
            _last_weekday(y, 5, 0),
            date(y, 6, 19),
            date(y, 7, 4),
            _nth_weekday(y, 9, 0, 1),
            _nth_weekday(y, 10, 0, 2),
            date(y, 11, 11),
            _nth_weekday(y, 11, 3, 4),
            date(y, 12, 25),
        }
    return out


@dataclass
class _Calendar:
    """Per window-day weekday, holiday flag and activity weight (index 0 = first window day)."""

    weekday: np.ndarray
    holiday: np.ndarray
    weight: np.ndarray
    cum: np.ndarray  # cumulative weight, len days + 1

    @classmethod
    def build(cls, ctx: _Ctx) -> _Calendar:
        first = date(1970, 1, 1) + timedelta(days=ctx.t_day - ctx.days)
        dates = [first + timedelta(days=i) for i in range(ctx.days)]
        hol = public_holidays(range(first.year, dates[-1].year + 1))
        weekday = np.array([d.weekday() for d in dates], dtype=np.int64)
        holiday = np.array([d in hol for d in dates])
        weight = WEEKDAY_WEIGHT[weekday].copy()
        weight[holiday] = np.minimum(weight[holiday], HOLIDAY_WEIGHT)
        cum = np.concatenate([[0.0], np.cumsum(weight)])
        return cls(weekday, holiday, weight, cum)


def _iso_date(epoch_seconds: np.ndarray | int) -> np.ndarray:
    arr = np.asarray(epoch_seconds, dtype=np.int64) // DAY
    return np.datetime_as_string(arr.astype("datetime64[D]"), unit="D")


def _iso_week(epoch_seconds: np.ndarray) -> np.ndarray:
    dates = pd.to_datetime(np.asarray(epoch_seconds, dtype=np.int64), unit="s")
    iso = dates.isocalendar()
    return (iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)).to_numpy()


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Identifier strings such as ``P000042`` for integer codes (vectorised)."""
    digits = np.strings.zfill(np.asarray(numbers, dtype=np.int64).astype(np.str_), width)
    return np.strings.add(prefix, digits).astype(object)


def _sample_times(
    ctx: _Ctx, cal: _Calendar, lo: np.ndarray, hi: np.ndarray, tod_mean: float = 13.5
) -> np.ndarray:
    """One timestamp in each interval [lo, hi), days weighted by the calendar, working hours."""
    rng = ctx.rng
    dlo = np.clip((lo - ctx.w0) // DAY, 0, ctx.days - 1)
    dhi = np.clip((hi - 1 - ctx.w0) // DAY, 0, ctx.days - 1)
    u = cal.cum[dlo] + rng.random(lo.size) * (cal.cum[dhi + 1] - cal.cum[dlo])
    d = np.clip(np.searchsorted(cal.cum, u, side="right") - 1, dlo, dhi)
    tod = np.clip(rng.normal(tod_mean * HOUR, 2.8 * HOUR, lo.size), 6.5 * HOUR, 22.5 * HOUR)
    ts = ctx.w0 + d * DAY + tod.astype(np.int64)
    return np.clip(ts, lo, hi - 1)


# --------------------------------------------------------------------------------------------
# Organisation: people, users, courses, rules
# --------------------------------------------------------------------------------------------


@dataclass
class _Org:
    dept_names: list[str]
    title_names: list[str]
    manager_titles: set[int]
    p_dept: np.ndarray
    p_title: np.ndarray
    p_status: np.ndarray  # 0 active, 1 leave, 2 terminated
    p_hire: np.ndarray  # epoch day
    p_term: np.ndarray  # epoch day or NA
    p_manager: np.ndarray  # person index or -1
    p_first: np.ndarray
    p_last: np.ndarray
    p_email: np.ndarray
    u_number: np.ndarray  # user number of person i's account
    u_status: np.ndarray  # 0 active, 1 suspended, 2 deleted
    u_email: np.ndarray
    u_created: np.ndarray
    c_title: list[str]
    c_kind: (
        np.ndarray
    )  # 0 company compliance, 1 dept compliance, 2 manager, 3 onboarding, 4 elective, 5 archived
    c_dept: np.ndarray
    c_compliance: np.ndarray
    c_due: np.ndarray  # days or 0
    c_sla: np.ndarray  # days or 0 (= default 7)
    c_assign: np.ndarray  # number of assignments (0 = none)
    c_active: np.ndarray
    c_launch: np.ndarray  # epoch day
    c_archive: np.ndarray  # epoch day or NA
    c_owner: np.ndarray  # person index whose user owns the course, or -1
    r_course: np.ndarray
    r_dept: np.ndarray
    r_title: np.ndarray
    r_active: np.ndarray
    r_grace: np.ndarray  # days or 0 (= default 3)
    r_source: np.ndarray
    reserved: np.ndarray  # person flags: used by a person/user-level injection or owning a course


def _build_org(ctx: _Ctx) -> _Org:
    rng, n, t_day = ctx.rng, ctx.people, ctx.t_day
    dept_names = [d[0] for d in DEPARTMENTS]
    title_names: list[str] = []
    title_dept: list[int] = []
    manager_titles: set[int] = set()
    for di, (_, _, titles) in enumerate(DEPARTMENTS):
        for ti, (t, _) in enumerate(titles):
            if ti == len(titles) - 1:
                manager_titles.add(len(title_names))
            title_names.append(t)
            title_dept.append(di)
    dept_w = np.array([d[1] for d in DEPARTMENTS])
    p_dept = rng.choice(len(DEPARTMENTS), size=n, p=dept_w / dept_w.sum())
    p_title = np.zeros(n, dtype=np.int64)
    offset = 0
    for di, (_, _, titles) in enumerate(DEPARTMENTS):
        idx = np.flatnonzero(p_dept == di)
        tw = np.array([t[1] for t in titles])
        p_title[idx] = offset + rng.choice(len(titles), size=idx.size, p=tw / tw.sum())
        offset += len(titles)

    tenure = np.minimum(rng.exponential(1500, n), 20 * 365).astype(np.int64) + 3
    p_hire = t_day - tenure
    # A few people hired in the last two days: inside every rule's grace period, not yet enrolled.
    recent = rng.choice(np.arange(1, n), size=max(2, n // 500), replace=False)
    p_hire[recent] = t_day - rng.integers(1, 3, recent.size)
    p_hire[0] = t_day - 15 * 365
    p_status = np.zeros(n, dtype=np.int64)
    p_term = np.full(n, NA, dtype=np.int64)
    u = rng.random(n)
    can_leave = (tenure > 60) & (np.arange(n) > 0)
    can_leave[recent] = False
    # About 6 % have left; at least 30, so that small demos still have leavers to inject with.
    n_term = min(max(round(0.06 * n), 30), int(can_leave.sum()) // 2)
    term = np.zeros(n, dtype=bool)
    term[rng.choice(np.flatnonzero(can_leave), size=n_term, replace=False)] = True
    p_status[term] = 2
    served = t_day - 1 - p_hire[term]
    before_now = np.minimum(rng.exponential(300, term.sum()).astype(np.int64) + 1, served - 1)
    p_term[term] = t_day - before_now
    p_status[can_leave & ~term & (u < 0.03)] = 1

    # Managers: each department's staff report to one of its managers, managers to the head,
    # heads to the chief executive (person 0).
    p_manager = np.full(n, -1, dtype=np.int64)
    is_mgr = np.isin(p_title, list(manager_titles)) & (p_status != 2)
    for di in range(len(DEPARTMENTS)):
        members = np.flatnonzero(p_dept == di)
        members = members[members != 0]
        mgrs = members[is_mgr[members]]
        if mgrs.size == 0:
            p_manager[members] = 0
            continue
        head = mgrs[0]
        p_manager[members] = rng.choice(mgrs, size=members.size)
        p_manager[mgrs] = head
        p_manager[head] = 0

    first = np.array(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), n)]
    base = pd.Series(first).str.lower() + "." + pd.Series(last).str.lower()
    dup_no = base.groupby(base).cumcount().to_numpy()
    suffix = np.where(dup_no > 0, pd.Series(dup_no).astype(str).to_numpy(), "")
    p_email = (base + pd.Series(suffix, dtype=object) + "@" + EMAIL_DOMAIN).to_numpy(dtype=object)

    u_number = rng.permutation(n) + 100_000
    u_status = np.zeros(n, dtype=np.int64)
    term_idx = np.flatnonzero(p_status == 2)
    u_status[term_idx] = np.where(t_day - p_term[term_idx] <= 90, 1, 2)
    # Some LMS accounts carry the address in another letter case: not a mismatch (case-insensitive).
    u_email = p_email.copy()
    recase = rng.random(n) < 0.03
    u_email[recase] = pd.Series(p_email[recase]).str.title().to_numpy(dtype=object)
    lms_launch = t_day - 8 * 365
    u_created = np.maximum(p_hire, lms_launch) * DAY + rng.integers(8 * HOUR, 18 * HOUR, n)

    org = _Org(
        dept_names=dept_names,
        title_names=title_names,
        manager_titles=manager_titles,
        p_dept=p_dept,
        p_title=p_title,
        p_status=p_status,
        p_hire=p_hire,
        p_term=p_term,
        p_manager=p_manager,
        p_first=first,
        p_last=last,
        p_email=p_email,
        u_number=u_number,
        u_status=u_status,
        u_email=u_email,
        u_created=u_created,
        c_title=[],
        c_kind=np.array([], dtype=np.int64),
        c_dept=np.array([], dtype=np.int64),
        c_compliance=np.array([], dtype=bool),
        c_due=np.array([], dtype=np.int64),
        c_sla=np.array([], dtype=np.int64),
        c_assign=np.array([], dtype=np.int64),
        c_active=np.array([], dtype=bool),
        c_launch=np.array([], dtype=np.int64),
        c_archive=np.array([], dtype=np.int64),
        c_owner=np.array([], dtype=np.int64),
        r_course=np.array([], dtype=np.int64),
        r_dept=np.array([], dtype=np.int64),
        r_title=np.array([], dtype=np.int64),
        r_active=np.array([], dtype=bool),
        r_grace=np.array([], dtype=np.int64),
        r_source=np.array([], dtype=np.int64),
        reserved=np.zeros(n, dtype=bool),
    )
    org.reserved[0] = True
    _build_courses(ctx, org)
    # Person 0 heads the company (department heads report to them); added after the courses so
    # that no department course or rule exists for the one-person executive office.
    org.dept_names.append("Executive")
    org.title_names.append("Chief Executive Officer")
    org.p_dept[0] = len(org.dept_names) - 1
    org.p_title[0] = len(org.title_names) - 1
    return org


def _build_courses(ctx: _Ctx, org: _Org) -> None:
    rng, t_day = ctx.rng, ctx.t_day
    dept_ix = {d: i for i, d in enumerate(org.dept_names)}
    title_ix = {t: i for i, t in enumerate(org.title_names)}
    rows: list[dict[str, int | str | bool]] = []
    rules: list[tuple[int, int, int, bool, int]] = []  # course, dept, title, active, source

    def course(title: str, kind: int, dept: int, due: int, assign: int, active: bool = True) -> int:
        rows.append(
            {
                "title": title,
                "kind": kind,
                "dept": dept,
                "due": due,
                "assign": assign,
                "active": active,
            }
        )
        return len(rows) - 1

    for title, due in COMPANY_COMPLIANCE:
        rules.append((course(title, 0, -1, due, 0), -1, -1, True, SRC_RULE))
    for title, dept, job, due in DEPARTMENT_COMPLIANCE:
        c = course(title, 1, dept_ix[dept], due, 0)
        rules.append((c, dept_ix[dept], title_ix[job] if job else -1, True, SRC_RULE))
    c = course("People Manager Essentials", 2, -1, 0, 2)
    for t in sorted(org.manager_titles):
        rules.append((c, -1, t, True, SRC_RULE))
    for d, name in enumerate(org.dept_names):
        rules.append((course(f"{name} Onboarding", 3, d, 0, 2), d, -1, True, SRC_HR))
    n_electives = int(np.clip(ctx.people // 50, 30, 500))
    combos = [f"{t} {lvl}" for lvl in ELECTIVE_LEVELS for t in ELECTIVE_TOPICS]
    extra = n_electives - len(combos)
    combos += [f"{ELECTIVE_TOPICS[i % len(ELECTIVE_TOPICS)]} Cohort {i + 1}" for i in range(extra)]
    order = rng.permutation(len(combos))[:n_electives]
    for i in order:
        home = int(rng.integers(0, len(org.dept_names))) if rng.random() < 0.5 else -1
        assign = int(rng.integers(2, 6)) if rng.random() < 0.6 else 0
        course(combos[i], 4, home, 0, assign)
    # A planned rule nobody switched on: its people are not missing anything.
    rules.append((len(rows) - 1, dept_ix["Sales"], -1, False, SRC_RULE))
    for title in ARCHIVED_COURSES:
        c = course(title, 5, -1, 0, 0, active=False)
        rules.append((c, -1, -1, False, SRC_RULE))

    nc = len(rows)
    org.c_title = [str(r["title"]) for r in rows]
    org.c_kind = np.array([r["kind"] for r in rows], dtype=np.int64)
    org.c_dept = np.array([r["dept"] for r in rows], dtype=np.int64)
    org.c_due = np.array([r["due"] for r in rows], dtype=np.int64)
    org.c_compliance = org.c_due > 0
    org.c_assign = np.array([r["assign"] for r in rows], dtype=np.int64)
    org.c_active = np.array([r["active"] for r in rows], dtype=bool)
    org.c_sla = np.where(
        org.c_assign > 0,
        rng.choice(np.array([0, 5, 7, 10, 14]), nc, p=[0.4, 0.15, 0.2, 0.15, 0.1]),
        0,
    )
    earliest_window_day = t_day - ctx.days
    org.c_launch = earliest_window_day - rng.integers(60, 2500, nc)
    org.c_archive = np.where(org.c_active, NA, earliest_window_day - rng.integers(30, 400, nc))
    org.c_launch = np.where(
        org.c_active, org.c_launch, np.minimum(org.c_launch, org.c_archive - 900)
    )

    # Owners: L&D specialists for company-wide courses, the department's manager otherwise.
    eligible = (org.p_status == 0) & (org.p_hire < t_day - 400)
    eligible[0] = False
    ld = np.flatnonzero(eligible & (org.p_title == title_ix[LD_TITLE]))
    mgr = eligible & np.isin(org.p_title, list(org.manager_titles))
    owners = np.full(nc, -1, dtype=np.int64)
    for c in range(nc):
        pool = np.flatnonzero(mgr & (org.p_dept == org.c_dept[c])) if org.c_dept[c] >= 0 else ld
        if pool.size == 0:
            pool = ld if ld.size else np.flatnonzero(eligible)
        owners[c] = rng.choice(pool)
    # Archived courses often lost their owner long ago; that is fine for an archived course.
    owners[(~org.c_active) & (rng.random(nc) < 0.5)] = -1
    org.c_owner = owners
    org.reserved[owners[owners >= 0]] = True

    org.r_course = np.array([r[0] for r in rules], dtype=np.int64)
    org.r_dept = np.array([r[1] for r in rules], dtype=np.int64)
    org.r_title = np.array([r[2] for r in rules], dtype=np.int64)
    org.r_active = np.array([r[3] for r in rules], dtype=bool)
    org.r_source = np.array([r[4] for r in rules], dtype=np.int64)
    org.r_grace = rng.choice(np.array([0, 3, 5, 7, 14]), len(rules))


# --------------------------------------------------------------------------------------------
# Enrolments
# --------------------------------------------------------------------------------------------


@dataclass
class _Enr:
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
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name)[keep])

    @property
    def size(self) -> int:
        return int(self.person.size)


def _build_enrollments(ctx: _Ctx, org: _Org) -> _Enr:
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

    enr = _Enr(
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


def _pick(ctx: _Ctx, candidates: np.ndarray, k: int, taken: np.ndarray) -> np.ndarray:
    """``k`` distinct indices out of boolean ``candidates`` not yet ``taken``; marks them taken."""
    pool = np.flatnonzero(candidates & ~taken)
    if pool.size < k:
        raise UserError(
            f"the organisation is too small to inject every gap (needed {k}, found {pool.size}); "
            "use more people"
        )
    chosen = np.sort(ctx.rng.choice(pool, size=k, replace=False))
    taken[chosen] = True
    return chosen


def _remove_missing(ctx: _Ctx, org: _Org, enr: _Enr) -> None:
    """enrollment_missing: drop a rule enrolment of a long-standing active person."""
    taken = np.zeros(enr.size, dtype=bool)
    active_p = (org.p_status[enr.person] == 0) & ~org.reserved[enr.person]
    # One enrolment per person at most, so each key names a different person.
    first_of_person = np.zeros(enr.size, dtype=bool)
    cand = np.flatnonzero(enr.by_rule & active_p & (org.p_hire[enr.person] < ctx.t_day - 30))
    perm = ctx.rng.permutation(cand)
    _, firsts = np.unique(enr.person[perm], return_index=True)
    first_of_person[perm[firsts]] = True
    miss = _pick(ctx, first_of_person, ctx.n(20), taken)
    org.reserved[enr.person[miss]] = True  # keep person/user-level injections away from them
    persons = _ids("P", enr.person[miss], 6)
    courses = _ids("C", enr.course[miss] + 1, 5)
    ctx.add(
        "enrollment_missing",
        [entity_key({"person": p, "course": c}) for p, c in zip(persons, courses, strict=True)],
    )
    enr.take(~taken)


def _inject_enrollment_gaps(ctx: _Ctx, org: _Org, enr: _Enr) -> tuple[np.ndarray, np.ndarray]:
    """Enrolment-level gaps; returns the backslide candidates and the enrolments already used."""
    rng, t = ctx.rng, ctx.as_of
    enr_ids = _eid(np.arange(enr.size))
    taken = np.zeros(enr.size, dtype=bool)
    active_p = (org.p_status[enr.person] == 0) & ~org.reserved[enr.person]
    comp = org.c_compliance[enr.course]

    def in_window(x: np.ndarray) -> np.ndarray:
        return (x >= ctx.w0 + 5 * DAY) & (x < t - 5 * DAY)

    # enrollment_failed: the LMS said no, or the enrolment never took effect.
    rule_src = np.isin(enr.source, [SRC_RULE, SRC_HR]) & active_p
    failed = _pick(ctx, rule_src & ~comp, ctx.n(8), taken)
    enr.status[failed] = ST_FAILED
    enr.enrolled[failed] = t - rng.integers(1 * DAY, 60 * DAY, failed.size)
    dead = _pick(ctx, rule_src & ((~comp) | (org.c_due[enr.course] >= 90)), ctx.n(8), taken)
    enr.status[dead] = ST_ENROLLED
    enr.enrolled[dead] = t - rng.integers(16 * DAY, 60 * DAY, dead.size)
    enr.progress[dead] = np.where(rng.random(dead.size) < 0.5, 0.0, np.nan)
    both = np.concatenate([failed, dead])
    enr.due[both] = np.where(comp[both], enr.enrolled[both] + org.c_due[enr.course[both]] * DAY, NA)
    enr.due[failed] = NA
    enr.progress[failed] = np.nan
    enr.completed[both] = NA
    enr.finish[both] = NA
    enr.withdrawn[both] = NA
    enr.act_hi[both] = NA
    enr.no_notify[both] = True
    ctx.add("enrollment_failed", entity_key_list("enrollment", enr_ids[both]))

    # compliance_overdue: due date 3-40 days ago, still open.
    over = _pick(ctx, comp & (org.p_status[enr.person] < 2), ctx.n(20), taken)
    _make_overdue(ctx, org, enr, over, rng)
    ctx.add("compliance_overdue", entity_key_list("enrollment", enr_ids[over]))

    # progress_inconsistent: seven ways progress tracking contradicts itself.
    k = ctx.n(3)
    done_in_window = (enr.status == ST_COMPLETED) & in_window(enr.completed) & active_p
    low = _pick(ctx, done_in_window, k, taken)
    enr.progress[low] = np.round(rng.uniform(60, 95, k), 1)
    no_at = _pick(ctx, done_in_window, k, taken)
    enr.completed[no_at] = NA
    before = _pick(ctx, done_in_window & (enr.completed < t - 10 * DAY), k, taken)
    enr.enrolled[before] = enr.completed[before] + rng.integers(DAY, 8 * DAY, k)
    silent = _pick(ctx, done_in_window, k, taken)
    enr.act_hi[silent] = NA
    enr.finish[silent] = NA
    gone = _pick(ctx, (enr.status == ST_WITHDRAWN) & active_p, k, taken)
    enr.withdrawn[gone] = NA
    stray = _pick(ctx, (enr.status == ST_PROGRESS) & active_p & ~comp, k, taken)
    enr.withdrawn[stray] = t - rng.integers(2 * DAY, 30 * DAY, k)
    # Candidates for a falling progress value; chosen after activity exists.
    backslide = (
        (enr.status == ST_PROGRESS)
        & active_p
        & (enr.progress >= 45)
        & (enr.act_hi - enr.act_lo > 25 * DAY)
        & ~taken
    )
    ctx.add(
        "progress_inconsistent",
        entity_key_list(
            "enrollment", enr_ids[np.concatenate([low, no_at, before, silent, gone, stray])]
        ),
    )
    return np.flatnonzero(backslide), taken


def _make_overdue(
    ctx: _Ctx, org: _Org, enr: _Enr, over: np.ndarray, rng: np.random.Generator
) -> None:
    """Re-date compliance enrolments ``over`` so their due date lies 3-40 days in the past, still
    in progress (10-70 %) with activity and ``overdue`` notifications."""
    t = ctx.as_of
    due_days = org.c_due[enr.course[over]]
    enr.enrolled[over] = (
        t
        - (due_days + rng.integers(3, 40, over.size)) * DAY
        - rng.integers(0, 10 * HOUR, over.size)
    )
    enr.due[over] = enr.enrolled[over] + due_days * DAY
    # In progress, with activity: an overdue "enrolled" one would also look like a failed
    # enrolment to a detector that reads "no notification" as "no delivered notification".
    enr.status[over] = ST_PROGRESS
    enr.progress[over] = np.round(rng.uniform(10, 70, over.size), 1)
    enr.completed[over] = NA
    enr.finish[over] = NA
    enr.withdrawn[over] = NA
    enr.act_lo[over] = np.maximum(enr.enrolled[over] + DAY, ctx.w0)
    enr.act_hi[over] = t
    enr.rate[over] = 0.2
    enr.overdue[over] = True


# --------------------------------------------------------------------------------------------
# Near misses: what a rule flags and a person who knows the context dismisses
# --------------------------------------------------------------------------------------------

NEAR_MISS_FILE = "near_misses.csv"
# Near misses draw from their own random stream, so an organisation without them is
# byte-identical to one generated before they existed.
NEAR_MISS_STREAM = 0x4E4D


@dataclass
class _NearMisses:
    """Look-alikes of real gaps that the organisation knows to be fine, and why."""

    rng: np.random.Generator
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, category: str, keys: list[str], reason: str, why: str) -> None:
        self.rows.extend((category, key, reason, why) for key in keys)


def _one_group(nm: _NearMisses, groups: np.ndarray, k: int) -> int:
    """A group (course or department) picked at random among those with at least ``k`` members
    (the largest group when none has that many)."""
    values, counts = np.unique(groups, return_counts=True)
    if not values.size:
        raise UserError("the organisation is too small for near misses; use more people")
    big = values[counts >= k]
    if big.size:
        return int(nm.rng.choice(big))
    return int(values[np.argmax(counts)])


def _near_miss_grandfathered(ctx: _Ctx, org: _Org, enr: _Enr, nm: _NearMisses) -> None:
    """enrollment_missing look-alikes: a rule's course that long-serving staff are exempt from
    (the rule was meant for new hires; the contract's rules carry no start date)."""
    k = ctx.n(30)
    cand = (
        enr.by_rule
        & (org.p_status[enr.person] == 0)
        & ~org.reserved[enr.person]
        & (org.p_hire[enr.person] < ctx.t_day - 365)
        & ~org.c_compliance[enr.course]
    )
    course = _one_group(nm, enr.course[cand], k)
    pool = np.unique(enr.person[cand & (enr.course == course)])
    persons = np.sort(nm.rng.choice(pool, size=min(k, pool.size), replace=False))
    org.reserved[persons] = True
    nm.add(
        "enrollment_missing",
        [entity_key({"person": p, "course": _cid(course)}) for p in _ids("P", persons, 6)],
        "expected",
        f"staff hired before the rule for {org.c_title[course]} started are exempt",
    )
    enr.take(~(np.isin(enr.person, persons) & (enr.course == course)))


def _near_miss_extension(
    ctx: _Ctx, org: _Org, enr: _Enr, taken: np.ndarray, nm: _NearMisses
) -> None:
    """compliance_overdue look-alikes: one mandatory course whose deadline HR extended by e-mail
    (the LMS still shows the old due dates)."""
    k = ctx.n(30)
    ok = (
        org.c_compliance[enr.course]
        & (org.p_status[enr.person] == 0)
        & ~org.reserved[enr.person]
        & ~taken
    )
    course = _one_group(nm, enr.course[ok], k)
    pool = np.flatnonzero(ok & (enr.course == course))
    over = np.sort(nm.rng.choice(pool, size=min(k, pool.size), replace=False))
    taken[over] = True
    _make_overdue(ctx, org, enr, over, nm.rng)
    nm.add(
        "compliance_overdue",
        entity_key_list("enrollment", _eid(over)),
        "expected",
        f"HR extended the deadline of {org.c_title[course]} by e-mail; the LMS keeps the old one",
    )


def _near_miss_mailboxless(ctx: _Ctx, org: _Org, n: _Notes, nm: _NearMisses) -> None:
    """notification_undelivered look-alikes: staff of one department without a company mailbox,
    whose e-mails bounce by design (they are reached by SMS and their manager)."""
    k, t = ctx.n(25), ctx.as_of
    w28 = (n.sent >= t - 28 * DAY) & (n.sent < t - DAY) & (n.channel == CH_EMAIL)
    emails = np.bincount(n.person[w28], minlength=ctx.people)[: ctx.people]
    ok = np.flatnonzero((org.p_status == 0) & ~org.reserved & (org.u_status == 0) & (emails >= 4))
    dept = _one_group(nm, org.p_dept[ok], k)
    pool = ok[org.p_dept[ok] == dept]
    persons = np.sort(nm.rng.choice(pool, size=min(k, pool.size), replace=False))
    org.reserved[persons] = True
    rows = np.flatnonzero(w28 & np.isin(n.person, persons))
    n.bounced[rows] = True
    n.delivered[rows] = NA
    n.opened[rows] = NA
    nm.add(
        "notification_undelivered",
        [f"user={_uid(u)}" for u in org.u_number[persons]],
        "expected",
        f"{org.dept_names[dept]} staff have no company mailbox; they are reached by SMS",
    )


def _choose(ctx: _Ctx, pool: np.ndarray, k: int, what: str) -> np.ndarray:
    """``k`` distinct members of ``pool`` in sorted order, or a clear error if there are too few."""
    if pool.size < k:
        raise UserError(
            f"the organisation is too small to inject every gap (needs {k} {what}, has "
            f"{pool.size}); use more people or days"
        )
    return np.sort(ctx.rng.choice(pool, size=k, replace=False))


def entity_key_list(name: str, values: np.ndarray) -> list[str]:
    """Entity keys with a single name, e.g. ``enrollment=E00000042``."""
    return [f"{name}={v}" for v in values]


# --------------------------------------------------------------------------------------------
# Activity
# --------------------------------------------------------------------------------------------


@dataclass
class _Events:
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
    ) -> _Events:
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
    def concat(cls, parts: list[_Events]) -> _Events:
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__)
        )

    def take(self, keep: np.ndarray) -> _Events:
        return _Events(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


@dataclass
class _ActivityPlan:
    """Which courses and days carry which activity-based gaps (kept apart from one another)."""

    gap_courses: set[int] = field(default_factory=set)
    gap_course_days: list[tuple[int, int]] = field(default_factory=list)
    gap_site_days: list[int] = field(default_factory=list)


def _course_pools(enr: _Enr, org: _Org, nc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per course, the enrolments of current staff that have activity: (sorted idx, start, size)."""
    ok = (enr.act_hi > enr.act_lo + 600) & (org.p_status[enr.person] < 2)
    pool = np.flatnonzero(ok)
    pool = pool[np.argsort(enr.course[pool], kind="stable")]
    size = np.bincount(enr.course[pool], minlength=nc)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    return pool, start, size


def _draw_from_pool(
    ctx: _Ctx,
    pools: tuple[np.ndarray, np.ndarray, np.ndarray],
    courses: np.ndarray,
    staff: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per requested course: an enrolment index (-1 if none) and a random staff member instead."""
    pool, start, size = pools
    sz = size[courses]
    pick = start[courses] + (ctx.rng.random(courses.size) * np.maximum(sz, 1)).astype(np.int64)
    fallback = staff[ctx.rng.integers(0, staff.size, courses.size)]
    return np.where(sz > 0, pool[np.minimum(pick, pool.size - 1)] if pool.size else 0, -1), fallback


def _floor_deficit(ctx: _Ctx, cal: _Calendar, counts: np.ndarray) -> np.ndarray:
    """Events to add per (stream, day) so no day falls below half its weekday's usual level."""
    med = np.zeros((counts.shape[0], 7))
    for k in range(7):
        days = np.flatnonzero((cal.weekday == k) & ~cal.holiday)
        if days.size:
            med[:, k] = np.median(counts[:, days], axis=1)
    ratio = cal.weight / WEEKDAY_WEIGHT[cal.weekday]
    floor = np.maximum(3, np.ceil(0.5 * med[:, cal.weekday] * ratio[None, :]))
    return np.maximum(floor - counts, 0).astype(np.int64)


def _build_activity(
    ctx: _Ctx, cal: _Calendar, org: _Org, enr: _Enr, backslide: np.ndarray, taken: np.ndarray
) -> tuple[_Events, _ActivityPlan]:
    rng, w0, t, d_n = ctx.rng, ctx.w0, ctx.as_of, ctx.days
    nc = org.c_kind.size
    engagement = rng.lognormal(0.0, 0.4, ctx.people)

    # Learning sessions inside each enrolment's active interval.
    has = np.flatnonzero(enr.act_hi > enr.act_lo + 600)
    lo, hi = enr.act_lo[has], enr.act_hi[has]
    dlo = (lo - w0) // DAY
    dhi = (hi - 1 - w0) // DAY
    wdays = cal.cum[dhi + 1] - cal.cum[dlo]
    lam = np.minimum(enr.rate[has] * wdays * engagement[enr.person[has]], 60)
    # No guaranteed first session: it would pile up sessions of new enrolments just before as_of.
    nsess = rng.poisson(lam)
    s_enr = np.repeat(has, nsess)
    s_ts = _sample_times(ctx, cal, np.repeat(lo, nsess), np.repeat(hi, nsess))
    del lo, hi, dlo, dhi, wdays, lam
    s_p, s_c = enr.person[s_enr], enr.course[s_enr]
    ns = s_enr.size
    parts = [_Events.make(s_p, s_c, V_LAUNCHED, s_ts)]
    m = rng.random(ns) < 0.01
    parts.append(
        _Events.make(s_p[m], s_c[m], V_LAUNCH_FAILED, s_ts[m] - rng.integers(20, 120, m.sum()))
    )
    views = 1 + rng.binomial(2, 0.5, ns)
    vi = np.repeat(np.arange(ns), views)
    parts.append(
        _Events.make(s_p[vi], s_c[vi], V_VIEWED, s_ts[vi] + rng.integers(60, 1200, vi.size))
    )
    m = rng.random(ns) < 0.8
    parts.append(
        _Events.make(
            s_p[m], s_c[m], V_PROGRESSED, s_ts[m] + rng.integers(600, 2400, m.sum()), enr=s_enr[m]
        )
    )
    m = (rng.random(ns) < 0.25) & (org.c_assign[s_c] > 0)
    parts.append(
        _Events.make(s_p[m], s_c[m], V_SUBMITTED, s_ts[m] + rng.integers(1200, 3600, m.sum()))
    )
    m = (rng.random(ns) < 0.25) & org.c_compliance[s_c]
    fail = rng.random(ns) < 0.3
    score = np.where(fail, rng.uniform(10, 59, ns), rng.uniform(60, 100, ns))
    for verb, sel in ((V_FAILED, m & fail), (V_PASSED, m & ~fail)):
        parts.append(
            _Events.make(
                s_p[sel], s_c[sel], verb, s_ts[sel] + rng.integers(900, 3000, sel.sum()), score[sel]
            )
        )
    fin = np.flatnonzero((enr.finish >= w0) & (enr.finish < t) & (enr.act_hi > enr.act_lo))
    parts.append(
        _Events.make(
            enr.person[fin],
            enr.course[fin],
            V_COMPLETED,
            enr.finish[fin],
            rng.uniform(60, 100, fin.size),
        )
    )
    # Logins: one before each user's first session of a day, with the odd mistyped password.
    day_key = s_p * d_n + (s_ts - w0) // DAY
    order = np.lexsort((s_ts, day_key))
    firsts = order[np.concatenate([[True], np.diff(day_key[order]) != 0])]
    l_ts = np.maximum(
        s_ts[firsts] - rng.integers(30, 300, firsts.size), w0 + (s_ts[firsts] - w0) // DAY * DAY
    )
    parts.append(_Events.make(s_p[firsts], -1, V_LOGIN, l_ts))
    m = rng.random(firsts.size) < 0.02
    parts.append(
        _Events.make(
            s_p[firsts][m],
            -1,
            V_LOGIN_FAILED,
            np.maximum(l_ts[m] - rng.integers(10, 60, m.sum()), w0),
        )
    )
    del s_enr, s_ts, s_p, s_c, vi, order, firsts, day_key
    ev = _Events.concat(parts)
    del parts
    ev = ev.take((ev.ts >= w0) & (ev.ts < t))

    staff = np.flatnonzero((org.p_status < 2) & (org.p_hire < ctx.t_day))
    pools = _course_pools(enr, org, nc)
    active_courses = np.flatnonzero(org.c_active)

    # Floors: every active course and the site stream report on every day of the window.
    day = (ev.ts - w0) // DAY
    site = ev.course < 0
    counts = np.bincount(ev.course[~site] * d_n + day[~site], minlength=nc * d_n).reshape(nc, d_n)
    deficit = _floor_deficit(ctx, cal, counts[active_courses])
    site_counts = np.bincount(day[site], minlength=d_n)[None, :]
    site_def = _floor_deficit(ctx, cal, site_counts)[0]
    tc, td = np.nonzero(deficit)
    reps = deficit[tc, td]
    tc, td = np.repeat(active_courses[tc], reps), np.repeat(td, reps)
    holder, fb = _draw_from_pool(ctx, pools, tc, staff)
    who = np.where(holder >= 0, enr.person[np.maximum(holder, 0)], fb)
    tts = w0 + td * DAY + rng.integers(7 * HOUR, 21 * HOUR, tc.size)
    sd = np.repeat(np.arange(d_n), site_def)
    extra: list[_Events] = [
        _Events.make(who, tc, V_VIEWED, tts),
        _Events.make(
            staff[rng.integers(0, staff.size, sd.size)],
            -1,
            V_LOGIN,
            w0 + sd * DAY + rng.integers(7 * HOUR, 21 * HOUR, sd.size),
        ),
    ]
    launches = np.bincount(
        ev.course[ev.verb == V_LAUNCHED] * d_n + day[ev.verb == V_LAUNCHED], minlength=nc * d_n
    ).reshape(nc, d_n)
    logins = np.bincount(day[ev.verb == V_LOGIN], minlength=d_n)
    del day, site, counts
    # Injections below measure "active learners" on everything, floors included.
    ev = _Events.concat([ev, *extra])
    extra = []

    # Pick disjoint courses for the course-level activity gaps.
    plan = _ActivityPlan()
    busy = np.argsort(-pools[2][active_courses], kind="stable")
    ranked = active_courses[busy]
    n_acc, n_gap, n_week, n_user = ctx.n(10), ctx.n(12), ctx.n(10), ctx.n(10)
    need = n_acc + n_gap + n_week
    if ranked.size < need + 2:
        raise UserError(
            "the organisation has too few active courses to inject every gap; use more people"
        )
    chosen = rng.permutation(ranked[: max(need, min(ranked.size, need * 2))])[:need]
    acc_c, gap_c, week_c = chosen[:n_acc], chosen[n_acc : n_acc + n_gap], chosen[n_acc + n_gap :]
    inner = np.arange(2, d_n - 2)
    workdays = inner[(cal.weekday[inner] < 5) & ~cal.holiday[inner]]

    # access_failure (course): a burst of launch failures on a working day.
    acc_d = rng.choice(workdays, size=n_acc)
    keys = []
    for c, d in zip(acc_c, acc_d, strict=True):
        usual = float(np.median(launches[c]))
        k = int(max(20, math.ceil(3 * usual)))
        holder, fb = _draw_from_pool(ctx, pools, np.full(k, c), staff)
        who = np.where(holder >= 0, enr.person[np.maximum(holder, 0)], fb)
        extra.append(
            _Events.make(
                who, c, V_LAUNCH_FAILED, w0 + d * DAY + rng.integers(8 * HOUR, 18 * HOUR, k)
            )
        )
        keys.append(entity_key({"course": _cid(c), "date": _day_str(ctx, d)}))
    # access_failure (site): logins failing wholesale on a working day.
    n_site = max(1, ctx.n(3))
    # Site-level days at least three days apart: a gap day's events move to the next day, which
    # must be neither another gap day nor a failure day.
    site_days = _spaced_days(ctx, workdays, n_site + ctx.n(2), min_apart=3)
    acc_site, gap_site = site_days[:n_site], site_days[n_site:]
    for d in acc_site:
        k = int(max(50, math.ceil(1.5 * logins[d])))
        extra.append(
            _Events.make(
                staff[rng.integers(0, staff.size, k)],
                -1,
                V_LOGIN_FAILED,
                w0 + d * DAY + rng.integers(7 * HOUR, 19 * HOUR, k),
            )
        )
        keys.append(entity_key({"date": _day_str(ctx, d)}))
    ctx.add("access_failure", keys)

    # engagement_anomaly (course;week): a broken quiz makes every learner relaunch and fail.
    mondays = np.flatnonzero((cal.weekday == 0) & (np.arange(d_n) + 6 < d_n))
    keys = []
    for c in week_c:
        mon = int(rng.choice(mondays))
        in_week = (ev.course == c) & (ev.ts >= w0 + mon * DAY) & (ev.ts < w0 + (mon + 7) * DAY)
        learners = np.unique(ev.person[in_week])
        if learners.size < 5:
            holder, fb = _draw_from_pool(ctx, pools, np.full(5, c), staff)
            learners = np.unique(
                np.concatenate(
                    [learners, np.where(holder >= 0, enr.person[np.maximum(holder, 0)], fb)]
                )
            )
        for verb, per in ((V_LAUNCHED, 12), (V_FAILED, 8)):
            who = np.repeat(learners, per)
            ts = (
                w0
                + (mon + rng.integers(0, 5, who.size)) * DAY
                + rng.integers(8 * HOUR, 19 * HOUR, who.size)
            )
            val = rng.uniform(0, 15, who.size) if verb == V_FAILED else None
            extra.append(_Events.make(who, c, verb, ts, val))
        keys.append(
            entity_key({"course": _cid(c), "week": _iso_week(np.array([w0 + mon * DAY]))[0]})
        )
    # engagement_anomaly (user;course): one learner hammering a course's quiz.
    excluded = set(chosen.tolist())
    cand = np.flatnonzero(
        (enr.status == ST_PROGRESS)
        & (enr.act_hi > enr.act_lo + 600)
        & (org.p_status[enr.person] == 0)
        & ~np.isin(enr.course, list(excluded))
        & ~taken
    )
    seen: set[int] = set()
    seen_courses: set[int] = set()
    picks = []
    # Distinct learners in distinct courses, so that each stands out against ordinary peers.
    for i in rng.permutation(cand):
        if int(enr.person[i]) not in seen and int(enr.course[i]) not in seen_courses:
            seen.add(int(enr.person[i]))
            seen_courses.add(int(enr.course[i]))
            picks.append(int(i))
        if len(picks) == n_user:
            break
    taken[picks] = True
    for i in picks:
        p, c = int(enr.person[i]), int(enr.course[i])
        # Spread over the whole window: a learner unlike their peers, without also turning one
        # week of the course into a course-level anomaly.
        for verb, k in ((V_VIEWED, 150), (V_FAILED, 50)):
            ts = w0 + rng.integers(0, d_n, k) * DAY + rng.integers(8 * HOUR, 22 * HOUR, k)
            val = rng.uniform(0, 30, k) if verb == V_FAILED else None
            extra.append(_Events.make(np.full(k, p), c, verb, ts, val))
        keys.append(entity_key({"user": _uid(org.u_number[p]), "course": _cid(c)}))
    ctx.add("engagement_anomaly", keys)

    ev = _Events.concat([ev, *extra])
    del extra

    # reporting_gap: a course's (or the site's) events of one day arrive a day late.
    keys = []
    gap_d = rng.choice(inner[:-1], size=n_gap)
    for c, d in zip(gap_c, gap_d, strict=True):
        m = (ev.course == c) & ((ev.ts - w0) // DAY == d)
        ev.ts[m] += DAY
        plan.gap_course_days.append((int(c), int(d)))
        keys.append(entity_key({"course": _cid(c), "date": _day_str(ctx, d)}))
    for d in gap_site:
        m = (ev.course < 0) & ((ev.ts - w0) // DAY == d)
        ev.ts[m] += DAY
        plan.gap_site_days.append(int(d))
        keys.append(entity_key({"date": _day_str(ctx, d)}))
    plan.gap_courses = {int(c) for c in gap_c}
    ctx.add("reporting_gap", keys)

    _assign_progress(ctx, enr, ev)
    ev = _inject_backslide(ctx, enr, ev, backslide, plan)
    order = np.lexsort((ev.verb, ev.course, ev.person, ev.ts))
    return ev.take(order), plan


def _spaced_days(ctx: _Ctx, candidates: np.ndarray, k: int, min_apart: int) -> np.ndarray:
    """``k`` days out of ``candidates`` (random order) that are pairwise ``min_apart`` apart."""
    chosen: list[int] = []
    for d in ctx.rng.permutation(candidates):
        if all(abs(int(d) - c) >= min_apart for c in chosen):
            chosen.append(int(d))
            if len(chosen) == k:
                return np.array(chosen, dtype=np.int64)
    raise UserError("the window is too short to place every site-level gap; use more days")


def _assign_progress(ctx: _Ctx, enr: _Enr, ev: _Events) -> None:
    """Progressed values rise with time per enrolment; equal timestamps share a value."""
    idx = np.flatnonzero(ev.verb == V_PROGRESSED)
    e, ts = ev.enr[idx], ev.ts[idx]
    order = np.lexsort((ts, e))
    idx, e, ts = idx[order], e[order], ts[order]
    new_group = np.concatenate([[True], e[1:] != e[:-1]])
    new_value = new_group | np.concatenate([[True], ts[1:] != ts[:-1]])
    dense = np.cumsum(new_value)
    group_start = np.maximum.accumulate(np.where(new_group, dense, 0))
    rank = dense - group_start + 1
    n_ranks = np.zeros_like(rank)
    last = (
        np.concatenate([np.flatnonzero(new_group)[1:] - 1, [e.size - 1]])
        if e.size
        else np.array([], dtype=np.int64)
    )
    group_id = np.cumsum(new_group) - 1
    if e.size:
        n_ranks = rank[last][group_id]
    end = np.nan_to_num(enr.progress[e], nan=50.0)
    begun_before = enr.enrolled[e] < ctx.w0 - DAY
    # Progress already made before the window: one fraction per enrolment, not per event.
    head_start = ctx.rng.uniform(0, 0.6, enr.size)
    start = np.where(begun_before, head_start[e] * end, 0.0)
    ev.value[idx] = np.round(start + (end - start) * rank / np.maximum(n_ranks, 1), 1)


def _inject_backslide(
    ctx: _Ctx, enr: _Enr, ev: _Events, candidates: np.ndarray, plan: _ActivityPlan
) -> _Events:
    """progress_inconsistent: a progressed value well below the one before it."""
    prog = ev.verb == V_PROGRESSED
    e = ev.enr[prog]
    cnt = np.bincount(e, minlength=enr.size)
    last_ts = np.full(enr.size, -1, dtype=np.int64)
    np.maximum.at(last_ts, e, ev.ts[prog])
    ok = candidates[
        (cnt[candidates] >= 2)
        & (last_ts[candidates] < ctx.as_of - 2 * DAY)
        & ~np.isin(enr.course[candidates], list(plan.gap_courses))
    ]
    k = ctx.n(3)
    if ok.size < k:
        raise UserError("the organisation is too small to inject every gap; use more people")
    chosen = np.sort(ctx.rng.choice(ok, size=k, replace=False))
    end = np.round(np.nan_to_num(enr.progress[chosen], nan=50.0), 1)
    ts = last_ts[chosen] + ctx.rng.integers(HOUR, DAY, k)
    value = end - ctx.rng.uniform(20, 40, k)
    extra = _Events.make(
        enr.person[chosen], enr.course[chosen], V_PROGRESSED, ts, value, enr=chosen
    )
    ctx.add("progress_inconsistent", entity_key_list("enrollment", _eid(chosen)))
    return _Events.concat([ev, extra])


def _cid(c: int | np.ndarray) -> str:
    return str(_ids("C", np.atleast_1d(np.asarray(c) + 1), 5)[0])


def _uid(u: int | np.integer) -> str:
    return f"U{int(u):07d}"


def _eid(i: np.ndarray) -> np.ndarray:
    return _ids("E", np.asarray(i) + 1, 8)


def _day_str(ctx: _Ctx, d: int | np.integer) -> str:
    return _day_str_abs(ctx.w0 + int(d) * DAY)


# --------------------------------------------------------------------------------------------
# Submissions and grading
# --------------------------------------------------------------------------------------------


@dataclass
class _Subs:
    person: np.ndarray
    course: np.ndarray
    assignment: np.ndarray
    submitted: np.ndarray
    graded: np.ndarray
    score: np.ndarray


def _build_submissions(ctx: _Ctx, org: _Org, ev: _Events) -> _Subs:
    rng, t = ctx.rng, ctx.as_of
    m = ev.verb == V_SUBMITTED
    person, course, sub = ev.person[m], ev.course[m], ev.ts[m]
    order = np.lexsort((person, course, sub))
    person, course, sub = person[order], course[order], sub[order]
    assignment = 1 + rng.integers(0, org.c_assign[course])
    sla = np.where(org.c_sla[course] > 0, org.c_sla[course], 7)
    # Graders keep at least a day and a half inside the promised SLA.
    delay = np.maximum((sla - 1.5) * rng.beta(2, 3, sub.size), 0.02) * DAY
    graded = sub + delay.astype(np.int64)

    # feedback_delayed: stale ungraded work, or a course grading everything late.
    old = sub < t - (sla + 5) * DAY
    old_per_course = np.bincount(course[old], minlength=org.c_kind.size)
    recent = sub >= t - 45 * DAY
    n_stale, n_slow = ctx.n(6), ctx.n(6)
    stale_pool = np.flatnonzero((old_per_course >= 1) & org.c_active)
    stale_c = _choose(ctx, stale_pool, n_stale, "courses with old submissions")
    # A slow course needs work submitted in the last 30 days that is graded (late) before as_of,
    # so that "median grading time in the last 30 days" holds whichever timestamp picks the month.
    gradable = (sub >= t - 30 * DAY) & (sub < t - (sla + 9) * DAY)
    gradable_per_course = np.bincount(course[gradable], minlength=org.c_kind.size)
    slow_pool = np.flatnonzero((gradable_per_course >= 2) & org.c_active)
    slow_c = _choose(ctx, np.setdiff1d(slow_pool, stale_c), n_slow, "courses with submissions")
    for c in stale_c:
        rows = np.flatnonzero((course == c) & old)
        graded[rng.choice(rows, size=min(3, rows.size), replace=False)] = NA
    late = np.isin(course, slow_c) & recent
    graded[late] = sub[late] + ((sla[late] + rng.uniform(2, 8, int(late.sum()))) * DAY).astype(
        np.int64
    )
    graded[graded >= t] = NA
    score = np.where(graded == NA, np.nan, np.round(rng.uniform(40, 100, sub.size), 1))
    ctx.add(
        "feedback_delayed",
        [entity_key({"course": _cid(c)}) for c in np.concatenate([stale_c, slow_c])],
    )
    return _Subs(person, course, assignment, sub, graded, score)


# --------------------------------------------------------------------------------------------
# Notifications
# --------------------------------------------------------------------------------------------


@dataclass
class _Notes:
    person: np.ndarray
    course: np.ndarray
    kind: np.ndarray
    channel: np.ndarray
    sent: np.ndarray
    delivered: np.ndarray
    bounced: np.ndarray
    opened: np.ndarray

    @classmethod
    def concat(cls, parts: list[_Notes]) -> _Notes:
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__)
        )

    def take(self, keep: np.ndarray) -> _Notes:
        return _Notes(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


def _notes(
    ctx: _Ctx,
    person: np.ndarray,
    course: np.ndarray | int,
    kind: int,
    sent: np.ndarray,
    channel_p: list[float],
) -> _Notes:
    size = sent.size
    return _Notes(
        person=np.asarray(person, dtype=np.int64),
        course=np.broadcast_to(np.asarray(course, dtype=np.int64), (size,)).copy(),
        kind=np.full(size, kind, dtype=np.int8),
        channel=ctx.rng.choice(4, size=size, p=channel_p).astype(np.int8),
        sent=np.asarray(sent, dtype=np.int64),
        delivered=np.full(size, NA, dtype=np.int64),
        bounced=np.zeros(size, dtype=bool),
        opened=np.full(size, NA, dtype=np.int64),
    )


def _deliver(ctx: _Ctx, n: _Notes, rows: np.ndarray, fail_p: np.ndarray) -> None:
    """Delivery outcome for ``rows``: delivered after a channel-typical latency, or failed."""
    rng, t = ctx.rng, ctx.as_of
    ch = n.channel[rows]
    fail = rng.random(rows.size) < fail_p
    latency = rng.lognormal(np.log(CHANNEL_LATENCY[ch]), 0.6).astype(np.int64)
    delivered = np.where(fail, NA, n.sent[rows] + latency)
    delivered[delivered >= t] = NA  # still in flight at as_of
    n.delivered[rows] = delivered
    n.bounced[rows] = fail & ((ch == CH_EMAIL) | (ch == CH_SMS))
    opened = delivered + rng.lognormal(np.log(3 * HOUR), 1.0, rows.size).astype(np.int64)
    opens = (delivered != NA) & (rng.random(rows.size) < CHANNEL_OPEN[ch]) & (opened < t)
    n.opened[rows] = np.where(opens, opened, NA)


def _build_notifications(ctx: _Ctx, org: _Org, enr: _Enr, subs: _Subs) -> _Notes:
    rng, t, w0 = ctx.rng, ctx.as_of, ctx.w0
    parts = []
    m = (enr.enrolled >= w0) & (enr.enrolled < t) & ~enr.no_notify
    parts.append(
        _notes(
            ctx,
            enr.person[m],
            enr.course[m],
            K_ENROLLMENT,
            enr.enrolled[m] + rng.integers(5, 300, m.sum()),
            [0.7, 0, 0, 0.3],
        )
    )
    comp = org.c_compliance[enr.course] & ~enr.no_notify
    end = np.where(
        enr.completed != NA, enr.completed, np.where(enr.withdrawn != NA, enr.withdrawn, t)
    )
    for when in (enr.enrolled + 7 * DAY, enr.due - 7 * DAY):
        when = when - when % DAY + 9 * HOUR + rng.integers(0, HOUR, enr.size)
        m = comp & (when >= w0) & (when < np.minimum(end, t)) & (when > enr.enrolled)
        parts.append(
            _notes(ctx, enr.person[m], enr.course[m], K_REMINDER, when[m], [0.6, 0.15, 0.25, 0])
        )
    od = np.flatnonzero(enr.overdue)
    for week in range(0, 8):
        when = enr.due[od] + DAY + week * 7 * DAY
        m = (when < t) & (when >= w0)
        parts.append(
            _notes(ctx, enr.person[od[m]], enr.course[od[m]], K_OVERDUE, when[m], [0.7, 0.3, 0, 0])
        )
    m = (subs.graded != NA) & (subs.graded + 60 < t)
    parts.append(
        _notes(
            ctx, subs.person[m], subs.course[m], K_FEEDBACK, subs.graded[m] + 60, [0.3, 0, 0.2, 0.5]
        )
    )
    # Weekly digest to every current member of staff, on their own weekday.
    staff = np.flatnonzero(org.p_status < 2)
    slot = rng.integers(0, 7, staff.size)
    digest_channel = rng.choice(4, size=staff.size, p=[0.5, 0.12, 0.25, 0.13])
    weeks = ctx.days // 7 + 1
    who = np.tile(staff, weeks)
    day = np.repeat(np.arange(weeks) * 7, staff.size) + np.tile(slot, weeks)
    sent = w0 + day * DAY + 9 * HOUR + rng.integers(0, 2 * HOUR, who.size)
    m = (sent < t) & (org.p_hire[who] * DAY < sent)
    dig = _notes(ctx, who[m], -1, K_OTHER, sent[m], [1, 0, 0, 0])
    dig.channel = np.tile(digest_channel, weeks)[m].astype(np.int8)
    parts.append(dig)
    n = _Notes.concat(parts)
    del parts, dig, who, day, sent
    n = n.take((n.sent >= w0) & (n.sent < t))
    _deliver(ctx, n, np.arange(n.sent.size), CHANNEL_FAILURE[n.channel])

    # notification_outage: a channel stops delivering for a whole day.
    keys = []
    nday = (n.sent - w0) // DAY
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < ctx.n(12):
        ch = int(rng.choice(4, p=[0.4, 0.25, 0.25, 0.1]))
        pairs.add((ch, int(rng.integers(1, ctx.days - 2))))
    for ch, d in sorted(pairs):
        rows = np.flatnonzero((n.channel == ch) & (nday == d))
        dead = rows[rng.random(rows.size) < 0.97]
        n.delivered[dead] = NA
        n.bounced[dead] = False
        n.opened[dead] = NA
        keys.append(entity_key({"channel": CHANNELS[ch], "date": _day_str(ctx, d)}))
    ctx.add("notification_outage", keys)

    # Choose the unreachable learners first, then make sure nobody else looks unreachable.
    cand = np.flatnonzero((org.p_status == 0) & ~org.reserved & (org.u_status == 0))
    victims = np.sort(rng.choice(cand, size=ctx.n(18), replace=False))
    org.reserved[victims] = True
    _repair_background(ctx, n, victims)
    return _inject_unreachable(ctx, org, n, victims)


def _repair_background(ctx: _Ctx, n: _Notes, victims: np.ndarray) -> None:
    """Nobody but the injected users has >= 3 bounces, or >= 3 sends and no delivery, in ~30 days.

    Checked with a day of margin each way (31-day and 29-day windows) so that a detector's choice
    of ``>`` or ``>=`` at the window edge cannot matter.
    """
    t = ctx.as_of
    w31 = n.sent >= t - 31 * DAY
    size = int(n.person.max()) + 1 if n.person.size else 0
    bounced = np.bincount(n.person[w31 & n.bounced], minlength=size)
    sent = np.bincount(n.person[w31], minlength=size)
    delivered = np.bincount(
        n.person[(n.sent >= t - 29 * DAY) & (n.delivered != NA)], minlength=size
    )
    bad = (bounced >= 3) | ((sent >= 3) & (delivered == 0))
    bad[victims[victims < size]] = False
    rows = np.flatnonzero(w31 & bad[n.person])
    n.bounced[rows] = False
    n.delivered[rows] = np.minimum(n.sent[rows] + 30, t - 1)


def _inject_unreachable(ctx: _Ctx, org: _Org, n: _Notes, victims: np.ndarray) -> _Notes:
    """notification_undelivered: a dead address (bounces) or a dead device (nothing arrives)."""
    rng, t = ctx.rng, ctx.as_of
    half = victims.size // 2
    bouncers, silent = victims[:half], victims[half:]
    w28 = (n.sent >= t - 28 * DAY) & (n.sent < t - DAY)
    rows = np.flatnonzero(w28 & (n.channel == CH_EMAIL) & np.isin(n.person, bouncers))
    n.bounced[rows] = True
    n.delivered[rows] = NA
    n.opened[rows] = NA
    rows = np.flatnonzero((n.sent >= t - 31 * DAY) & np.isin(n.person, silent))
    n.bounced[rows] = False
    n.delivered[rows] = NA
    n.opened[rows] = NA
    extra = []
    for group, channel, bounce in ((bouncers, CH_EMAIL, True), (silent, CH_PUSH, False)):
        mask = w28 & ((n.channel == CH_EMAIL) if bounce else True)
        have = np.bincount(n.person[mask], minlength=int(n.person.max()) + 1)[group]
        need = np.maximum(4 - have, 0)
        who = np.repeat(group, need)
        sent = t - rng.integers(2 * DAY, 27 * DAY, who.size)
        add = _notes(ctx, who, -1, K_OTHER, sent, [1, 0, 0, 0])
        add.channel[:] = channel
        add.bounced[:] = bounce
        extra.append(add)
    ctx.add("notification_undelivered", [f"user={_uid(u)}" for u in org.u_number[victims]])
    out = _Notes.concat([n, *extra])
    return out.take(np.lexsort((out.kind, out.person, out.sent)))


# --------------------------------------------------------------------------------------------
# Accounts: last logins and the account-level gaps
# --------------------------------------------------------------------------------------------


def _build_users(ctx: _Ctx, org: _Org, ev: _Events) -> tuple[pd.DataFrame, np.ndarray]:
    """The ``lms_users`` table, and each course's ``owner_user_id`` (after injections)."""
    rng, t, w0, n = ctx.rng, ctx.as_of, ctx.w0, ctx.people
    last = np.full(n, NA, dtype=np.int64)
    lg = ev.verb == V_LOGIN
    np.maximum.at(last, ev.person[lg], ev.ts[lg])
    cutoff = np.where(org.p_status == 2, org.p_term * DAY, w0)
    earlier = org.u_created + (rng.random(n) * np.maximum(cutoff - org.u_created, 0)).astype(
        np.int64
    )
    last = np.where((last == NA) & (org.u_created < cutoff), earlier, last)
    person_ids = _ids("P", np.arange(n), 6)
    status = org.u_status.copy()
    rows_person: list[np.ndarray] = [person_ids]
    rows_number = [org.u_number]
    rows_email = [org.u_email]
    rows_created = [org.u_created]
    rows_last = [last]

    def extra(
        number: np.ndarray, person: np.ndarray, email: np.ndarray, created: np.ndarray
    ) -> None:
        rows_number.append(number)
        rows_person.append(person)
        rows_email.append(email)
        rows_created.append(created)
        rows_last.append(np.minimum(created + rng.integers(HOUR, 20 * DAY, number.size), t - HOUR))

    orphans: list[str] = []
    # Contractors and service accounts nobody linked to HR.
    k = ctx.n(6)
    num = 900_000 + np.arange(k)
    extra(
        num,
        np.full(k, "", dtype=object),
        np.array([f"contractor{i + 1}@partner-agency.example" for i in range(k)], dtype=object),
        t - rng.integers(5 * DAY, 200 * DAY, k),
    )
    orphans += [_uid(u) for u in num]
    # Links to person ids HR does not know (deleted from the roster or mistyped).
    k = ctx.n(5)
    num = 910_000 + np.arange(k)
    extra(
        num,
        _ids("P", 900_000 + rng.choice(99_999, k, replace=False), 6),
        np.array([f"former.staff{i + 1}@{EMAIL_DOMAIN}" for i in range(k)], dtype=object),
        t - rng.integers(60 * DAY, 900 * DAY, k),
    )
    orphans += [_uid(u) for u in num]
    # Leavers whose account was never closed.
    leavers = np.flatnonzero((org.p_status == 2) & ~org.reserved)
    chosen = _choose(ctx, leavers, ctx.n(8) + ctx.n(4) + ctx.n(3), "leavers")
    still_open = chosen[: ctx.n(8)]
    status[still_open] = 0
    orphans += [_uid(u) for u in org.u_number[still_open]]
    org.reserved[chosen] = True

    # Course ownership gaps: no owner, an unknown owner, a closed account, a departed owner.
    owner = np.where(org.c_owner >= 0, _ids("U", org.u_number[np.maximum(org.c_owner, 0)], 7), "")
    owner = owner.astype(object)
    active = np.flatnonzero(org.c_active)
    ka, kb, kc, kd = ctx.n(4), ctx.n(3), ctx.n(4), ctx.n(3)
    unowned = np.sort(rng.choice(active, size=ka + kb + kc + kd, replace=False))
    unowned = rng.permutation(unowned)
    owner[unowned[:ka]] = ""
    owner[unowned[ka : ka + kb]] = _ids("U", 990_000 + np.arange(kb), 7)
    closed = chosen[ctx.n(8) : ctx.n(8) + kc]
    owner[unowned[ka + kb : ka + kb + kc]] = _ids("U", org.u_number[closed], 7)
    departed = chosen[ctx.n(8) + kc : ctx.n(8) + kc + kd]
    status[departed] = 0  # the departed owner's account is still active: an orphan as well
    owner[unowned[ka + kb + kc :]] = _ids("U", org.u_number[departed], 7)
    orphans += [_uid(u) for u in org.u_number[departed]]
    ctx.add("unowned_course", [f"course={_cid(c)}" for c in unowned])
    ctx.add("orphan_account", [f"user={u}" for u in orphans])

    # record_mismatch: HR has the new surname's address, the LMS the old one.
    cand = np.flatnonzero((org.p_status == 0) & ~org.reserved)
    changed = np.sort(rng.choice(cand, size=ctx.n(15), replace=False))
    org.reserved[changed] = True
    new_last = np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), changed.size)]
    new_email = (
        pd.Series(org.p_first[changed]).str.lower()
        + "."
        + pd.Series(new_last).str.lower()
        + ".m@"
        + EMAIL_DOMAIN
    ).to_numpy(dtype=object)
    org.p_email[changed] = new_email
    ctx.add("record_mismatch", [f"user={_uid(u)}" for u in org.u_number[changed]])

    # duplicate_account: a second (now and then third) active account for the same person.
    cand = np.flatnonzero((org.p_status == 0) & ~org.reserved & (org.u_status == 0))
    dup = np.sort(rng.choice(cand, size=ctx.n(15), replace=False))
    org.reserved[dup] = True
    copies = np.where(rng.random(dup.size) < 0.3, 2, 1)
    who = np.repeat(dup, copies)
    extra(
        950_000 + np.arange(who.size),
        person_ids[who],
        pd.Series(org.p_email[who]).str.upper().to_numpy(dtype=object),
        t - rng.integers(3 * DAY, 100 * DAY, who.size),
    )
    ctx.add("duplicate_account", [f"person={p}" for p in person_ids[dup]])

    status_all = np.concatenate(
        [status, np.zeros(sum(a.size for a in rows_number[1:]), dtype=np.int64)]
    )
    numbers = np.concatenate(rows_number)
    created = np.concatenate(rows_created)
    last_all = np.concatenate(rows_last)
    users = pd.DataFrame(
        {
            "user_id": _ids("U", numbers, 7),
            "person_id": np.concatenate(rows_person),
            "email": np.concatenate(rows_email),
            "status": np.array(["active", "suspended", "deleted"], dtype=object)[status_all],
            "created_at": _ts(created),
            "last_login_at": _ts(last_all),
        }
    )
    return users.sort_values("user_id", kind="stable").reset_index(drop=True), owner


# --------------------------------------------------------------------------------------------
# Integrations
# --------------------------------------------------------------------------------------------


def _build_sync_runs(ctx: _Ctx) -> pd.DataFrame:
    rng, t, w0 = ctx.rng, ctx.as_of, ctx.w0
    frames = []
    for name, every, first, frac in INTEGRATIONS:
        k = np.arange(int((t - w0) // (every * HOUR)) + 1)
        jitter = rng.integers(-120, 120, k.size) if every == 1 else rng.integers(-300, 300, k.size)
        start = w0 + int(first * HOUR) + k * every * HOUR + jitter
        start = start[(start >= w0) & (start < t)]
        read = rng.poisson(max(ctx.people * frac, 3), start.size) + 1
        dur = rng.integers(60, 600, start.size) if every > 1 else rng.integers(40, 240, start.size)
        frames.append(
            pd.DataFrame(
                {
                    "integration": name,
                    "started": start,
                    "finished": start + dur,
                    "status": "success",
                    "read": read,
                    "written": read,
                    "errors": 0,
                }
            )
        )
    runs = pd.concat(frames, ignore_index=True)
    # The nightly HR sync skips three nights; the directory sync stops five days before as_of.
    hole = int(rng.integers(10, ctx.days - 15))
    hr_day = (runs["started"] - w0) // DAY
    runs = runs[~((runs["integration"] == "hr_to_lms") & hr_day.between(hole, hole + 2))]
    runs = runs[~((runs["integration"] == "sso_directory") & (runs["started"] >= t - 5 * DAY))]
    runs = runs.sort_values(["started", "integration"], kind="stable").reset_index(drop=True)
    in_flight = runs["finished"] >= t
    runs.loc[in_flight, ["status", "finished", "read", "written"]] = ["running", NA, 0, 0]

    keys: list[str] = []
    done = np.flatnonzero(
        (runs["started"] < t - 2 * DAY).to_numpy() & (runs["read"] >= 4).to_numpy()
    )
    picks = rng.choice(done, size=13, replace=False)
    fails, partial, never, lost = picks[:5], picks[5:8], picks[8:10], picks[10:]
    read = runs["read"].to_numpy()
    runs.loc[fails, "status"] = "failed"
    runs.loc[fails, "written"] = (read[fails] * rng.uniform(0, 0.5, fails.size)).astype(np.int64)
    runs.loc[fails, "errors"] = rng.integers(1, 50, fails.size)
    short = np.maximum(1, (read[partial] * rng.uniform(0.05, 0.3, partial.size)).astype(np.int64))
    runs.loc[partial, "status"] = "partial"
    runs.loc[partial, "written"] = read[partial] - short
    runs.loc[partial, "errors"] = short
    runs.loc[never, ["status", "finished", "read", "written"]] = ["running", NA, 0, 0]
    runs.loc[lost, "written"] = read[lost] - np.maximum(1, read[lost] // 10)
    for i in picks:
        keys.append(
            entity_key(
                {
                    "integration": runs.at[i, "integration"],
                    "date": _day_str_abs(runs.at[i, "started"]),
                }
            )
        )
    # Overdue integrations, dated the way the reference rule dates them.
    for name, *_ in INTEGRATIONS:
        starts = np.sort(runs.loc[runs["integration"] == name, "started"].to_numpy())
        usual = float(np.median(np.diff(starts)))
        gaps = np.flatnonzero(np.diff(np.append(starts, t)) > 2 * usual)
        for g in gaps:
            keys.append(
                entity_key({"integration": name, "date": _day_str_abs(int(starts[g] + 2 * usual))})
            )
    ctx.add("sync_failure", keys)
    runs.insert(0, "run_id", _ids("R", np.arange(1, len(runs) + 1), 6))
    return runs


def _day_str_abs(epoch_seconds: int | np.integer) -> str:
    return (date(1970, 1, 1) + timedelta(days=int(epoch_seconds) // DAY)).isoformat()


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _ts(arr: np.ndarray) -> np.ndarray:
    """ISO 8601 UTC timestamps (``...Z``), empty where missing."""
    arr = np.asarray(arr, dtype=np.int64)
    text = np.strings.add(np.datetime_as_string(arr.astype("datetime64[s]"), unit="s"), "Z")
    return np.where(arr == NA, "", text).astype(object)


def _num(arr: np.ndarray) -> np.ndarray:
    """Floats with one decimal, empty where NaN."""
    arr = np.asarray(arr, dtype=np.float64)
    text = np.char.mod("%.1f", np.nan_to_num(arr))
    return np.where(np.isnan(arr), "", text).astype(object)


def _int_or_empty(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr, dtype=np.int64)
    return np.where(arr > 0, arr.astype(np.str_), "").astype(object)


def _bool(arr: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(arr, dtype=bool), "true", "false").astype(object)


def _write(
    frame: pd.DataFrame, path: Path, *, header: bool = True, handle: TextIO | None = None
) -> None:
    if handle is not None:
        frame.to_csv(handle, index=False, header=header, lineterminator="\n")
    else:
        frame.to_csv(path, index=False, lineterminator="\n")


def _write_events(path: Path, org: _Org, ev: _Events) -> int:
    users = byte_table(_ids("U", org.u_number, 7))
    courses = byte_table(np.append(_ids("C", np.arange(1, org.c_kind.size + 1), 5), ""))
    verbs = byte_table(VERBS)
    with path.open("wb") as fh:
        fh.write(b"event_id,user_id,course_id,verb,timestamp,value\n")
        for lo in range(0, ev.ts.size, CHUNK_ROWS):
            sl = slice(lo, min(lo + CHUNK_ROWS, ev.ts.size))
            write_rows(
                fh,
                [
                    encode_ids("A", np.arange(sl.start + 1, sl.stop + 1), 9),
                    encode_lookup(users, ev.person[sl]),
                    encode_lookup(courses, ev.course[sl]),
                    encode_lookup(verbs, ev.verb[sl]),
                    encode_timestamps(ev.ts[sl]),
                    encode_numbers(ev.value[sl]),
                ],
            )
    return int(ev.ts.size)


TABLE_FILES = (
    "people.csv",
    "lms_users.csv",
    "courses.csv",
    "enrollments.csv",
    "enrollment_rules.csv",
    "activity.csv",
    "submissions.csv",
    "notifications.csv",
    "sync_runs.csv",
)
OUTPUT_FILES = (*TABLE_FILES, "snapshot.toml", "ground_truth.csv", NEAR_MISS_FILE)


def _check_params(
    out_dir: Path, seed: int, people: int, days: int, as_of: datetime, overwrite: bool
) -> int:
    """Validate the parameters; returns ``as_of`` in epoch seconds."""
    if not isinstance(seed, int) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    if not MIN_PEOPLE <= people <= MAX_PEOPLE:
        raise UserError(f"people must be between {MIN_PEOPLE} and {MAX_PEOPLE}, got {people}")
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise UserError(f"days must be between {MIN_DAYS} and {MAX_DAYS}, got {days}")
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    stamp = int(as_of.timestamp())
    if stamp % DAY:
        raise UserError(f"as_of must be a UTC midnight, got {as_of.isoformat()}")
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir() and not overwrite:
        clash = sorted(f for f in OUTPUT_FILES if (out_dir / f).exists())
        if clash:
            raise UserError(
                f"{out_dir} already holds {clash[0]} (and maybe more); choose an empty folder "
                "or replace it (--force, overwrite=True)"
            )
    return stamp


def generate_demo_org(
    out_dir: str | Path,
    *,
    seed: int = 1,
    people: int = 2000,
    days: int = 120,
    as_of: datetime = DEFAULT_AS_OF,
    overwrite: bool = False,
    near_misses: bool = False,
) -> DemoOrgSummary:
    """Write a synthetic organisation, its injected gaps and ``ground_truth.csv`` to ``out_dir``.

    With ``near_misses`` the organisation also holds look-alikes that the rules flag and its
    people know to be fine (``near_misses.csv``: category, entity_key, the dismissal reason and
    why), as a real one does; without, the files are byte-identical to those of earlier versions.

    Everything is generated in memory first, so bad parameters or a too-small organisation leave
    ``out_dir`` untouched. Raises :class:`UserError` with a one-line reason.
    """
    out = Path(out_dir)
    stamp = _check_params(out, seed, people, days, as_of, overwrite)
    ctx = _Ctx(
        rng=np.random.default_rng(seed),
        people=people,
        days=days,
        as_of=stamp,
        scale=min(1.0, people / 2000),
    )
    nm = _NearMisses(np.random.default_rng([seed, NEAR_MISS_STREAM])) if near_misses else None
    cal = _Calendar.build(ctx)
    org = _build_org(ctx)
    enr = _build_enrollments(ctx, org)
    _remove_missing(ctx, org, enr)
    if nm:
        _near_miss_grandfathered(ctx, org, enr, nm)
    backslide, taken = _inject_enrollment_gaps(ctx, org, enr)
    if nm:
        _near_miss_extension(ctx, org, enr, taken, nm)
    ev, _ = _build_activity(ctx, cal, org, enr, backslide, taken)
    subs = _build_submissions(ctx, org, ev)
    notes = _build_notifications(ctx, org, enr, subs)
    if nm:
        _near_miss_mailboxless(ctx, org, notes, nm)
    users, owners = _build_users(ctx, org, ev)
    runs = _build_sync_runs(ctx)

    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    user_ids = _ids("U", org.u_number, 7)
    course_ids = _ids("C", np.arange(1, org.c_kind.size + 1), 5)
    dept = np.array([*org.dept_names, ""], dtype=object)
    titles = np.array([*org.title_names, ""], dtype=object)

    person_ids = _ids("P", np.arange(people), 6)
    tables: dict[str, pd.DataFrame] = {
        "people": pd.DataFrame(
            {
                "person_id": person_ids,
                "email": org.p_email,
                "full_name": org.p_first + " " + org.p_last,
                "department": dept[org.p_dept],
                "job_title": titles[org.p_title],
                "manager_person_id": np.where(
                    org.p_manager >= 0, person_ids[np.maximum(org.p_manager, 0)], ""
                ),
                "employment_status": np.array(["active", "leave", "terminated"], dtype=object)[
                    org.p_status
                ],
                "hire_date": _iso_date(org.p_hire * DAY).astype(object),
                "termination_date": np.where(
                    org.p_term == NA, "", _iso_date(np.maximum(org.p_term, 0) * DAY)
                ).astype(object),
            }
        ),
        "lms_users": users,
        "courses": pd.DataFrame(
            {
                "course_id": course_ids,
                "title": org.c_title,
                "department": dept[org.c_dept],
                "owner_user_id": owners,
                "is_compliance": _bool(org.c_compliance),
                "due_days": _int_or_empty(org.c_due),
                "grading_sla_days": _int_or_empty(org.c_sla),
                "status": np.where(org.c_active, "active", "archived").astype(object),
            }
        ),
        "enrollment_rules": pd.DataFrame(
            {
                "rule_id": [f"RULE-{i + 1:03d}" for i in range(org.r_course.size)],
                "course_id": course_ids[org.r_course],
                "department": dept[org.r_dept],
                "job_title": titles[org.r_title],
                "active": _bool(org.r_active),
                "grace_days": _int_or_empty(org.r_grace),
            }
        ),
        "submissions": pd.DataFrame(
            {
                "submission_id": _ids("S", np.arange(1, subs.submitted.size + 1), 8),
                "user_id": user_ids[subs.person],
                "course_id": course_ids[subs.course],
                "assignment_id": np.strings.add(
                    course_ids[subs.course].astype(np.str_),
                    np.strings.add("-A", subs.assignment.astype(np.str_)),
                ).astype(object),
                "submitted_at": _ts(subs.submitted),
                "graded_at": _ts(subs.graded),
                "score": _num(subs.score),
            }
        ),
        "sync_runs": pd.DataFrame(
            {
                "run_id": runs["run_id"],
                "integration": runs["integration"],
                "started_at": _ts(runs["started"].to_numpy()),
                "finished_at": _ts(runs["finished"].to_numpy()),
                "status": runs["status"],
                "records_read": runs["read"],
                "records_written": runs["written"],
                "error_count": runs["errors"],
            }
        ),
    }
    for name, frame in tables.items():
        _write(frame, out / f"{name}.csv")
        rows[name] = len(frame)
    del tables
    rows["enrollments"] = _write_enrollments(out / "enrollments.csv", enr, user_ids, course_ids)
    rows["activity"] = _write_events(out / "activity.csv", org, ev)
    rows["notifications"] = _write_notifications(
        out / "notifications.csv", notes, user_ids, course_ids
    )

    (out / "snapshot.toml").write_text(
        f'as_of = "{_ts(np.array([stamp]))[0]}"\n'
        f'source = "gapdesk-demo seed={seed} people={people} days={days}"\n',
        encoding="utf-8",
    )
    truth = pd.DataFrame(sorted(ctx.truth), columns=["category", "entity_key"])
    _write(truth, out / "ground_truth.csv")
    gaps = truth["category"].value_counts().sort_index().to_dict()
    misses: dict[str, int] = {}
    if nm:
        near = pd.DataFrame(
            sorted(nm.rows), columns=["category", "entity_key", "reason", "explanation"]
        )
        _write(near, out / NEAR_MISS_FILE)
        misses = {str(k): int(v) for k, v in near["category"].value_counts().sort_index().items()}
    else:
        (out / NEAR_MISS_FILE).unlink(missing_ok=True)  # a stale one from an earlier run
    return DemoOrgSummary(
        out_dir=out,
        rows={k: rows[k] for k in sorted(rows)},
        gaps={str(k): int(v) for k, v in gaps.items()},
        near_misses=misses,
    )


def _write_enrollments(path: Path, enr: _Enr, user_ids: np.ndarray, course_ids: np.ndarray) -> int:
    users, courses = byte_table(user_ids), byte_table(course_ids)
    sources, statuses = byte_table(SOURCES), byte_table(STATUSES)
    with path.open("wb") as fh:
        fh.write(
            b"enrollment_id,user_id,course_id,source,status,enrolled_at,due_at,completed_at,"
            b"withdrawn_at,progress_pct\n"
        )
        for lo in range(0, enr.size, CHUNK_ROWS):
            sl = slice(lo, min(lo + CHUNK_ROWS, enr.size))
            write_rows(
                fh,
                [
                    encode_ids("E", np.arange(sl.start + 1, sl.stop + 1), 8),
                    encode_lookup(users, enr.person[sl]),
                    encode_lookup(courses, enr.course[sl]),
                    encode_lookup(sources, enr.source[sl]),
                    encode_lookup(statuses, enr.status[sl]),
                    encode_timestamps(enr.enrolled[sl]),
                    encode_timestamps(enr.due[sl]),
                    encode_timestamps(enr.completed[sl]),
                    encode_timestamps(enr.withdrawn[sl]),
                    encode_numbers(enr.progress[sl]),
                ],
            )
    return enr.size


def _write_notifications(
    path: Path, notes: _Notes, user_ids: np.ndarray, course_ids: np.ndarray
) -> int:
    users, courses = byte_table(user_ids), byte_table(np.append(course_ids, ""))
    kinds, channels, flags = byte_table(KINDS), byte_table(CHANNELS), byte_table(["false", "true"])
    size = notes.sent.size
    with path.open("wb") as fh:
        fh.write(
            b"notification_id,user_id,course_id,kind,channel,sent_at,delivered_at,bounced,"
            b"opened_at\n"
        )
        for lo in range(0, size, CHUNK_ROWS):
            sl = slice(lo, min(lo + CHUNK_ROWS, size))
            write_rows(
                fh,
                [
                    encode_ids("N", np.arange(sl.start + 1, sl.stop + 1), 9),
                    encode_lookup(users, notes.person[sl]),
                    encode_lookup(courses, notes.course[sl]),
                    encode_lookup(kinds, notes.kind[sl]),
                    encode_lookup(channels, notes.channel[sl]),
                    encode_timestamps(notes.sent[sl]),
                    encode_timestamps(notes.delivered[sl]),
                    encode_lookup(flags, notes.bounced[sl].astype(np.int64)),
                    encode_timestamps(notes.opened[sl]),
                ],
            )
    return size
