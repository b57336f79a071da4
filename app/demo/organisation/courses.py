"""The ``courses`` and ``enrollment_rules`` tables: the catalogue, its owners and its rules.

Built on the people (rules select by department and title); the catalogue, its owners and the rules
share one random stream, so they are built together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.demo.organisation.context import GenerationContext
from app.demo.organisation.csv_bytes import bool_text, positive_int_text
from app.demo.organisation.enrollments import SRC_HR, SRC_RULE
from app.demo.organisation.people import Organisation
from app.demo.organisation.timeline import NA
from app.demo.organisation.vocabulary import (
    ARCHIVED_COURSES,
    COMPANY_COMPLIANCE,
    DEPARTMENT_COMPLIANCE,
    ELECTIVE_LEVELS,
    ELECTIVE_TOPICS,
    LD_TITLE,
)


def build_courses(ctx: GenerationContext, org: Organisation) -> None:
    """Fill in ``org``'s courses, their owners and the enrolment rules."""
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


def courses_table(org: Organisation, owners: np.ndarray) -> pd.DataFrame:
    """The ``courses`` table, with each course's owner as left by the account-level gaps."""
    return pd.DataFrame(
        {
            "course_id": org.course_ids(),
            "title": org.c_title,
            "department": org.departments(org.c_dept),
            "owner_user_id": owners,
            "is_compliance": bool_text(org.c_compliance),
            "due_days": positive_int_text(org.c_due),
            "grading_sla_days": positive_int_text(org.c_sla),
            "status": np.where(org.c_active, "active", "archived").astype(object),
        }
    )


def enrollment_rules_table(org: Organisation) -> pd.DataFrame:
    """The ``enrollment_rules`` table."""
    return pd.DataFrame(
        {
            "rule_id": [f"RULE-{i + 1:03d}" for i in range(org.r_course.size)],
            "course_id": org.course_ids()[org.r_course],
            "department": org.departments(org.r_dept),
            "job_title": org.job_titles(org.r_title),
            "active": bool_text(org.r_active),
            "grace_days": positive_int_text(org.r_grace),
        }
    )
