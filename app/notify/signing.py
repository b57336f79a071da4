"""Webhook signatures: HMAC-SHA256 over ``timestamp.body``, sent as
``Gapdesk-Signature: t=<unix seconds>,v1=<hex>`` (the scheme Stripe uses).

A receiver recomputes the HMAC with the endpoint's secret over the timestamp, a dot and the raw
body, compares in constant time, and rejects a timestamp older than five minutes (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "Gapdesk-Signature"
TOLERANCE_S = 300
SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)


def new_secret() -> str:
    """A fresh endpoint secret (shown to the admin once)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Gapdesk-Signature`` value for one delivery."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret, t, body)}"


class BadSignature(ValueError):
    """The signature header is missing, malformed, wrong, or too old."""


def verify(
    secret: str, header: str, body: bytes, *, now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> int:  # fmt: skip
    """Check a received delivery as a receiver should; returns its timestamp or raises
    BadSignature (the same code the README shows)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        raise BadSignature("no timestamp in the signature header") from None
    expected = signature(secret, timestamp, body)
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise BadSignature("the signature does not match")
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        raise BadSignature("the timestamp is more than five minutes off: a replay?")
    return timestamp
