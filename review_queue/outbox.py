"""The transactional outbox: what happened, written in the same transaction as the change.

A change to a finding writes its feedback-log row (``append_event``), which calls
``on_feedback_event`` here: the events it means (opened, assigned, decided, a learner report's
new status) become ``OutboxEvent`` rows, with one ``OutboxDelivery`` per subscribed webhook
endpoint and per person to e-mail. A rolled-back change leaves no event; a committed one is
delivered later by ``gapdesk notify deliver`` (app/notify/), retried until it gets through.
Other rooms record their own events with ``record_event`` (a failed detection run, a
data-quality ticket).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from review_queue.permissions import Actor
from review_queue.states import Action, Status
from review_queue.tables import (
    FeedbackEvent,
    Finding,
    NotificationPreference,
    OutboxDelivery,
    OutboxEvent,
    User,
    WebhookEndpoint,
)
from review_queue.types import utcnow


class EventKind(StrEnum):
    """What a webhook endpoint can subscribe to (the ``type`` of a delivery's body)."""

    finding_opened = "finding.opened"  # new, reopened or a regression; above a severity
    finding_assigned = "finding.assigned"
    finding_decided = "finding.decided"
    learner_report_status = "learner_report.status_changed"
    detection_run_failed = "detection_run.failed"
    data_quality_ticket = "data_quality.ticket"
    ping = "ping"  # a test delivery, sent to one endpoint from the Webhooks page
    weekly_digest = "digest.weekly"  # e-mail only: the managers' weekly Trends digest


SUBSCRIBABLE = tuple(k for k in EventKind if k not in (EventKind.ping, EventKind.weekly_digest))


class MailKind(StrEnum):
    """The e-mails Gapdesk sends; each person may turn each off."""

    assigned = "assigned"  # a finding was assigned to you
    report_status = "report_status"  # a learner report you filed changed status
    weekly_digest = "weekly_digest"  # managers: the Trends takeaways of the week


MAIL_KIND_HELP = {
    MailKind.assigned: "a finding is assigned to me",
    MailKind.report_status: "a learner report I filed changes status",
    MailKind.weekly_digest: "the weekly Trends digest (managers)",
}

SEVERITY_ORDER = ("low", "medium", "high", "critical")
OPENING_ACTIONS = frozenset({Action.propose.value, Action.reopen.value, Action.regression.value})
DECIDING_ACTIONS = frozenset(
    a.value for a in (Action.confirm, Action.dismiss, Action.snooze, Action.resolve, Action.reopen)
) | {Action.undo.value}
# A claim or its release moves a report between new and in review many times a day; the
# reporter hears of decisions, not of someone opening their report.
QUIET_FOR_REPORTERS = frozenset(
    {Action.report.value, Action.claim.value, Action.release.value, Action.propose.value}
)
_CACHE = "gapdesk_outbox_endpoints"


def _endpoints(session: Session) -> list[WebhookEndpoint]:
    # Read once per transaction: a detection run appends thousands of events.
    marker = id(session.get_transaction())
    cached = session.info.get(_CACHE)
    if cached is not None and cached[0] == marker:
        endpoints: list[WebhookEndpoint] = cached[1]
        return endpoints
    rows = list(session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.active))))
    session.info[_CACHE] = (marker, rows)
    return rows


def forget_endpoints(session: Session) -> None:
    """Drop the endpoints read for this transaction (after one is registered or changed)."""
    session.info.pop(_CACHE, None)


def severity_at_least(severity: str | None, minimum: str | None) -> bool:
    """Whether ``severity`` is ``minimum`` or worse (no minimum: always)."""
    if minimum is None:
        return True
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return rank.get(severity or "", -1) >= rank.get(minimum, 0)


def mail_enabled(*, session: Session, user_id: int, kind: MailKind | str) -> bool:
    """Whether this person wants this kind of e-mail (on unless they turned it off)."""
    pref = session.exec(
        select(NotificationPreference).where(
            col(NotificationPreference.user_id) == user_id,
            col(NotificationPreference.kind) == str(kind),
        )
    ).first()
    return pref is None or pref.enabled


