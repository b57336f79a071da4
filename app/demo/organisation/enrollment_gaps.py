"""The gaps injected into the enrolments.

enrollment_missing, enrollment_failed, compliance_overdue and progress_inconsistent (all but the
falling progress value, which needs the activity: :mod:`app.demo.organisation.activity_gaps`).
"""

from __future__ import annotations

import numpy as np

from app.core.errors import UserError
from app.demo.organisation.context import GenerationContext
from app.demo.organisation.enrollments import (
    SRC_HR,
    SRC_RULE,
    ST_COMPLETED,
    ST_ENROLLED,
    ST_FAILED,
    ST_PROGRESS,
    ST_WITHDRAWN,
    Enrollments,
)
from app.demo.organisation.identifiers import enrollment_ids, entity_key_list, text_ids
from app.demo.organisation.people import Organisation
from app.demo.organisation.timeline import DAY, HOUR, NA
from models.taxonomy import entity_key


def pick_enrollments(
    ctx: GenerationContext, candidates: np.ndarray, k: int, taken: np.ndarray
) -> np.ndarray:
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


def remove_missing_enrollments(ctx: GenerationContext, org: Organisation, enr: Enrollments) -> None:
    """enrollment_missing: drop a rule enrolment of a long-standing active person."""
    taken = np.zeros(enr.size, dtype=bool)
    active_p = (org.p_status[enr.person] == 0) & ~org.reserved[enr.person]
    # One enrolment per person at most, so each key names a different person.
    first_of_person = np.zeros(enr.size, dtype=bool)
    cand = np.flatnonzero(enr.by_rule & active_p & (org.p_hire[enr.person] < ctx.t_day - 30))
    perm = ctx.rng.permutation(cand)
    _, firsts = np.unique(enr.person[perm], return_index=True)
    first_of_person[perm[firsts]] = True
    miss = pick_enrollments(ctx, first_of_person, ctx.n(20), taken)
    org.reserved[enr.person[miss]] = True  # keep person/user-level injections away from them
    persons = text_ids("P", enr.person[miss], 6)
    courses = text_ids("C", enr.course[miss] + 1, 5)
    ctx.add(
        "enrollment_missing",
        [entity_key({"person": p, "course": c}) for p, c in zip(persons, courses, strict=True)],
    )
    enr.take(~taken)


def inject_enrollment_gaps(
    ctx: GenerationContext, org: Organisation, enr: Enrollments
) -> tuple[np.ndarray, np.ndarray]:
    """Enrolment-level gaps; returns the backslide candidates and the enrolments already used."""
    rng, t = ctx.rng, ctx.as_of
    enr_ids = enrollment_ids(np.arange(enr.size))
    taken = np.zeros(enr.size, dtype=bool)
    active_p = (org.p_status[enr.person] == 0) & ~org.reserved[enr.person]
    comp = org.c_compliance[enr.course]

    def in_window(x: np.ndarray) -> np.ndarray:
        return (x >= ctx.w0 + 5 * DAY) & (x < t - 5 * DAY)

    # enrollment_failed: the LMS said no, or the enrolment never took effect.
    rule_src = np.isin(enr.source, [SRC_RULE, SRC_HR]) & active_p
    failed = pick_enrollments(ctx, rule_src & ~comp, ctx.n(8), taken)
    enr.status[failed] = ST_FAILED
    enr.enrolled[failed] = t - rng.integers(1 * DAY, 60 * DAY, failed.size)
    dead = pick_enrollments(
        ctx, rule_src & ((~comp) | (org.c_due[enr.course] >= 90)), ctx.n(8), taken
    )
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
    over = pick_enrollments(ctx, comp & (org.p_status[enr.person] < 2), ctx.n(20), taken)
    make_overdue(ctx, org, enr, over, rng)
    ctx.add("compliance_overdue", entity_key_list("enrollment", enr_ids[over]))

    # progress_inconsistent: seven ways progress tracking contradicts itself.
    k = ctx.n(3)
    done_in_window = (enr.status == ST_COMPLETED) & in_window(enr.completed) & active_p
    low = pick_enrollments(ctx, done_in_window, k, taken)
    enr.progress[low] = np.round(rng.uniform(60, 95, k), 1)
    no_at = pick_enrollments(ctx, done_in_window, k, taken)
    enr.completed[no_at] = NA
    before = pick_enrollments(ctx, done_in_window & (enr.completed < t - 10 * DAY), k, taken)
    enr.enrolled[before] = enr.completed[before] + rng.integers(DAY, 8 * DAY, k)
    silent = pick_enrollments(ctx, done_in_window, k, taken)
    enr.act_hi[silent] = NA
    enr.finish[silent] = NA
    gone = pick_enrollments(ctx, (enr.status == ST_WITHDRAWN) & active_p, k, taken)
    enr.withdrawn[gone] = NA
    stray = pick_enrollments(ctx, (enr.status == ST_PROGRESS) & active_p & ~comp, k, taken)
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


def make_overdue(
    ctx: GenerationContext,
    org: Organisation,
    enr: Enrollments,
    over: np.ndarray,
    rng: np.random.Generator,
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
