"""The ``notifications`` table: messages, their delivery, and the notification gaps.

Enrolment, reminder, overdue, feedback and weekly digest messages on four channels;
notification_outage and notification_undelivered are injected here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.demo.organisation.context import GenerationContext
from app.demo.organisation.csv_bytes import (
    BOOL_WORDS,
    byte_table,
    encode_lookup,
    encode_row_ids,
    encode_timestamps,
    write_table,
)
from app.demo.organisation.enrollments import Enrollments
from app.demo.organisation.identifiers import user_id_of, window_day
from app.demo.organisation.people import Organisation
from app.demo.organisation.submissions import Submissions
from app.demo.organisation.timeline import DAY, HOUR, NA
from app.sources.contract import TABLES
from models.taxonomy import entity_key

# The contract's columns, in its order (the writer's cells follow it).
COLUMNS = tuple(c.name for c in TABLES["notifications"].columns)

CHANNELS = np.array(["email", "sms", "push", "in_app"], dtype=object)
CH_EMAIL, CH_SMS, CH_PUSH, CH_INAPP = 0, 1, 2, 3
CHANNEL_FAILURE = np.array([0.015, 0.02, 0.03, 0.002])
CHANNEL_LATENCY = np.array([20.0, 6.0, 2.0, 0.5])  # median seconds to delivery
CHANNEL_OPEN = np.array([0.45, 0.0, 0.3, 0.6])
KINDS = np.array(["enrollment", "reminder", "overdue", "feedback", "other"], dtype=object)
K_ENROLLMENT, K_REMINDER, K_OVERDUE, K_FEEDBACK, K_OTHER = range(5)


@dataclass
class Notifications:
    """Notification rows as parallel arrays (``NA``: no timestamp)."""

    person: np.ndarray
    course: np.ndarray
    kind: np.ndarray
    channel: np.ndarray
    sent: np.ndarray
    delivered: np.ndarray
    bounced: np.ndarray
    opened: np.ndarray

    @classmethod
    def concat(cls, parts: list[Notifications]) -> Notifications:
        """All notifications of ``parts``, in order."""
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__)
        )

    def take(self, keep: np.ndarray) -> Notifications:
        """The notifications selected by ``keep`` (a mask or indices)."""
        return Notifications(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


def notification_batch(
    ctx: GenerationContext,
    person: np.ndarray,
    course: np.ndarray | int,
    kind: int,
    sent: np.ndarray,
    channel_p: list[float],
) -> Notifications:
    """Undelivered messages of one kind, channels drawn with probabilities ``channel_p``."""
    size = sent.size
    return Notifications(
        person=np.asarray(person, dtype=np.int64),
        course=np.broadcast_to(np.asarray(course, dtype=np.int64), (size,)).copy(),
        kind=np.full(size, kind, dtype=np.int8),
        channel=ctx.rng.choice(4, size=size, p=channel_p).astype(np.int8),
        sent=np.asarray(sent, dtype=np.int64),
        delivered=np.full(size, NA, dtype=np.int64),
        bounced=np.zeros(size, dtype=bool),
        opened=np.full(size, NA, dtype=np.int64),
    )


def _deliver(
    ctx: GenerationContext, n: Notifications, rows: np.ndarray, fail_p: np.ndarray
) -> None:
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


def build_notifications(
    ctx: GenerationContext, org: Organisation, enr: Enrollments, subs: Submissions
) -> Notifications:
    """Every message of the window, delivered or not, with the notification gaps injected."""
    rng, t, w0 = ctx.rng, ctx.as_of, ctx.w0
    parts = []
    m = (enr.enrolled >= w0) & (enr.enrolled < t) & ~enr.no_notify
    parts.append(
        notification_batch(
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
            notification_batch(
                ctx, enr.person[m], enr.course[m], K_REMINDER, when[m], [0.6, 0.15, 0.25, 0]
            )
        )
    od = np.flatnonzero(enr.overdue)
    for week in range(0, 8):
        when = enr.due[od] + DAY + week * 7 * DAY
        m = (when < t) & (when >= w0)
        parts.append(
            notification_batch(
                ctx, enr.person[od[m]], enr.course[od[m]], K_OVERDUE, when[m], [0.7, 0.3, 0, 0]
            )
        )
    m = (subs.graded != NA) & (subs.graded + 60 < t)
    parts.append(
        notification_batch(
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
    dig = notification_batch(ctx, who[m], -1, K_OTHER, sent[m], [1, 0, 0, 0])
    dig.channel = np.tile(digest_channel, weeks)[m].astype(np.int8)
    parts.append(dig)
    n = Notifications.concat(parts)
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
        keys.append(entity_key({"channel": CHANNELS[ch], "date": window_day(ctx, d)}))
    ctx.add("notification_outage", keys)

    # Choose the unreachable learners first, then make sure nobody else looks unreachable.
    cand = np.flatnonzero((org.p_status == 0) & ~org.reserved & (org.u_status == 0))
    victims = np.sort(rng.choice(cand, size=ctx.n(18), replace=False))
    org.reserved[victims] = True
    _repair_background(ctx, n, victims)
    return _inject_unreachable(ctx, org, n, victims)


def _repair_background(ctx: GenerationContext, n: Notifications, victims: np.ndarray) -> None:
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


def _inject_unreachable(
    ctx: GenerationContext, org: Organisation, n: Notifications, victims: np.ndarray
) -> Notifications:
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
        add = notification_batch(ctx, who, -1, K_OTHER, sent, [1, 0, 0, 0])
        add.channel[:] = channel
        add.bounced[:] = bounce
        extra.append(add)
    ctx.add("notification_undelivered", [f"user={user_id_of(u)}" for u in org.u_number[victims]])
    out = Notifications.concat([n, *extra])
    return out.take(np.lexsort((out.kind, out.person, out.sent)))


def write_notifications(
    path: Path, notes: Notifications, user_ids: np.ndarray, course_ids: np.ndarray
) -> int:
    """Write the ``notifications`` table; returns its row count."""
    users, courses = byte_table(user_ids), byte_table(np.append(course_ids, ""))
    kinds, channels, flags = byte_table(KINDS), byte_table(CHANNELS), byte_table(BOOL_WORDS)

    def cells(rows: slice) -> list[np.ndarray]:
        return [
            encode_row_ids("N", rows, 9),
            encode_lookup(users, notes.person[rows]),
            encode_lookup(courses, notes.course[rows]),
            encode_lookup(kinds, notes.kind[rows]),
            encode_lookup(channels, notes.channel[rows]),
            encode_timestamps(notes.sent[rows]),
            encode_timestamps(notes.delivered[rows]),
            encode_lookup(flags, notes.bounced[rows].astype(np.int64)),
            encode_timestamps(notes.opened[rows]),
        ]

    return write_table(path, COLUMNS, int(notes.sent.size), cells)
