"""The ``activity`` table: learning sessions, logins, daily floors, then the activity-based gaps.

The events themselves and what the gaps share with the clean activity are in
:mod:`app.demo.organisation.events`; the gaps in :mod:`app.demo.organisation.activity_gaps`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.demo.organisation.activity_gaps import delay_reporting, falling_progress, gap_events
from app.demo.organisation.context import GenerationContext
from app.demo.organisation.csv_bytes import (
    byte_table,
    encode_lookup,
    encode_numbers,
    encode_row_ids,
    encode_timestamps,
    write_table,
)
from app.demo.organisation.enrollments import Enrollments
from app.demo.organisation.events import (
    V_COMPLETED,
    V_FAILED,
    V_LAUNCH_FAILED,
    V_LAUNCHED,
    V_LOGIN,
    V_LOGIN_FAILED,
    V_PASSED,
    V_PROGRESSED,
    V_SUBMITTED,
    V_VIEWED,
    VERBS,
    WEEKDAY_WEIGHT,
    ActivityBaseline,
    Calendar,
    Events,
    Learners,
)
from app.demo.organisation.people import Organisation
from app.demo.organisation.timeline import DAY, HOUR
from app.sources.contract import TABLES

# The contract's columns, in its order (the writer's cells follow it). The demo's events are not
# per object, so object_id (contract version 2) is left out: absent, not empty.
COLUMNS = tuple(c.name for c in TABLES["activity"].columns if c.name != "object_id")


def build_activity(
    ctx: GenerationContext,
    org: Organisation,
    enr: Enrollments,
    backslide: np.ndarray,
    taken: np.ndarray,
) -> Events:
    """The ``activity`` table's events, gaps injected, in the table's order.

    ``backslide``: enrolments that may get a falling progress value; ``taken``: enrolments other
    gaps already use.
    """
    cal = Calendar.build(ctx)
    ev = _sessions(ctx, cal, org, enr)
    floors, base = _daily_floors(ctx, cal, org, ev, Learners.of(ctx, org, enr))
    # The gaps measure "active learners" on everything, floors included.
    ev = Events.concat([ev, *floors])
    del floors
    extra, late = gap_events(ctx, org, enr, ev, base, taken)
    ev = Events.concat([ev, *extra])
    del extra
    delay_reporting(ctx, ev, late)
    # Progress values once every event sits on its final day, before a falling one is added.
    _assign_progress(ctx, enr, ev)
    ev = Events.concat([ev, falling_progress(ctx, enr, ev, backslide, late)])
    order = np.lexsort((ev.verb, ev.course, ev.person, ev.ts))
    return ev.take(order)


def _sessions(ctx: GenerationContext, cal: Calendar, org: Organisation, enr: Enrollments) -> Events:
    """Learning sessions inside each enrolment's active interval, and the logins before them."""
    rng, w0, t, d_n = ctx.rng, ctx.w0, ctx.as_of, ctx.days
    engagement = rng.lognormal(0.0, 0.4, ctx.people)

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
    return ev.take((ev.ts >= w0) & (ev.ts < t))


def _daily_floors(
    ctx: GenerationContext, cal: Calendar, org: Organisation, ev: Events, learners: Learners
) -> tuple[list[Events], ActivityBaseline]:
    """Events that make every active course and the site stream report on every day of the window.

    Also returns the baseline the gaps are measured against (counted before the floors).
    """
    rng, w0, d_n = ctx.rng, ctx.w0, ctx.days
    nc = org.c_kind.size
    active_courses = np.flatnonzero(org.c_active)
    day = (ev.ts - w0) // DAY
    site = ev.course < 0
    counts = np.bincount(ev.course[~site] * d_n + day[~site], minlength=nc * d_n).reshape(nc, d_n)
    deficit = _floor_deficit(ctx, cal, counts[active_courses])
    site_counts = np.bincount(day[site], minlength=d_n)[None, :]
    site_def = _floor_deficit(ctx, cal, site_counts)[0]
    tc, td = np.nonzero(deficit)
    reps = deficit[tc, td]
    tc, td = np.repeat(active_courses[tc], reps), np.repeat(td, reps)
    who = learners.draw(ctx, tc)
    tts = w0 + td * DAY + rng.integers(7 * HOUR, 21 * HOUR, tc.size)
    sd = np.repeat(np.arange(d_n), site_def)
    staff = learners.staff
    floors = [
        Events.make(who, tc, V_VIEWED, tts),
        Events.make(
            staff[rng.integers(0, staff.size, sd.size)],
            -1,
            V_LOGIN,
            w0 + sd * DAY + rng.integers(7 * HOUR, 21 * HOUR, sd.size),
        ),
    ]
    launched = ev.verb == V_LAUNCHED
    launches = np.bincount(ev.course[launched] * d_n + day[launched], minlength=nc * d_n).reshape(
        nc, d_n
    )
    logins = np.bincount(day[ev.verb == V_LOGIN], minlength=d_n)
    return floors, ActivityBaseline(cal, learners, active_courses, launches, logins)


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


def _sample_times(
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


def write_activity(path: Path, ev: Events, user_ids: np.ndarray, course_ids: np.ndarray) -> int:
    """Write the ``activity`` table; returns its row count."""
    users, courses = byte_table(user_ids), byte_table(np.append(course_ids, ""))
    verbs = byte_table(VERBS)

    def cells(rows: slice) -> list[np.ndarray]:
        return [
            encode_row_ids("A", rows, 9),
            encode_lookup(users, ev.person[rows]),
            encode_lookup(courses, ev.course[rows]),
            encode_lookup(verbs, ev.verb[rows]),
            encode_timestamps(ev.ts[rows]),
            encode_numbers(ev.value[rows]),
        ]

    return write_table(path, COLUMNS, int(ev.ts.size), cells)
