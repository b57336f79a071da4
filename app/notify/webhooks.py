"""Webhook endpoints (admins): register a URL for events, its secret shown once, a test
delivery, the deliveries with what the receiver answered, re-sending one.

Only http and https URLs are taken. Against server-side request forgery, a URL whose host
resolves to a loopback, private, link-local, multicast or reserved address is refused, at
registration and again at each delivery (the deliverer connects to the address it checked), unless
``GAPDESK_WEBHOOK_ALLOW_PRIVATE`` is on (receivers inside the organisation, and tests).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from app.core.errors import UserError
from app.core.settings import get_settings
from app.notify.signing import new_secret
from review_queue.outbox import (
    SEVERITY_ORDER,
    SUBSCRIBABLE,
    EventKind,
    forget_endpoints,
    record_event,
)
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.tables import DeliveryAttempt, OutboxDelivery, OutboxEvent, User, WebhookEndpoint
from review_queue.types import utcnow

MAX_ENDPOINTS = 50


@dataclass(frozen=True)
class EndpointView:
    """A registered endpoint as the Webhooks page lists it (never its secret)."""

    id: int
    url: str
    events: tuple[str, ...]
    min_severity: str | None
    description: str
    active: bool
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class DeliveryView:
    """One delivery (webhook or e-mail) and its latest attempt."""

    id: int
    event_id: int
    kind: str
    channel: str
    target: str  # the endpoint's URL, or the recipient's name
    status: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    last_status_code: int | None
    last_duration_ms: int | None
    last_response: str
    last_error: str | None


def _view(row: WebhookEndpoint) -> EndpointView:
    assert row.id is not None
    return EndpointView(
        row.id, row.url, tuple(row.events or ()), row.min_severity, row.description,
        row.active, row.created_by, row.created_at,
    )  # fmt: skip


def _refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def resolve_webhook_host(url: str, *, allow_private: bool | None = None) -> tuple[str, int, str]:
    """Check a webhook URL and resolve its host: (host, port, address to connect to).

    Refused with one line naming the URL: another scheme, no host, credentials in it, a host
    that does not resolve, or (unless private addresses are allowed) a non-public address."""
    allow = get_settings().webhook_allow_private if allow_private is None else allow_private
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UserError(f"webhook URL {url!r} cannot be read: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UserError(f"webhook URL {url!r}: only http:// and https:// URLs can receive webhooks")
    if not parts.hostname:
        raise UserError(f"webhook URL {url!r} names no host")
    if parts.username or parts.password:
        raise UserError(f"webhook URL {url!r}: leave credentials out of the URL")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError(
            f"webhook URL {url!r}: host {parts.hostname} does not resolve ({exc})"
        ) from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow:
        bad = [a for a in addresses if _refused_address(a)]
        if bad:
            raise UserError(
                f"webhook URL {url!r}: {parts.hostname} is a private, loopback or link-local "
                f"address ({bad[0]}); Gapdesk sends webhooks to public addresses only, unless "
                "GAPDESK_WEBHOOK_ALLOW_PRIVATE=true"
            )
    return parts.hostname, port, addresses[0]


def _events(events: list[str] | tuple[str, ...]) -> list[str]:
    chosen = list(dict.fromkeys(e.strip() for e in events if e.strip()))
    known = {k.value for k in SUBSCRIBABLE}
    unknown = [e for e in chosen if e not in known]
    if unknown:
        raise UserError(f"no such webhook event {unknown[0]!r}; use one of {', '.join(known)}")
    if not chosen:
        raise UserError("choose at least one event for the webhook")
    return chosen


def register_endpoint(
    *,
    session: Session,
    actor: Actor,
    url: str,
    events: list[str] | tuple[str, ...],
    min_severity: str | None = None,
    description: str = "",
) -> tuple[EndpointView, str]:
    """Register a URL for events (admins); returns it with its secret, shown this once."""
    require_role(actor, ADMIN_ONLY, "registering webhooks")
    url = (url or "").strip()
    if len(url) > 2000:
        raise UserError("a webhook URL has at most 2000 characters")
    resolve_webhook_host(url)
    chosen = _events(events)
    if min_severity is not None and min_severity not in SEVERITY_ORDER:
        raise UserError(f"severity {min_severity!r} is not one of {', '.join(SEVERITY_ORDER)}")
    description = (description or "").strip()
    if len(description) > 200 or "\x00" in description:
        raise UserError("a webhook's description has at most 200 characters")
    count = len(session.exec(select(WebhookEndpoint.id)).all())
    if count >= MAX_ENDPOINTS:
        raise UserError(f"there are {count} webhooks already; remove one first")
    secret = new_secret()
    row = WebhookEndpoint(
        url=url, events=chosen, min_severity=min_severity, secret=secret,
        description=description, created_by=actor.name,
    )  # fmt: skip
    session.add(row)
    session.flush()
    forget_endpoints(session)
    return _view(row), secret


def list_endpoints(*, session: Session, actor: Actor) -> list[EndpointView]:
    """Every registered endpoint, newest first (admins)."""
    require_role(actor, ADMIN_ONLY, "seeing webhooks")
    rows = session.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.id).desc())).all()
    return [_view(r) for r in rows]


def _endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None:
        raise UserError(f"no webhook #{endpoint_id}")
    return row


def set_endpoint_active(
    *, session: Session, actor: Actor, endpoint_id: int, active: bool
) -> EndpointView:
    """Pause (no new deliveries) or resume an endpoint (admins)."""
    require_role(actor, ADMIN_ONLY, "changing webhooks")
    row = _endpoint(session, endpoint_id)
    row.active = active
    session.add(row)
    forget_endpoints(session)
    return _view(row)


def send_test(*, session: Session, actor: Actor, endpoint_id: int) -> int:
    """Queue a ``ping`` delivery to one endpoint (admins); returns the delivery's id."""
    require_role(actor, ADMIN_ONLY, "testing webhooks")
    row = _endpoint(session, endpoint_id)
    event = record_event(
        session=session, kind=EventKind.ping, endpoint_ids=[endpoint_id],
        payload={"message": "a test delivery from Gapdesk", "by": actor.name, "url": row.url},
    )  # fmt: skip
    assert event is not None
    session.flush()
    delivery = session.exec(
        select(OutboxDelivery).where(col(OutboxDelivery.event_id) == event.id)
    ).one()
    assert delivery.id is not None
    return delivery.id


