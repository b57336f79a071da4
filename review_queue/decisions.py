"""Decisions on findings: the review state machine, race-safe and idempotent, with undo.

The states and which action each allows are in ``review_queue.states``.
Every change writes exactly one feedback-log row, in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from review_queue.feedback_log import append_event
from review_queue.findings import (
    FindingNotFound,
    StaleFinding,
    get_finding,
    lock_findings,
    update_finding,
)
from review_queue.permissions import ADMIN_ONLY, SYSTEM, Actor, require_role
from review_queue.queue_counts import fold_if_due
from review_queue.routing import route_dismissal, withdraw_work
from review_queue.states import (
    TRANSITIONS,
    UNDO_LAST_ACTIONS,
    UNDOABLE_ACTIONS,
    Action,
    Status,
    past_tense,
    values,
)
from review_queue.tables import FeedbackEvent, Finding, ModelVersion, User
from review_queue.types import utcnow

UNDO_WINDOW = timedelta(minutes=10)
# A second identical click by the same person within this window is the same decision.
REPEAT_WINDOW = timedelta(minutes=2)
MAX_SNOOZE = timedelta(days=180)


class DismissReason(StrEnum):
    """Why a finding was dismissed; it is what teaches the rules and models later."""

    false_positive_rule = "false_positive_rule"
    data_error = "data_error"
    expected = "expected"
    duplicate = "duplicate"
    other = "other"


DISMISS_REASON_HELP = {
    DismissReason.false_positive_rule: "the detector is wrong",
    DismissReason.data_error: "the source data is wrong, not the process",
    DismissReason.expected: "real but acceptable",
    DismissReason.duplicate: "the same gap as another finding",
    DismissReason.other: "something else (say what in the comment)",
}


class DecisionRefused(ValueError):
    """The decision cannot be made; the message says why in words a reviewer understands."""


class AlreadyDecided(DecisionRefused):
    """Someone else changed the finding first."""


@dataclass(frozen=True)
class Decision:
    """The finding after a decision and the log row that records it."""

    finding: Finding
    event: FeedbackEvent
    repeated: bool = False  # True when this was a double-click of a decision already made


def current_model_version(*, session: Session) -> str | None:
    """The promoted priority model's version, recorded with each decision."""
    row = session.exec(
        select(ModelVersion)
        .where(col(ModelVersion.kind) == "priority", col(ModelVersion.status) == "promoted")
        .order_by(col(ModelVersion.promoted_at).desc())
    ).first()
    return row.version if row else None


def last_event(*, session: Session, finding_id: int) -> FeedbackEvent | None:
    """The newest log row about a finding."""
    return session.exec(
        select(FeedbackEvent)
        .where(col(FeedbackEvent.finding_id) == finding_id)
        .order_by(col(FeedbackEvent.id).desc())
    ).first()


