"""The ``lms_users`` table: the accounts, their last logins and the account-level gaps.

orphan_account, record_mismatch and duplicate_account are injected here, and so is unowned_course
(it reuses the leavers chosen for orphan accounts), so this module also decides each course's owner.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.demo.organisation.context import GenerationContext, choose
from app.demo.organisation.csv_bytes import timestamp_text
from app.demo.organisation.events import V_LOGIN, Events
from app.demo.organisation.identifiers import course_id_of, text_ids, user_id_of
from app.demo.organisation.people import Organisation
from app.demo.organisation.person_names import LAST_NAMES
from app.demo.organisation.timeline import DAY, HOUR, NA
from app.demo.organisation.vocabulary import EMAIL_DOMAIN


def build_lms_users(
    ctx: GenerationContext, org: Organisation, ev: Events
) -> tuple[pd.DataFrame, np.ndarray]:
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
    person_ids = text_ids("P", np.arange(n), 6)
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
    orphans += [user_id_of(u) for u in num]
    # Links to person ids HR does not know (deleted from the roster or mistyped).
    k = ctx.n(5)
    num = 910_000 + np.arange(k)
    extra(
        num,
        text_ids("P", 900_000 + rng.choice(99_999, k, replace=False), 6),
        np.array([f"former.staff{i + 1}@{EMAIL_DOMAIN}" for i in range(k)], dtype=object),
        t - rng.integers(60 * DAY, 900 * DAY, k),
    )
    orphans += [user_id_of(u) for u in num]
    # Leavers whose account was never closed.
    leavers = np.flatnonzero((org.p_status == 2) & ~org.reserved)
    chosen = choose(ctx, leavers, ctx.n(8) + ctx.n(4) + ctx.n(3), "leavers")
    still_open = chosen[: ctx.n(8)]
    status[still_open] = 0
    orphans += [user_id_of(u) for u in org.u_number[still_open]]
    org.reserved[chosen] = True

    # Course ownership gaps: no owner, an unknown owner, a closed account, a departed owner.
    owner = np.where(
        org.c_owner >= 0, text_ids("U", org.u_number[np.maximum(org.c_owner, 0)], 7), ""
    )
    owner = owner.astype(object)
    active = np.flatnonzero(org.c_active)
    ka, kb, kc, kd = ctx.n(4), ctx.n(3), ctx.n(4), ctx.n(3)
    unowned = np.sort(rng.choice(active, size=ka + kb + kc + kd, replace=False))
    unowned = rng.permutation(unowned)
    owner[unowned[:ka]] = ""
    owner[unowned[ka : ka + kb]] = text_ids("U", 990_000 + np.arange(kb), 7)
    closed = chosen[ctx.n(8) : ctx.n(8) + kc]
    owner[unowned[ka + kb : ka + kb + kc]] = text_ids("U", org.u_number[closed], 7)
    departed = chosen[ctx.n(8) + kc : ctx.n(8) + kc + kd]
    status[departed] = 0  # the departed owner's account is still active: an orphan as well
    owner[unowned[ka + kb + kc :]] = text_ids("U", org.u_number[departed], 7)
    orphans += [user_id_of(u) for u in org.u_number[departed]]
    ctx.add("unowned_course", [f"course={course_id_of(c)}" for c in unowned])
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
    ctx.add("record_mismatch", [f"user={user_id_of(u)}" for u in org.u_number[changed]])

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
            "user_id": text_ids("U", numbers, 7),
            "person_id": np.concatenate(rows_person),
            "email": np.concatenate(rows_email),
            "status": np.array(["active", "suspended", "deleted"], dtype=object)[status_all],
            "created_at": timestamp_text(created),
            "last_login_at": timestamp_text(last_all),
        }
    )
    return users.sort_values("user_id", kind="stable").reset_index(drop=True), owner