def record_event(
    *,
    session: Session,
    kind: EventKind | str,
    payload: Mapping[str, Any],
    endpoint_ids: Iterable[int] | None = None,
    mail_to: Iterable[int] = (),
) -> OutboxEvent | None:
    """Record one event in the caller's transaction, for every active endpoint subscribed to it
    (or only ``endpoint_ids``) and for the people in ``mail_to``; None if nobody is told.

    For other rooms: ``record_event(session=s, kind="data_quality.ticket", payload={...})``."""
    event_kind = EventKind(kind)
    severity = payload.get("finding", {}).get("severity") if "finding" in payload else None
    if endpoint_ids is not None:
        wanted = list(endpoint_ids)
        targets = list(
            session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.id).in_(wanted)))
        )
    else:
        targets = [
            e
            for e in _endpoints(session)
            if event_kind.value in (e.events or [])
            and (
                event_kind is not EventKind.finding_opened
                or severity_at_least(severity, e.min_severity)
            )
        ]
    people = list(dict.fromkeys(mail_to))
    if not targets and not people:
        return None
    now = utcnow()
    event = OutboxEvent(kind=event_kind.value, payload=dict(payload), created_at=now)
    session.add(event)
    session.flush()
    assert event.id is not None
    for endpoint in targets:
        session.add(
            OutboxDelivery(
                event_id=event.id, channel="webhook", endpoint_id=endpoint.id,
                next_attempt_at=now, created_at=now,
            )
        )  # fmt: skip
    for user_id in people:
        session.add(
            OutboxDelivery(
                event_id=event.id, channel="email", user_id=user_id, next_attempt_at=now,
                created_at=now,
            )
        )  # fmt: skip
    return event


def finding_payload(session: Session, finding: Finding) -> dict[str, Any]:
    """A finding as events carry it (no evidence or features: a receiver fetches those)."""
    assignee = session.get(User, finding.assignee_id) if finding.assignee_id else None
    return {
        "id": finding.id,
        "title": finding.title,
        "category": finding.category,
        "severity": finding.severity,
        "status": finding.status,
        "priority": round(float(finding.priority), 4),
        "entity_key": finding.entity_key,
        "course_id": finding.course_id,
        "department": finding.department,
        "assignee": assignee.name if assignee else None,
        "regression": finding.regression,
    }


def _change_payload(session: Session, event: FeedbackEvent, finding: Finding) -> dict[str, Any]:
    return {
        "finding": finding_payload(session, finding),
        "action": event.action,
        "actor": event.actor,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "reason": event.reason,
        "comment": event.comment,
        "at": event.at.isoformat(),
        "feedback_event_id": event.id,
    }


def _wants_events(session: Session) -> set[str]:
    return {k for e in _endpoints(session) for k in (e.events or [])}


def on_feedback_event(*, session: Session, event: FeedbackEvent, actor: Actor) -> None:
    """The outbox side of one feedback-log row (called by ``append_event``, same transaction)."""
    subscribed = _wants_events(session)
    action = event.action
    mails_possible = action == Action.assign.value or action not in QUIET_FOR_REPORTERS
    if not subscribed and not mails_possible:
        return  # a detection run with no endpoints: nothing to look up, per finding
    finding = session.get(Finding, event.finding_id)
    if finding is None:
        return
    payload: dict[str, Any] | None = None

    def body() -> dict[str, Any]:
        nonlocal payload
        if payload is None:
            payload = _change_payload(session, event, finding)
        return payload

    if action in OPENING_ACTIONS and EventKind.finding_opened.value in subscribed:
        record_event(session=session, kind=EventKind.finding_opened, payload=body())
    if action == Action.assign.value:
        to = finding.assignee_id
        mail = [to] if to is not None and to != actor.id else []
        mail = [u for u in mail if mail_enabled(session=session, user_id=u, kind=MailKind.assigned)]
        if mail or EventKind.finding_assigned.value in subscribed:
            record_event(
                session=session, kind=EventKind.finding_assigned, payload=body(), mail_to=mail
            )
    if action in DECIDING_ACTIONS and EventKind.finding_decided.value in subscribed:
        record_event(session=session, kind=EventKind.finding_decided, payload=body())
    reporter = finding.reported_by_id
    if (
        finding.category == "learner_report"
        and reporter is not None
        and action not in QUIET_FOR_REPORTERS
        and event.from_status != event.to_status
    ):
        wants_mail = reporter != actor.id and mail_enabled(
            session=session, user_id=reporter, kind=MailKind.report_status
        )
        mail = [reporter] if wants_mail else []
        if mail or EventKind.learner_report_status.value in subscribed:
            words = REPORT_WORDS.get(event.to_status, event.to_status)
            record_event(
                session=session, kind=EventKind.learner_report_status,
                payload={**body(), "status_words": words}, mail_to=mail,
            )  # fmt: skip


# Where a report stands, in the reporter's words: the one list (learner_reports keys it by
# Status for "my reports"; it lives here because learner_reports imports the log writer).
REPORT_WORDS: dict[str, str] = {
    Status.new.value: "Waiting for an admin",
    Status.in_review.value: "An admin is looking at it",
    Status.snoozed.value: "Set aside by the admins for now",
    Status.confirmed.value: "Admins confirmed the problem",
    Status.resolved.value: "Admins fixed the problem",
    Status.dismissed.value: "Admins found nothing to fix",
}
