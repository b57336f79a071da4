"""The ``people`` table: departments, titles, tenure, leavers, managers, names and addresses.

Each person's own LMS account (number, status, address, creation) is drawn here too; the
``lms_users`` table adds the accounts nobody linked to a person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.demo.organisation.context import GenerationContext
from app.demo.organisation.csv_bytes import date_text
from app.demo.organisation.identifiers import text_ids
from app.demo.organisation.person_names import FIRST_NAMES, LAST_NAMES
from app.demo.organisation.timeline import DAY, HOUR, NA
from app.demo.organisation.vocabulary import DEPARTMENTS, EMAIL_DOMAIN


@dataclass
class Organisation:
    """People (``p_``), their base LMS accounts (``u_``), courses (``c_``) and rules (``r_``)."""

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
    # 0 company compliance, 1 dept compliance, 2 manager, 3 onboarding, 4 elective, 5 archived
    c_kind: np.ndarray
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

    def departments(self, codes: np.ndarray) -> np.ndarray:
        """Department names of ``codes`` (-1: none, written empty)."""
        return np.array([*self.dept_names, ""], dtype=object)[codes]

    def job_titles(self, codes: np.ndarray) -> np.ndarray:
        """Job titles of ``codes`` (-1: none, written empty)."""
        return np.array([*self.title_names, ""], dtype=object)[codes]

    def user_ids(self) -> np.ndarray:
        """Each person's base account id (``U0123456``)."""
        return text_ids("U", self.u_number, 7)

    def course_ids(self) -> np.ndarray:
        """Each course's id (``C00042``)."""
        return text_ids("C", np.arange(1, self.c_kind.size + 1), 5)


def build_people(ctx: GenerationContext) -> Organisation:
    """The people and their base accounts; the course and rule fields stay empty."""
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

    org = Organisation(
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
    return org


def add_executive_office(org: Organisation) -> None:
    """Person 0 heads the company (department heads report to them).

    Called once the courses and rules exist, so that none exists for the one-person office.
    """
    org.dept_names.append("Executive")
    org.title_names.append("Chief Executive Officer")
    org.p_dept[0] = len(org.dept_names) - 1
    org.p_title[0] = len(org.title_names) - 1


def people_table(org: Organisation) -> pd.DataFrame:
    """The ``people`` table as written (after the injections changed addresses)."""
    person_ids = text_ids("P", np.arange(org.p_dept.size), 6)
    return pd.DataFrame(
        {
            "person_id": person_ids,
            "email": org.p_email,
            "full_name": org.p_first + " " + org.p_last,
            "department": org.departments(org.p_dept),
            "job_title": org.job_titles(org.p_title),
            "manager_person_id": np.where(
                org.p_manager >= 0, person_ids[np.maximum(org.p_manager, 0)], ""
            ),
            "employment_status": np.array(["active", "leave", "terminated"], dtype=object)[
                org.p_status
            ],
            "hire_date": date_text(org.p_hire),
            "termination_date": date_text(org.p_term),
        }
    )
