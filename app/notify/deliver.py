"""The deliverer: posts the outbox's due webhooks (signed) and sends its due e-mails.

Each due delivery is leased first (a conditional UPDATE), so two deliverers (cron and the API's
background thread) never send it at the same time. Each attempt is recorded with what the
receiver answered; a failed one is retried after ``GAPDESK_NOTIFY_RETRY_SECONDS`` times 2^(n-1)
(at most six hours), up to ``GAPDESK_NOTIFY_MAX_ATTEMPTS`` attempts, then marked failed.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from app.core.db import session_scope
from app.core.errors import UserError
from app.core.settings import Settings, get_settings
from app.notify.mail import MailFailed, compose_mail, send_mail
from app.notify.signing import HEADER, signature_header
from app.notify.webhooks import resolve_webhook_host
from review_queue.tables import (
    DeliveryAttempt,
    OutboxDelivery,
    OutboxEvent,
    User,
    WebhookEndpoint,
)
from review_queue.types import utcnow

log = logging.getLogger("gapdesk.notify")
LEASE = timedelta(minutes=2)
MAX_WAIT = timedelta(hours=6)
TIMEOUT_S = 10.0
EXCERPT = 500


@dataclass
class DeliveryRound:
    """What one round of the deliverer did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    waiting_for_smtp: int = 0  # e-mails left pending because no SMTP host is set


@dataclass(frozen=True)
class Outcome:
    """One attempt's result."""

    ok: bool
    status_code: int | None = None
    duration_ms: int = 0
    response: str = ""
    error: str | None = None
    final: bool = False  # no point retrying (a paused endpoint, a person without e-mail)


def webhook_body(event: OutboxEvent) -> bytes:
    """The JSON a receiver gets: the event's id, type, time and data."""
    return json.dumps(
        {"id": f"evt_{event.id}", "type": event.kind, "created_at": event.created_at.isoformat(),
         "data": event.payload},
        separators=(",", ":"), sort_keys=True, default=str,
    ).encode()  # fmt: skip


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to the address the SSRF check resolved, with the URL's host for SNI and the
    certificate check (a second DNS answer cannot redirect the connection)."""

    def __init__(self, host: str, port: int, address: str, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


def post_webhook(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST ``body`` to ``url`` (no redirects followed); 2xx is delivered."""
    started = time.perf_counter()
    try:
        host, port, address = resolve_webhook_host(url)
    except UserError as exc:
        return Outcome(False, error=str(exc)[:EXCERPT])
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPS(host, port, address, timeout=TIMEOUT_S)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=TIMEOUT_S)
    try:
        default_port = 443 if parts.scheme == "https" else 80
        host_header = host if port == default_port else f"{host}:{port}"
        connection.request(
            "POST", path, body=body,
            headers={**headers, "Host": host_header, "Content-Type": "application/json",
                     "User-Agent": "Gapdesk-Webhooks/1"},
        )  # fmt: skip
        response = connection.getresponse()
        text = response.read(EXCERPT * 4).decode("utf-8", "replace")[:EXCERPT]
        ms = int((time.perf_counter() - started) * 1000)
        return Outcome(200 <= response.status < 300, response.status, ms, text)
    except (OSError, http.client.HTTPException) as exc:
        ms = int((time.perf_counter() - started) * 1000)
        return Outcome(False, duration_ms=ms, error=f"{type(exc).__name__}: {exc}"[:EXCERPT])
    finally:
        connection.close()