def _fmt(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _repeat_of(
    session: Session, finding_id: int, actor: Actor, action: Action, now: datetime
) -> FeedbackEvent | None:
    last = last_event(session=session, finding_id=finding_id)
    if (
        last is not None
        and last.actor_id == actor.id
        and last.actor == actor.name
        and last.action == action.value
        and now - last.at <= REPEAT_WINDOW
    ):
        return last
    return None


def _refusal(session: Session, finding: Finding, action: Action) -> DecisionRefused:
    last = last_event(session=session, finding_id=finding.id or 0)
    allowed = " or ".join(s.value for s in TRANSITIONS[action][0])
    if last is not None:
        done = past_tense(last.action)
        return AlreadyDecided(
            f"finding #{finding.id} was already {done} by {last.actor} at "
            f"{_fmt(last.at)} (now {finding.status}); {action.value} needs {allowed}"
        )
    return DecisionRefused(
        f"finding #{finding.id} is {finding.status}; {action.value} needs {allowed}"
    )


def _validate(
    session: Session,
    finding: Finding,
    action: Action,
    *,
    reason: str | None,
    comment: str | None,
    assignee_id: int | None,
    until: datetime | None,
    duplicate_of_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    """Check the decision's own inputs; return the extra column changes it implies."""
    changes: dict[str, Any] = {}
    if comment is not None and "\x00" in comment:  # PostgreSQL cannot store it
        raise DecisionRefused("the comment holds a NUL character; remove it")
    if action is Action.dismiss:
        if not reason:
            raise DecisionRefused("a dismissal needs a reason: " + ", ".join(DismissReason))
        try:
            why = DismissReason(reason)
        except ValueError:
            raise DecisionRefused(
                f"{reason!r} is not a dismissal reason; use one of {', '.join(DismissReason)}"
            ) from None
        if why is DismissReason.other and not (comment or "").strip():
            raise DecisionRefused("a dismissal for reason 'other' needs a comment saying why")
        if why is DismissReason.duplicate:
            if duplicate_of_id is None:
                raise DecisionRefused("a duplicate must name the finding it duplicates")
            if duplicate_of_id == finding.id:
                raise DecisionRefused("a finding cannot duplicate itself")
            if session.get(Finding, duplicate_of_id) is None:
                raise DecisionRefused(f"finding #{duplicate_of_id} (the original) does not exist")
            changes["duplicate_of_id"] = duplicate_of_id
        changes["dismissed_score"] = finding.score
    elif reason is not None:
        raise DecisionRefused("only a dismissal takes a reason")
    if action is Action.snooze:
        if until is None:
            raise DecisionRefused("a snooze needs a date to wake up on")
        if until.tzinfo is None:
            raise DecisionRefused("the snooze date needs a time zone")
        if until <= now:
            raise DecisionRefused(f"the snooze date {_fmt(until)} is not in the future")
        if until - now > MAX_SNOOZE:
            raise DecisionRefused("a snooze lasts at most 180 days")
        changes["snoozed_until"] = until
        changes["status_before_snooze"] = finding.status
    if action is Action.claim:
        changes["assignee_id"] = None  # set below to the actor
    if action is Action.release:
        changes["assignee_id"] = None
    if action is Action.assign:
        if assignee_id is None:
            raise DecisionRefused("say whom to assign the finding to")
        person = session.get(User, assignee_id)
        if person is None or not person.active:
            raise DecisionRefused(f"user #{assignee_id} does not exist or is disabled")
        if person.role != "admin":
            raise DecisionRefused(f"{person.name} is {person.role}; only admins review findings")
        changes["assignee_id"] = assignee_id
    if action is Action.reopen:
        changes.update(assignee_id=None, dismissed_score=None, duplicate_of_id=None)
    return changes


def decide(
    *,
    session: Session,
    actor: Actor,
    finding_id: int,
    action: Action | str,
    expected_row_version: int | None = None,
    reason: str | None = None,
    comment: str | None = None,
    assignee_id: int | None = None,
    until: datetime | None = None,
    duplicate_of_id: int | None = None,
    now: datetime | None = None,
) -> Decision:
    """Make one decision on one finding (admins only) and log it.

    ``expected_row_version`` is the version the person saw: if someone else changed the finding
    since, the decision is refused with who did what and when. The same person repeating the
    same decision (a double-click) gets the first decision back and nothing new is written.
    """
    require_role(actor, ADMIN_ONLY, "deciding on findings")
    act = Action(action)
    if act not in TRANSITIONS:
        raise DecisionRefused(f"{act.value} is not a decision")
    now = now or utcnow()
    comment = comment.strip() if comment else None
    finding = get_finding(session=session, finding_id=finding_id)
    assert finding.id is not None
    if expected_row_version is not None and expected_row_version != finding.row_version:
        repeat = _repeat_of(session, finding.id, actor, act, now)
        if repeat is not None:
            return Decision(finding, repeat, repeated=True)
        raise _refusal(session, finding, act)
    allowed_from, to_status = TRANSITIONS[act]
    if Status(finding.status) not in allowed_from:
        repeat = _repeat_of(session, finding.id, actor, act, now)
        if repeat is not None:
            return Decision(finding, repeat, repeated=True)
        raise _refusal(session, finding, act)
    changes = _validate(
        session, finding, act, reason=reason, comment=comment, assignee_id=assignee_id,
        until=until, duplicate_of_id=duplicate_of_id, now=now,
    )  # fmt: skip
    if act is Action.claim:
        changes["assignee_id"] = actor.id
    if act is Action.release and actor.id is not None and finding.assignee_id != actor.id:
        # Only the holder hands a claim back; the system releases idle ones (claims.py).
        raise DecisionRefused(f"finding #{finding.id} is not yours to release")
    if to_status is None:  # assign keeps a confirmed finding confirmed
        to_status = Status.confirmed if finding.status == Status.confirmed else Status.in_review
    from_status = finding.status
    priority = finding.priority
    try:
        updated = update_finding(
            session=session,
            finding_id=finding.id,
            expected_row_version=finding.row_version,
            changes={**changes, "status": to_status.value},
        )
    except StaleFinding:
        # Lost a race between our read and our write: report the winner.
        session.expire_all()
        raise _refusal(session, get_finding(session=session, finding_id=finding.id), act) from None
    event = append_event(
        session=session,
        finding_id=finding.id,
        actor=actor,
        action=act.value,
        from_status=from_status,
        to_status=to_status.value,
        reason=reason,
        comment=comment,
        model_version=current_model_version(session=session),
        priority_at_decision=priority,
        at=now,
    )
    # Each dismissal reason leads to its fix (a work list); a reopening withdraws it.
    if act is Action.dismiss:
        route_dismissal(session=session, finding=updated, event=event)
    elif act is Action.reopen:
        withdraw_work(session=session, finding_id=finding.id)
    fold_if_due(session)
    return Decision(updated, event)


def _changed_after(finding_id: int, latest: FeedbackEvent | None) -> AlreadyDecided:
    who = f"{latest.actor} ({latest.action} at {_fmt(latest.at)})" if latest else "someone"
    return AlreadyDecided(f"finding #{finding_id} changed after it, by {who}")


def undo(*, session: Session, actor: Actor, event_id: int, now: datetime | None = None) -> Decision:
    """Undo one's own decision within 10 minutes: a new 'undo' row; nothing is deleted."""
    require_role(actor, ADMIN_ONLY, "undoing decisions")
    now = now or utcnow()
    event = session.get(FeedbackEvent, event_id)
    if event is None:
        raise DecisionRefused(f"no decision #{event_id}")
    # Messages name the finding, which is what the reviewer sees, not the log row.
    what = f"{event.action} of finding #{event.finding_id}"
    if event.actor_id != actor.id or event.actor != actor.name:
        raise DecisionRefused(f"only {event.actor}, who made the {what}, can undo it")
    if event.action not in UNDOABLE_ACTIONS:
        raise DecisionRefused(f"the {what} cannot be undone")
    if now - event.at > UNDO_WINDOW:
        raise DecisionRefused(
            f"the {what} was made at {_fmt(event.at)}; undo is possible for 10 minutes"
        )
    latest = last_event(session=session, finding_id=event.finding_id)
    if latest is None or latest.id != event.id:
        raise _changed_after(event.finding_id, latest)
    finding = get_finding(session=session, finding_id=event.finding_id)
    assert finding.id is not None and event.from_status is not None
    status_now, priority_now = finding.status, finding.priority
    changes: dict[str, Any] = {"status": event.from_status}
    if event.action == Action.dismiss:
        changes.update(dismissed_score=None, duplicate_of_id=None)
    if event.action == Action.snooze:
        changes.update(snoozed_until=None, status_before_snooze=None)
    if event.action == Action.claim and event.from_status == Status.new:
        changes["assignee_id"] = None
    try:
        updated = update_finding(
            session=session,
            finding_id=finding.id,
            expected_row_version=finding.row_version,
            changes=changes,
        )
    except StaleFinding:
        # Someone decided between our check and our write (PostgreSQL): report them, as decide does.
        session.expire_all()
        raise _changed_after(
            event.finding_id, last_event(session=session, finding_id=event.finding_id)
        ) from None
    undo_event = append_event(
        session=session,
        finding_id=finding.id,
        actor=actor,
        action=Action.undo.value,
        from_status=status_now,
        to_status=event.from_status,
        comment=f"undoes decision #{event.id} ({event.action})",
        model_version=current_model_version(session=session),
        priority_at_decision=priority_now,
        undoes_event_id=event.id,
        at=now,
    )
    if event.action == Action.dismiss:
        withdraw_work(session=session, finding_id=finding.id)
    fold_if_due(session)
    return Decision(updated, undo_event)


def undo_last(*, session: Session, actor: Actor, now: datetime | None = None) -> Decision:
    """Undo the actor's latest decision on any finding (the U key), within the undo window.

    Claims made and released by opening the next finding are skipped, and so are decisions
    already undone: pressing U again takes back the decision before.
    """
    require_role(actor, ADMIN_ONLY, "undoing decisions")
    now = now or utcnow()
    since = now - UNDO_WINDOW
    mine = (col(FeedbackEvent.actor_id) == actor.id, col(FeedbackEvent.actor) == actor.name)
    undone = select(col(FeedbackEvent.undoes_event_id)).where(
        *mine, col(FeedbackEvent.undoes_event_id).is_not(None), col(FeedbackEvent.at) >= since
    )
    event = session.exec(
        select(FeedbackEvent)
        .where(
            *mine,
            col(FeedbackEvent.at) >= since,
            col(FeedbackEvent.action).in_(values(UNDO_LAST_ACTIONS)),
            col(FeedbackEvent.id).not_in(undone),
        )
        .order_by(col(FeedbackEvent.id).desc())
    ).first()
    if event is None or event.id is None:
        raise DecisionRefused("you have made no decision in the last 10 minutes to undo")
    return undo(session=session, actor=actor, event_id=event.id, now=now)


@dataclass
class BulkResult:
    """What a bulk decision changed and what it skipped (with the reason for each)."""

    changed: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    # The title of each finding the preview found, so the preview can list what will change.
    titles: dict[int, str] = field(default_factory=dict)


def preview_bulk(
    *, session: Session, actor: Actor, finding_ids: Iterable[int], action: Action | str
) -> BulkResult:
    """Which of the selected findings an action would change (with their titles) and which it
    would skip and why, before doing it."""
    require_role(actor, ADMIN_ONLY, "deciding on findings")
    act = Action(action)
    allowed_from = TRANSITIONS[act][0]
    ids = list(dict.fromkeys(finding_ids))
    result = BulkResult()
    rows = session.exec(
        select(Finding.id, Finding.status, Finding.title).where(col(Finding.id).in_(ids))
    ).all()
    found = {fid: status for fid, status, _ in rows}
    result.titles = {fid: title for fid, _, title in rows if fid is not None}
    for fid in ids:
        status = found.get(fid)
        if status is None:
            result.skipped[fid] = "no such finding"
        elif Status(status) not in allowed_from:
            result.skipped[fid] = f"is {status}"
        else:
            result.changed.append(fid)
    return result


def bulk_decide(
    *,
    session: Session,
    actor: Actor,
    finding_ids: Iterable[int],
    action: Action | str,
    reason: str | None = None,
    comment: str | None = None,
    assignee_id: int | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> BulkResult:
    """Apply one decision to many findings: one log row per finding changed.

    Inputs are checked once up front, so a bad reason fails before anything changes; findings
    that cannot take the action (already decided, gone) are skipped and reported.
    """
    preview = preview_bulk(session=session, actor=actor, finding_ids=finding_ids, action=action)
    result = BulkResult(skipped=dict(preview.skipped))
    now = now or utcnow()
    lock_findings(session=session, finding_ids=preview.changed)
    for fid in preview.changed:
        try:
            with session.begin_nested():
                decide(
                    session=session, actor=actor, finding_id=fid, action=action, reason=reason,
                    comment=comment, assignee_id=assignee_id, until=until, now=now,
                )  # fmt: skip
            result.changed.append(fid)
        except AlreadyDecided as exc:
            result.skipped[fid] = str(exc)
        except FindingNotFound:
            result.skipped[fid] = "no such finding"
    return result


def wake_snoozed(*, session: Session, now: datetime | None = None) -> int:
    """Wake every finding whose snooze has ended (back to its earlier status); returns how many."""
    now = now or utcnow()
    due = session.exec(
        select(Finding).where(
            col(Finding.status) == Status.snoozed, col(Finding.snoozed_until) <= now
        )
    ).all()
    lock_findings(session=session, finding_ids=[int(f.id or 0) for f in due])
    woken = 0
    for finding in due:
        assert finding.id is not None
        if finding.status != Status.snoozed.value:
            continue  # woken or decided by someone else before the lock
        back = finding.status_before_snooze or Status.new.value
        try:
            update_finding(
                session=session, finding_id=finding.id,
                expected_row_version=finding.row_version,
                changes={"status": back, "snoozed_until": None, "status_before_snooze": None},
            )  # fmt: skip
        except StaleFinding:
            continue  # someone else acted on it meanwhile
        append_event(
            session=session, finding_id=finding.id, actor=SYSTEM, action=Action.wake.value,
            from_status=Status.snoozed.value, to_status=back,
            comment=f"snooze ended {_fmt(finding.snoozed_until or now)}",
            priority_at_decision=finding.priority, at=now,
        )  # fmt: skip
        woken += 1
    if woken:
        fold_if_due(session)
    return woken
