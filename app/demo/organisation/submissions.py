"""The ``submissions`` table: assignments handed in, their grading, and feedback_delayed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.demo.organisation.context import GenerationContext, choose
from app.demo.organisation.csv_bytes import number_text, timestamp_text
from app.demo.organisation.events import V_SUBMITTED, Events
from app.demo.organisation.identifiers import course_id_of, text_ids
from app.demo.organisation.people import Organisation
from app.demo.organisation.timeline import DAY, NA
from models.taxonomy import entity_key


@dataclass
class Submissions:
    """Submission rows as parallel arrays (``graded`` NA: not graded yet)."""

    person: np.ndarray
    course: np.ndarray
    assignment: np.ndarray
    submitted: np.ndarray
    graded: np.ndarray
    score: np.ndarray


def build_submissions(ctx: GenerationContext, org: Organisation, ev: Events) -> Submissions:
    """One submission per ``submitted`` event, graded within the SLA, and feedback_delayed."""
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
    stale_c = choose(ctx, stale_pool, n_stale, "courses with old submissions")
    # A slow course needs work submitted in the last 30 days that is graded (late) before as_of,
    # so that "median grading time in the last 30 days" holds whichever timestamp picks the month.
    gradable = (sub >= t - 30 * DAY) & (sub < t - (sla + 9) * DAY)
    gradable_per_course = np.bincount(course[gradable], minlength=org.c_kind.size)
    slow_pool = np.flatnonzero((gradable_per_course >= 2) & org.c_active)
    slow_c = choose(ctx, np.setdiff1d(slow_pool, stale_c), n_slow, "courses with submissions")
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
        [entity_key({"course": course_id_of(c)}) for c in np.concatenate([stale_c, slow_c])],
    )
    return Submissions(person, course, assignment, sub, graded, score)


def submissions_table(
    subs: Submissions, user_ids: np.ndarray, course_ids: np.ndarray
) -> pd.DataFrame:
    """The ``submissions`` table (``user_ids``/``course_ids``: text ids by person and course)."""
    return pd.DataFrame(
        {
            "submission_id": text_ids("S", np.arange(1, subs.submitted.size + 1), 8),
            "user_id": user_ids[subs.person],
            "course_id": course_ids[subs.course],
            "assignment_id": np.strings.add(
                course_ids[subs.course].astype(np.str_),
                np.strings.add("-A", subs.assignment.astype(np.str_)),
            ).astype(object),
            "submitted_at": timestamp_text(subs.submitted),
            "graded_at": timestamp_text(subs.graded),
            "score": number_text(subs.score),
        }
    )