def _lease(engine: Engine, now: datetime, limit: int, channels: tuple[str, ...]) -> list[int]:
    with session_scope(engine) as session:
        due = session.exec(
            select(OutboxDelivery.id)
            .where(
                col(OutboxDelivery.status) == "pending",
                col(OutboxDelivery.next_attempt_at) <= now,
                col(OutboxDelivery.channel).in_(channels),
                or_(
                    col(OutboxDelivery.leased_until).is_(None),
                    col(OutboxDelivery.leased_until) < now,
                ),
            )
            .order_by(col(OutboxDelivery.id))
            .limit(limit)
        ).all()
        leased = []
        for delivery_id in due:
            taken = session.execute(
                update(OutboxDelivery)
                .where(
                    col(OutboxDelivery.id) == delivery_id,
                    col(OutboxDelivery.status) == "pending",
                    or_(
                        col(OutboxDelivery.leased_until).is_(None),
                        col(OutboxDelivery.leased_until) < now,
                    ),
                )
                .values(leased_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            if getattr(taken, "rowcount", 0) == 1 and delivery_id is not None:
                leased.append(delivery_id)
    return leased


def _attempt(engine: Engine, delivery_id: int, settings: Settings) -> Outcome:
    with session_scope(engine, read_only=True) as session:
        delivery = session.get(OutboxDelivery, delivery_id)
        assert delivery is not None
        event = session.get(OutboxEvent, delivery.event_id)
        assert event is not None
        if delivery.channel == "webhook":
            endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
            if endpoint is None or not endpoint.active:
                return Outcome(False, error="the webhook is paused or removed", final=True)
            url, secret = endpoint.url, endpoint.secret
            body = webhook_body(event)
        else:
            user = session.get(User, delivery.user_id)
            if user is None or not user.active or not user.email:
                return Outcome(False, error="the recipient has no active account", final=True)
            try:
                message = compose_mail(event, user, settings)
            except MailFailed as exc:
                return Outcome(False, error=str(exc), final=True)
    if delivery.channel == "webhook":
        headers = {
            HEADER: signature_header(secret, body),
            "Gapdesk-Event": event.kind,
            "Gapdesk-Delivery": str(delivery_id),
        }
        return post_webhook(url, body, headers)
    started = time.perf_counter()
    try:
        code, reply = send_mail(message, settings)
    except MailFailed as exc:
        ms = int((time.perf_counter() - started) * 1000)
        return Outcome(False, exc.code, ms, error=str(exc)[:EXCERPT])
    return Outcome(True, code, int((time.perf_counter() - started) * 1000), reply[:EXCERPT])


def _record(
    engine: Engine, delivery_id: int, outcome: Outcome, now: datetime, settings: Settings
) -> str:
    with session_scope(engine) as session:
        delivery = session.get(OutboxDelivery, delivery_id)
        assert delivery is not None
        session.add(
            DeliveryAttempt(
                delivery_id=delivery_id, at=now, ok=outcome.ok, status_code=outcome.status_code,
                duration_ms=outcome.duration_ms, response_excerpt=outcome.response[:EXCERPT],
                error=outcome.error[:EXCERPT] if outcome.error else None,
            )
        )  # fmt: skip
        delivery.attempts += 1
        delivery.leased_until = None
        if outcome.ok:
            delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
        else:
            delivery.last_error = (outcome.error or f"answered {outcome.status_code}")[:500]
            if outcome.final or delivery.attempts >= settings.notify_max_attempts:
                delivery.status = "failed"
            else:
                wait = timedelta(seconds=settings.notify_retry_seconds) * 2 ** (
                    delivery.attempts - 1
                )
                delivery.next_attempt_at = now + min(wait, MAX_WAIT)
        session.add(delivery)
        return delivery.status


def deliver_due(
    *, engine: Engine, now: datetime | None = None, limit: int = 200,
    settings: Settings | None = None,
) -> DeliveryRound:  # fmt: skip
    """One round: every delivery due by ``now`` (at most ``limit``), each tried once."""
    settings = settings or get_settings()
    now = now or utcnow()
    channels = ("webhook", "email") if settings.smtp_host else ("webhook",)
    result = DeliveryRound()
    for delivery_id in _lease(engine, now, limit, channels):
        outcome = _attempt(engine, delivery_id, settings)
        status = _record(engine, delivery_id, outcome, now, settings)
        if status == "delivered":
            result.delivered += 1
        elif status == "failed":
            result.failed += 1
            log.warning("delivery #%s failed for good: %s", delivery_id, outcome.error)
        else:
            result.retrying += 1
    if not settings.smtp_host:
        with session_scope(engine, read_only=True) as session:
            result.waiting_for_smtp = len(
                session.exec(
                    select(OutboxDelivery.id).where(
                        col(OutboxDelivery.channel) == "email",
                        col(OutboxDelivery.status) == "pending",
                    )
                ).all()
            )
    return result


def run_deliverer(engine: Engine, stop: threading.Event, every_s: float = 5.0) -> None:
    """Deliver what is due every few seconds until ``stop`` is set (a daemon or a thread)."""
    while not stop.is_set():
        try:
            deliver_due(engine=engine)
        except Exception:  # a deliverer keeps going; the next round retries
            log.exception("a delivery round failed")
        stop.wait(every_s)


def start_background_deliverer(engine: Engine, every_s: float = 5.0) -> threading.Event:
    """The deliverer in a daemon thread of this process; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_deliverer, args=(engine, stop, every_s), name="gapdesk-deliverer", daemon=True
    )
    thread.start()
    return stop
