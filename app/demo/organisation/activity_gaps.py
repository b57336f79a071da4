"""The gaps injected into the activity: access_failure, engagement_anomaly, reporting_gap, and the
falling progress value of progress_inconsistent.

Each course-level gap gets courses of its own among the busiest, and the site-level days lie at
least three days apart, so that no gap hides or imitates another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.core.errors import UserError
from app.demo.organisation.context import GenerationContext
from app.demo.organisation.enrollments import ST_PROGRESS, Enrollments
from app.demo.organisation.events import (
    V_FAILED,
    V_LAUNCH_FAILED,
    V_LAUNCHED,
    V_LOGIN_FAILED,
    V_PROGRESSED,
    V_VIEWED,
    ActivityBaseline,
    Events,
)
from app.demo.organisation.identifiers import (
    course_id_of,
    enrollment_ids,
    entity_key_list,
    user_id_of,
    window_day,
)
from app.demo.organisation.people import Organisation
from app.demo.organisation.timeline import DAY, HOUR, iso_weeks
from models.taxonomy import entity_key


@dataclass
class LateDays:
    """Where reporting_gap moves a day's events to the next day (after the other injections)."""

    courses: np.ndarray  # courses with a late day (kept free of a falling progress value)
    site_days: np.ndarray  # window days on which the site-level events arrive late
    inner: np.ndarray  # window days eligible for a course's late day


def gap_events(
    ctx: GenerationContext,
    org: Organisation,
    enr: Enrollments,
    ev: Events,
    base: ActivityBaseline,
    taken: np.ndarray,
) -> tuple[list[Events], LateDays]:
    """The events of access_failure and engagement_anomaly, and where the reporting gaps go.

    ``ev`` is the clean activity, floors included ("active learners" count them too); ``taken``
    marks the enrolments other gaps use (the anomalous learners' are marked in turn).
    """
    rng, cal = ctx.rng, base.calendar
    n_acc, n_gap, n_week, n_user = ctx.n(10), ctx.n(12), ctx.n(10), ctx.n(10)
    # Disjoint courses for the course-level activity gaps.
    busy = np.argsort(-base.learners.size[base.active_courses], kind="stable")
    ranked = base.active_courses[busy]
    need = n_acc + n_gap + n_week
    if ranked.size < need + 2:
        raise UserError(
            "the organisation has too few active courses to inject every gap; use more people"
        )
    chosen = rng.permutation(ranked[: max(need, min(ranked.size, need * 2))])[:need]
    acc_c, gap_c, week_c = chosen[:n_acc], chosen[n_acc : n_acc + n_gap], chosen[n_acc + n_gap :]
    inner = np.arange(2, ctx.days - 2)
    workdays = inner[(cal.weekday[inner] < 5) & ~cal.holiday[inner]]

    extra = _launch_failures(ctx, base, acc_c, workdays)
    n_site = max(1, ctx.n(3))
    # Site-level days at least three days apart: a gap day's events move to the next day, which
    # must be neither another gap day nor a failure day.
    site_days = spaced_days(ctx, workdays, n_site + ctx.n(2), min_apart=3)
    extra += _login_failures(ctx, base, site_days[:n_site])
    extra += _broken_quizzes(ctx, ev, base, week_c)
    extra += _hammering_learners(ctx, org, enr, chosen, n_user, taken)
    return extra, LateDays(gap_c, site_days[n_site:], inner)


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


def _launch_failures(
    ctx: GenerationContext, base: ActivityBaseline, courses: np.ndarray, workdays: np.ndarray
) -> list[Events]:
    """access_failure (course): a burst of launch failures on a working day."""
    rng, w0 = ctx.rng, ctx.w0
    days = rng.choice(workdays, size=courses.size)
    extra, keys = [], []
    for c, d in zip(courses, days, strict=True):
        usual = float(np.median(base.launches[c]))
        k = int(max(20, math.ceil(3 * usual)))
        who = base.learners.draw(ctx, np.full(k, c))
        extra.append(
            Events.make(
                who, c, V_LAUNCH_FAILED, w0 + d * DAY + rng.integers(8 * HOUR, 18 * HOUR, k)
            )
        )
        keys.append(entity_key({"course": course_id_of(c), "date": window_day(ctx, d)}))
    ctx.add("access_failure", keys)
    return extra


def _login_failures(
    ctx: GenerationContext, base: ActivityBaseline, days: np.ndarray
) -> list[Events]:
    """access_failure (site): logins failing wholesale on a working day."""
    rng, w0, staff = ctx.rng, ctx.w0, base.learners.staff
    extra, keys = [], []
    for d in days:
        k = int(max(50, math.ceil(1.5 * base.logins[d])))
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
    return extra


