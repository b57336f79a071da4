"""The session cookie, set HttpOnly by the server: page scripts can neither read nor copy it.

Streamlit runs a page over its websocket, with no HTTP response to put a cookie on. So after a
sign-in, a rotation or a sign-out the page asks this server route, with a one-time ticket, to
answer with the ``Set-Cookie``. A ticket lives one minute, is redeemed once, and is kept (as its
SHA-256) in this process's memory only: the fetch goes to the process that serves the tab.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "gapdesk_session"
ROUTE = "/gapdesk/session-cookie"
TICKET_SECONDS = 60.0

_lock = threading.Lock()
_tickets: dict[str, tuple[str, int, float]] = {}


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue_ticket(token: str, max_age: int) -> str:
    """A one-time ticket the page redeems for ``Set-Cookie`` (an empty token clears it)."""
    ticket = secrets.token_urlsafe(32)
    now = time.monotonic()
    with _lock:
        for key in [k for k, (_, _, until) in _tickets.items() if until < now]:
            del _tickets[key]
        _tickets[_digest(ticket)] = (token, max_age, now + TICKET_SECONDS)
    return ticket


def redeem_ticket(ticket: str) -> tuple[str, int] | None:
    """The token and max-age a ticket was issued for, once, within its minute; else None."""
    with _lock:
        found = _tickets.pop(_digest(ticket), None)
    if found is None or found[2] < time.monotonic():
        return None
    return found[0], found[1]


def fetch_script(ticket: str) -> str:
    """The page script that redeems ``ticket`` (JSON-quoted, so it cannot break out)."""
    # Quoted twice (a JS string holding JSON) and with '<' escaped, so no '</script>' survives.
    body = json.dumps(json.dumps({"ticket": ticket})).replace("<", "\\u003c")
    return (
        f"<script>fetch(location.origin + {json.dumps(ROUTE)}, {{method: 'POST', "
        f"headers: {{'Content-Type': 'application/json'}}, body: {body}, "
        "credentials: 'same-origin', cache: 'no-store'});</script>"
    )


async def set_session_cookie(request: Request) -> Response:
    """POST {"ticket": ...}: answer with the HttpOnly, SameSite=Strict session cookie."""
    try:
        ticket = str((await request.json()).get("ticket", ""))
    except (ValueError, AttributeError):
        return Response(status_code=400)
    claim = redeem_ticket(ticket) if ticket else None
    if claim is None:
        return Response(status_code=403)
    token, max_age = claim
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    if token:
        response.set_cookie(
            COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="strict",
            secure=secure,
        )  # fmt: skip
    else:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
    return response
