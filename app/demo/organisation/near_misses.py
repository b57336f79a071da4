"""Near misses: what a rule flags and a person who knows the context dismisses."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.core.errors import UserError
from app.demo.organisation.context import GenerationContext
from app.demo.organisation.enrollment_gaps import make_overdue
from app.demo.organisation.enrollments import Enrollments
from app.demo.organisation.identifiers import (
    course_id_of,
    enrollment_ids,
    entity_key_list,
    text_ids,
    user_id_of,
)
from app.demo.organisation.notifications import CH_EMAIL, Notifications
from app.demo.organisation.people import Organisation
from app.demo.organisation.timeline import DAY, NA
from models.taxonomy import entity_key

NEAR_MISS_FILE = "near_misses.csv"

# Near misses draw from their own random stream, so an organisation without them is
# byte-identical to one generated before they existed.
NEAR_MISS_STREAM = 0x4E4D


@dataclass
class NearMisses:
    """Look-alikes of real gaps that the organisation knows to be fine, and why."""

    rng: np.random.Generator
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, category: str, keys: list[str], reason: str, why: str) -> None:
        """Record near misses of ``category`` with the reason a reviewer would give."""
        self.rows.extend((category, key, reason, why) for key in keys)


def _one_group(nm: NearMisses, groups: np.ndarray, k: int) -> int:
    """A group (course or department) picked at random among those with at least ``k`` members
    (the largest group when none has that many)."""
    values, counts = np.unique(groups, return_counts=True)
    if not values.size:
        raise UserError("the organisation is too small for near misses; use more people")
    big = values[counts >= k]
    if big.size:
        return int(nm.rng.choice(big))
    return int(values[np.argmax(counts)])


def near_miss_grandfathered(
    ctx: GenerationContext, org: Organisation, enr: Enrollments, nm: NearMisses
) -> None:
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
        [
            entity_key({"person": p, "course": course_id_of(course)})
            for p in text_ids("P", persons, 6)
        ],
        "expected",
        f"staff hired before the rule for {org.c_title[course]} started are exempt",
    )
    enr.take(~(np.isin(enr.person, persons) & (enr.course == course)))


def near_miss_extension(
    ctx: GenerationContext, org: Organisation, enr: Enrollments, taken: np.ndarray, nm: NearMisses
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
    make_overdue(ctx, org, enr, over, nm.rng)
    nm.add(
        "compliance_overdue",
        entity_key_list("enrollment", enrollment_ids(over)),
        "expected",
        f"HR extended the deadline of {org.c_title[course]} by e-mail; the LMS keeps the old one",
    )


def near_miss_mailboxless(
    ctx: GenerationContext, org: Organisation, n: Notifications, nm: NearMisses
) -> None:
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
        [f"user={user_id_of(u)}" for u in org.u_number[persons]],
        "expected",
        f"{org.dept_names[dept]} staff have no company mailbox; they are reached by SMS",
    )