def _broken_quizzes(
    ctx: GenerationContext, ev: Events, base: ActivityBaseline, courses: np.ndarray
) -> list[Events]:
    """engagement_anomaly (course;week): a broken quiz makes every learner relaunch and fail."""
    rng, w0, d_n = ctx.rng, ctx.w0, ctx.days
    mondays = np.flatnonzero((base.calendar.weekday == 0) & (np.arange(d_n) + 6 < d_n))
    extra, keys = [], []
    for c in courses:
        mon = int(rng.choice(mondays))
        in_week = (ev.course == c) & (ev.ts >= w0 + mon * DAY) & (ev.ts < w0 + (mon + 7) * DAY)
        learners = np.unique(ev.person[in_week])
        if learners.size < 5:
            learners = np.unique(np.concatenate([learners, base.learners.draw(ctx, np.full(5, c))]))
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
    ctx.add("engagement_anomaly", keys)
    return extra


def _hammering_learners(
    ctx: GenerationContext,
    org: Organisation,
    enr: Enrollments,
    excluded: np.ndarray,
    k: int,
    taken: np.ndarray,
) -> list[Events]:
    """engagement_anomaly (user;course): one learner hammering a course's quiz, ``k`` times.

    The courses are other than ``excluded`` (those of the course-level activity gaps).
    """
    rng, w0, d_n = ctx.rng, ctx.w0, ctx.days
    cand = np.flatnonzero(
        (enr.status == ST_PROGRESS)
        & (enr.act_hi > enr.act_lo + 600)
        & (org.p_status[enr.person] == 0)
        & ~np.isin(enr.course, excluded)
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
        if len(picks) == k:
            break
    taken[picks] = True
    extra, keys = [], []
    for i in picks:
        p, c = int(enr.person[i]), int(enr.course[i])
        # Spread over the whole window: a learner unlike their peers, without also turning one
        # week of the course into a course-level anomaly.
        for verb, n in ((V_VIEWED, 150), (V_FAILED, 50)):
            ts = w0 + rng.integers(0, d_n, n) * DAY + rng.integers(8 * HOUR, 22 * HOUR, n)
            val = rng.uniform(0, 30, n) if verb == V_FAILED else None
            extra.append(Events.make(np.full(n, p), c, verb, ts, val))
        keys.append(entity_key({"user": user_id_of(org.u_number[p]), "course": course_id_of(c)}))
    ctx.add("engagement_anomaly", keys)
    return extra


def delay_reporting(ctx: GenerationContext, ev: Events, late: LateDays) -> None:
    """reporting_gap: a course's (or the site's) events of one day arrive a day late."""
    w0 = ctx.w0
    keys = []
    days = ctx.rng.choice(late.inner[:-1], size=late.courses.size)
    for c, d in zip(late.courses, days, strict=True):
        m = (ev.course == c) & ((ev.ts - w0) // DAY == d)
        ev.ts[m] += DAY
        keys.append(entity_key({"course": course_id_of(c), "date": window_day(ctx, d)}))
    for d in late.site_days:
        m = (ev.course < 0) & ((ev.ts - w0) // DAY == d)
        ev.ts[m] += DAY
        keys.append(entity_key({"date": window_day(ctx, d)}))
    ctx.add("reporting_gap", keys)


def falling_progress(
    ctx: GenerationContext, enr: Enrollments, ev: Events, candidates: np.ndarray, late: LateDays
) -> Events:
    """progress_inconsistent: a progressed value well below the one before it (new events).

    ``candidates`` are enrolments left in progress long enough; none in a course with a late day.
    """
    prog = ev.verb == V_PROGRESSED
    e = ev.enr[prog]
    cnt = np.bincount(e, minlength=enr.size)
    last_ts = np.full(enr.size, -1, dtype=np.int64)
    np.maximum.at(last_ts, e, ev.ts[prog])
    ok = candidates[
        (cnt[candidates] >= 2)
        & (last_ts[candidates] < ctx.as_of - 2 * DAY)
        & ~np.isin(enr.course[candidates], late.courses)
    ]
    k = ctx.n(3)
    if ok.size < k:
        raise UserError("the organisation is too small to inject every gap; use more people")
    chosen = np.sort(ctx.rng.choice(ok, size=k, replace=False))
    end = np.round(np.nan_to_num(enr.progress[chosen], nan=50.0), 1)
    ts = last_ts[chosen] + ctx.rng.integers(HOUR, DAY, k)
    value = end - ctx.rng.uniform(20, 40, k)
    ctx.add("progress_inconsistent", entity_key_list("enrollment", enrollment_ids(chosen)))
    return Events.make(enr.person[chosen], enr.course[chosen], V_PROGRESSED, ts, value, enr=chosen)
