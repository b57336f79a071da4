"""The ``activity`` table: learning sessions, logins, daily floors and the activity-based gaps."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from app.core.errors import UserError
from app.demo.organisation.context import GenerationContext
from app.demo.organisation.csv_bytes import (
    CHUNK_ROWS,
    byte_table,
    encode_ids,
    encode_lookup,
    encode_numbers,
    encode_timestamps,
    write_rows,
)
from app.demo.organisation.enrollments import ST_PROGRESS, Enrollments
from app.demo.organisation.identifiers import (
    course_id_of,
    enrollment_ids,
    entity_key_list,
    user_id_of,
    window_day,
)
from app.demo.organisation.people import Organisation
from app.demo.organisation.timeline import DAY, HOUR, iso_weeks, public_holidays
from app.sources.contract import TABLES
from models.taxonomy import entity_key

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


def sample_times(
    ctx: GenerationContext, cal: Calendar, lo: np.ndarray, hi: np.ndarray, tod_mean: float = 13.5
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
class ActivityPlan:
    """Which courses and days carry which activity-based gaps (kept apart from one another)."""

    gap_courses: set[int] = field(default_factory=set)
    gap_course_days: list[tuple[int, int]] = field(default_factory=list)
    gap_site_days: list[int] = field(default_factory=list)


def course_pools(
    enr: Enrollments, org: Organisation, nc: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per course, the enrolments of current staff that have activity: (sorted idx, start, size)."""
    ok = (enr.act_hi > enr.act_lo + 600) & (org.p_status[enr.person] < 2)
    pool = np.flatnonzero(ok)
    pool = pool[np.argsort(enr.course[pool], kind="stable")]
    size = np.bincount(enr.course[pool], minlength=nc)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    return pool, start, size