def _delivery_views(session: Session, rows: list[OutboxDelivery]) -> list[DeliveryView]:
    ids = [r.id for r in rows]
    events = {
        e.id: e
        for e in session.exec(
            select(OutboxEvent).where(col(OutboxEvent.id).in_({r.event_id for r in rows}))
        )
    }
    urls = {e.id: e.url for e in session.exec(select(WebhookEndpoint))}
    names = {
        u.id: u.name
        for u in session.exec(
            select(User).where(col(User.id).in_({r.user_id for r in rows if r.user_id}))
        )
    }
    latest: dict[int, DeliveryAttempt] = {}
    for a in session.exec(
        select(DeliveryAttempt)
        .where(col(DeliveryAttempt.delivery_id).in_(ids))
        .order_by(col(DeliveryAttempt.id))
    ):
        latest[a.delivery_id] = a
    out = []
    for r in rows:
        assert r.id is not None
        last = latest.get(r.id)
        target = (
            urls.get(r.endpoint_id, "?") if r.channel == "webhook" else names.get(r.user_id, "?")
        )
        out.append(
            DeliveryView(
                id=r.id, event_id=r.event_id, kind=events[r.event_id].kind, channel=r.channel,
                target=target, status=r.status, attempts=r.attempts,
                next_attempt_at=r.next_attempt_at if r.status == "pending" else None,
                delivered_at=r.delivered_at, created_at=r.created_at,
                last_status_code=last.status_code if last else None,
                last_duration_ms=last.duration_ms if last else None,
                last_response=last.response_excerpt if last else "",
                last_error=last.error if last else r.last_error,
            )
        )  # fmt: skip
    return out


def list_deliveries(
    *, session: Session, actor: Actor, endpoint_id: int | None = None, limit: int = 50
) -> list[DeliveryView]:
    """The latest deliveries (of one endpoint, or all, e-mail included), newest first (admins)."""
    require_role(actor, ADMIN_ONLY, "seeing deliveries")
    query = select(OutboxDelivery).order_by(col(OutboxDelivery.id).desc()).limit(limit)
    if endpoint_id is not None:
        query = query.where(col(OutboxDelivery.endpoint_id) == endpoint_id)
    return _delivery_views(session, list(session.exec(query)))


def delivery_attempts(*, session: Session, actor: Actor, delivery_id: int) -> list[DeliveryAttempt]:
    """Every attempt of one delivery, oldest first (admins)."""
    require_role(actor, ADMIN_ONLY, "seeing deliveries")
    return list(
        session.exec(
            select(DeliveryAttempt)
            .where(col(DeliveryAttempt.delivery_id) == delivery_id)
            .order_by(col(DeliveryAttempt.id))
        )
    )


def resend_delivery(*, session: Session, actor: Actor, delivery_id: int) -> int:
    """Send one delivery's event again to the same target, as a new delivery (admins)."""
    require_role(actor, ADMIN_ONLY, "re-sending deliveries")
    old = session.get(OutboxDelivery, delivery_id)
    if old is None:
        raise UserError(f"no delivery #{delivery_id}")
    now = utcnow()
    again = OutboxDelivery(
        event_id=old.event_id, channel=old.channel, endpoint_id=old.endpoint_id,
        user_id=old.user_id, next_attempt_at=now, created_at=now,
    )  # fmt: skip
    session.add(again)
    session.flush()
    assert again.id is not None
    return again.id
