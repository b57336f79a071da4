"""The review state machine as data: statuses, actions, which statuses are open, waiting or
closed, which actions may be undone, and which actions each status allows.

States: new → in_review → confirmed → resolved; new or in_review → dismissed; any open state →
snoozed until a date (it wakes by itself); dismissed or resolved → reopened (back to new);
in_review → new when a claim is released (by its holder, or by the system once idle).
Audit verdicts (audit_confirm, audit_dismiss) lead to confirmed or dismissed from any status.
Pages, services, trends and the learning code ask this module; none of them re-lists it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    """Where a finding stands in review."""

    new = "new"
    in_review = "in_review"
    confirmed = "confirmed"
    dismissed = "dismissed"
    resolved = "resolved"
    snoozed = "snoozed"


class Action(StrEnum):
    """Everything that happens to a finding and is written to the feedback log."""

    # by the system or an instructor
    propose = "propose"  # a detection run proposed it (first seen)
    regression = "regression"  # a resolved finding came back in a detection run
    report = "report"  # an instructor filed (or added to) a learner report
    wake = "wake"  # a snooze ran out
    # by an admin
    claim = "claim"
    release = "release"  # a claim handed back (by its holder, or by the system when idle)
    assign = "assign"
    confirm = "confirm"
    dismiss = "dismiss"
    resolve = "resolve"
    snooze = "snooze"
    reopen = "reopen"
    undo = "undo"
    # by an auditor (a second reviewer) on an audit item: the gap is real / is not
    audit_confirm = "audit_confirm"
    audit_dismiss = "audit_dismiss"
    # by an admin, on the work item a dismissal was routed to (the finding's status stays)
    work_assign = "work_assign"  # a work item given to an owner (or taken)
    work_apply = "work_apply"  # its fix applied (a threshold, an exception)
    work_reject = "work_reject"  # its fix turned down
    work_close = "work_close"  # a data-quality ticket closed (fixed at the source)
    merge = "merge"  # a duplicate merged into the finding it duplicates


# Waiting for a first decision: the findings whose priority orders the queue.
WAITING_STATUSES: tuple[Status, ...] = (Status.new, Status.in_review)
# The gap is not closed: waiting, or confirmed and not yet resolved. The queue shows these first.
OPEN_STATUSES: tuple[Status, ...] = (*WAITING_STATUSES, Status.confirmed)
# Not decided yet, whether waiting or set aside: a reporter's open reports.
UNDECIDED_STATUSES: tuple[Status, ...] = (*WAITING_STATUSES, Status.snoozed)
# Decided for good (until reopened or a regression).
CLOSED_STATUSES: tuple[Status, ...] = (Status.dismissed, Status.resolved)
# A reviewer's verdict on whether the gap is real (what the models learn from).
VERDICT_STATUSES: tuple[Status, ...] = (Status.confirmed, Status.dismissed)
# Not closed: what the Trends backlog and compliance exposure count as a programme's open gaps.
# Snoozed gaps are among them (set aside in the queue, still gaps), unlike OPEN_STATUSES.
UNCLOSED_STATUSES: tuple[Status, ...] = tuple(s for s in Status if s not in CLOSED_STATUSES)
# A reviewer has decided it (suppressions offered from these carry the decision's weight).
REVIEWED_STATUSES: tuple[Status, ...] = (Status.confirmed, *CLOSED_STATUSES)
# Confirmed gaps, resolved or not: "real" for precision figures.
REAL_STATUSES: tuple[Status, ...] = (Status.confirmed, Status.resolved)

# action → (statuses it may start from, the status it leads to; None = computed by the service)
TRANSITIONS: dict[Action, tuple[tuple[Status, ...], Status | None]] = {
    Action.claim: (WAITING_STATUSES, Status.in_review),
    Action.release: ((Status.in_review,), Status.new),
    Action.assign: (OPEN_STATUSES, None),
    Action.confirm: (WAITING_STATUSES, Status.confirmed),
    Action.dismiss: (WAITING_STATUSES, Status.dismissed),
    Action.resolve: ((Status.confirmed,), Status.resolved),
    Action.snooze: (OPEN_STATUSES, Status.snoozed),
    Action.reopen: (CLOSED_STATUSES, Status.new),
}
# What a person decides through the queue (and may take back with undo).
DECISIONS: tuple[Action, ...] = tuple(TRANSITIONS)
UNDOABLE_ACTIONS: frozenset[Action] = frozenset(DECISIONS)
# What "undo my last decision" (the U key) looks for: a verdict or a move a person made, not the
# claims that opening the next finding makes and releases by itself.
UNDO_LAST_ACTIONS: frozenset[Action] = UNDOABLE_ACTIONS - {Action.claim, Action.release}
# An auditor's verdicts on audit items (review_queue/audits.py): logged like any decision, but
# not queue moves (an audit item has its own lane), so not among DECISIONS nor undoable.
AUDIT_ACTIONS: tuple[Action, ...] = (Action.audit_confirm, Action.audit_dismiss)
# The status an audit verdict leaves the finding in: a real gap is confirmed (a wrong dismissal
# or a missed gap goes back to work), a gap that is not stays or becomes dismissed.
AUDIT_OUTCOMES: dict[Action, Status] = {
    Action.audit_confirm: Status.confirmed,
    Action.audit_dismiss: Status.dismissed,
}
# Decisions that are labels for learning: confirmed (a real gap) or dismissed (not one).
LABEL_ACTIONS: tuple[Action, ...] = (Action.confirm, Action.dismiss, *AUDIT_ACTIONS)
# The labels that say "a real gap".
CONFIRMING_ACTIONS: frozenset[Action] = frozenset({Action.confirm, Action.audit_confirm})
# Decisions after which the reviewer is done with the finding and the next one opens.
FINISHING_ACTIONS: frozenset[Action] = frozenset(
    {Action.confirm, Action.dismiss, Action.snooze, Action.resolve}
)
# Decisions that can be applied to many findings at once from the queue.
BULK_ACTIONS: tuple[Action, ...] = (Action.confirm, Action.dismiss, Action.assign, Action.snooze)

# What admins do with the work a dismissal was routed to (review_queue.work_items): logged on the
# dismissed finding without changing its status, so they are neither decisions nor transitions.
WORK_ACTIONS: tuple[Action, ...] = (
    Action.work_assign,
    Action.work_apply,
    Action.work_reject,
    Action.work_close,
    Action.merge,
)

# Past tenses, for messages ("already snoozed by ada"), and labels for people.
PAST_TENSE: dict[Action, str] = {
    Action.propose: "proposed",
    Action.regression: "reopened as a regression",
    Action.report: "reported",
    Action.wake: "woken",
    Action.claim: "claimed",
    Action.release: "released",
    Action.assign: "assigned",
    Action.confirm: "confirmed",
    Action.dismiss: "dismissed",
    Action.resolve: "resolved",
    Action.snooze: "snoozed",
    Action.reopen: "reopened",
    Action.undo: "undone",
    Action.audit_confirm: "confirmed in an audit",
    Action.audit_dismiss: "cleared in an audit",
    Action.work_assign: "given an owner for its fix",
    Action.work_apply: "given its fix",
    Action.work_reject: "refused its fix",
    Action.work_close: "closed as a data-quality ticket",
    Action.merge: "merged",
}


def allowed_actions(status: Status | str) -> tuple[Action, ...]:
    """The decisions a finding in ``status`` allows, in the queue's order."""
    current = Status(status)
    return tuple(a for a, (sources, _) in TRANSITIONS.items() if current in sources)


def allows(status: Status | str, action: Action | str) -> bool:
    """Whether ``action`` may start from ``status``."""
    return Action(action) in allowed_actions(status)


def past_tense(action: Action | str) -> str:
    """``action`` as done ("snoozed"), for messages; an unknown action name as it is."""
    try:
        return PAST_TENSE[Action(action)]
    except ValueError:
        return str(action)


def values(members: Iterable[StrEnum]) -> tuple[str, ...]:
    """The stored strings of statuses or actions (for SQL ``IN`` lists)."""
    return tuple(m.value for m in members)