def draw_from_pool(
    ctx: GenerationContext,
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


def _floor_deficit(ctx: GenerationContext, cal: Calendar, counts: np.ndarray) -> np.ndarray:
    """Events to add per (stream, day) so no day falls below half its weekday's usual level."""
    med = np.zeros((counts.shape[0], 7))
    for k in range(7):
        days = np.flatnonzero((cal.weekday == k) & ~cal.holiday)
        if days.size:
            med[:, k] = np.median(counts[:, days], axis=1)
    ratio = cal.weight / WEEKDAY_WEIGHT[cal.weekday]
    floor = np.maximum(3, np.ceil(0.5 * med[:, cal.weekday] * ratio[None, :]))
    return np.maximum(floor - counts, 0).astype(np.int64)


def build_activity(
    ctx: GenerationContext,
    cal: Calendar,
    org: Organisation,
    enr: Enrollments,
    backslide: np.ndarray,
    taken: np.ndarray,
) -> tuple[Events, ActivityPlan]:
    """The ``activity`` events, with the activity-based gaps injected; and which days carry them."""
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
    s_ts = sample_times(ctx, cal, np.repeat(lo, nsess), np.repeat(hi, nsess))
    del lo, hi, dlo, dhi, wdays, lam
    s_p, s_c = enr.person[s_enr], enr.course[s_enr]
    ns = s_enr.size
    parts = [Events.make(s_p, s_c, V_LAUNCHED, s_ts)]
    m = rng.random(ns) < 0.01
    parts.append(
        Events.make(s_p[m], s_c[m], V_LAUNCH_FAILED, s_ts[m] - rng.integers(20, 120, m.sum()))
    )
    views = 1 + rng.binomial(2, 0.5, ns)
    vi = np.repeat(np.arange(ns), views)
    parts.append(
        Events.make(s_p[vi], s_c[vi], V_VIEWED, s_ts[vi] + rng.integers(60, 1200, vi.size))
    )
    m = rng.random(ns) < 0.8
    parts.append(
        Events.make(
            s_p[m], s_c[m], V_PROGRESSED, s_ts[m] + rng.integers(600, 2400, m.sum()), enr=s_enr[m]
        )
    )
    m = (rng.random(ns) < 0.25) & (org.c_assign[s_c] > 0)
    parts.append(
        Events.make(s_p[m], s_c[m], V_SUBMITTED, s_ts[m] + rng.integers(1200, 3600, m.sum()))
    )
    m = (rng.random(ns) < 0.25) & org.c_compliance[s_c]
    fail = rng.random(ns) < 0.3
    score = np.where(fail, rng.uniform(10, 59, ns), rng.uniform(60, 100, ns))
    for verb, sel in ((V_FAILED, m & fail), (V_PASSED, m & ~fail)):
        parts.append(
            Events.make(
                s_p[sel], s_c[sel], verb, s_ts[sel] + rng.integers(900, 3000, sel.sum()), score[sel]
            )
        )
    fin = np.flatnonzero((enr.finish >= w0) & (enr.finish < t) & (enr.act_hi > enr.act_lo))
    parts.append(
        Events.make(
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
    parts.append(Events.make(s_p[firsts], -1, V_LOGIN, l_ts))
    m = rng.random(firsts.size) < 0.02
    parts.append(
        Events.make(
            s_p[firsts][m],
            -1,
            V_LOGIN_FAILED,
            np.maximum(l_ts[m] - rng.integers(10, 60, m.sum()), w0),
        )
    )
    del s_enr, s_ts, s_p, s_c, vi, order, firsts, day_key
    ev = Events.concat(parts)
    del parts
    ev = ev.take((ev.ts >= w0) & (ev.ts < t))

    staff = np.flatnonzero((org.p_status < 2) & (org.p_hire < ctx.t_day))
    pools = course_pools(enr, org, nc)
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
    holder, fb = draw_from_pool(ctx, pools, tc, staff)
    who = np.where(holder >= 0, enr.person[np.maximum(holder, 0)], fb)
    tts = w0 + td * DAY + rng.integers(7 * HOUR, 21 * HOUR, tc.size)
    sd = np.repeat(np.arange(d_n), site_def)
    extra: list[Events] = [
        Events.make(who, tc, V_VIEWED, tts),
        Events.make(
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
    ev = Events.concat([ev, *extra])
    extra = []

    # Pick disjoint courses for the course-level activity gaps.
    plan = ActivityPlan()
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
        holder, fb = draw_from_pool(ctx, pools, np.full(k, c), staff)
        who = np.where(holder >= 0, enr.person[np.maximum(holder, 0)], fb)
        extra.append(
            Events.make(
                who, c, V_LAUNCH_FAILED, w0 + d * DAY + rng.integers(8 * HOUR, 18 * HOUR, k)
            )
        )
        keys.append(entity_key({"course": course_id_of(c), "date": window_day(ctx, d)}))
    # access_failure (site): logins failing wholesale on a working day.
    n_site = max(1, ctx.n(3))
    # Site-level days at least three days apart: a gap day's events move to the next day, which
    # must be neither another gap day nor a failure day.
    site_days = spaced_days(ctx, workdays, n_site + ctx.n(2), min_apart=3)
    acc_site, gap_site = site_days[:n_site], site_days[n_site:]
    for d in acc_site:
        k = int(max(50, math.ceil(1.5 * logins[d])))
        extra.append(
            Events.make(
                staff[rng.integers(0, staff.size, k)],
                -1,
                V_LOGIN_FAILED,
                w0 + d * DAY + rng.integers(7 * HOUR, 19 * HOUR, k),
            )
        )
        keys.append(entity_key({"date": window_day(ctx, d)}))
    ctx.add("access_failure", keys)

    # engagement_anomaly (course;week): a broken quiz makes every learner relaunch and fail.
    mondays = np.flatnonzero((cal.weekday == 0) & (np.arange(d_n) + 6 < d_n))
    keys = []
    for c in week_c:
        mon = int(rng.choice(mondays))
        in_week = (ev.course == c) & (ev.ts >= w0 + mon * DAY) & (ev.ts < w0 + (mon + 7) * DAY)
        learners = np.unique(ev.person[in_week])
        if learners.size < 5:
            holder, fb = draw_from_pool(ctx, pools, np.full(5, c), staff)
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
            extra.append(Events.make(who, c, verb, ts, val))
        keys.append(
            entity_key(
                {"course": course_id_of(c), "week": iso_weeks(np.array([w0 + mon * DAY]))[0]}
            )
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
            extra.append(Events.make(np.full(k, p), c, verb, ts, val))
        keys.append(entity_key({"user": user_id_of(org.u_number[p]), "course": course_id_of(c)}))
    ctx.add("engagement_anomaly", keys)

    ev = Events.concat([ev, *extra])
    del extra

    # reporting_gap: a course's (or the site's) events of one day arrive a day late.
    keys = []
    gap_d = rng.choice(inner[:-1], size=n_gap)
    for c, d in zip(gap_c, gap_d, strict=True):
        m = (ev.course == c) & ((ev.ts - w0) // DAY == d)
        ev.ts[m] += DAY
        plan.gap_course_days.append((int(c), int(d)))
        keys.append(entity_key({"course": course_id_of(c), "date": window_day(ctx, d)}))
    for d in gap_site:
        m = (ev.course < 0) & ((ev.ts - w0) // DAY == d)
        ev.ts[m] += DAY
        plan.gap_site_days.append(int(d))
        keys.append(entity_key({"date": window_day(ctx, d)}))
    plan.gap_courses = {int(c) for c in gap_c}
    ctx.add("reporting_gap", keys)

    _assign_progress(ctx, enr, ev)
    ev = inject_backslide(ctx, enr, ev, backslide, plan)
    order = np.lexsort((ev.verb, ev.course, ev.person, ev.ts))
    return ev.take(order), plan


def spaced_days(
    ctx: GenerationContext, candidates: np.ndarray, k: int, min_apart: int
) -> np.ndarray:
    """``k`` days out of ``candidates`` (random order) that are pairwise ``min_apart`` apart."""
    chosen: list[int] = []
    for d in ctx.rng.permutation(candidates):
        if all(abs(int(d) - c) >= min_apart for c in chosen):
            chosen.append(int(d))
            if len(chosen) == k:
                return np.array(chosen, dtype=np.int64)
    raise UserError("the window is too short to place every site-level gap; use more days")


def _assign_progress(ctx: GenerationContext, enr: Enrollments, ev: Events) -> None:
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


def inject_backslide(
    ctx: GenerationContext, enr: Enrollments, ev: Events, candidates: np.ndarray, plan: ActivityPlan
) -> Events:
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
    extra = Events.make(enr.person[chosen], enr.course[chosen], V_PROGRESSED, ts, value, enr=chosen)
    ctx.add("progress_inconsistent", entity_key_list("enrollment", enrollment_ids(chosen)))
    return Events.concat([ev, extra])


def write_activity(path: Path, ev: Events, user_ids: np.ndarray, course_ids: np.ndarray) -> int:
    """Write the ``activity`` table; returns its row count."""
    users, courses = byte_table(user_ids), byte_table(np.append(course_ids, ""))
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
