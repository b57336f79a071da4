"""The cookie tickets: redeemed once, within their minute, for exactly what they were issued."""

from __future__ import annotations

import pytest

from app.web import session_cookie
from app.web.session_cookie import fetch_script, issue_ticket, redeem_ticket


def test_a_ticket_is_redeemed_once_for_its_token() -> None:
    ticket = issue_ticket("the-token", 600)
    assert redeem_ticket(ticket) == ("the-token", 600)
    assert redeem_ticket(ticket) is None
    assert redeem_ticket("not-issued") is None


def test_a_ticket_dies_after_its_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = issue_ticket("the-token", 600)
    later = session_cookie.time.monotonic() + session_cookie.TICKET_SECONDS + 1
    monkeypatch.setattr(session_cookie.time, "monotonic", lambda: later)
    assert redeem_ticket(ticket) is None


def test_the_page_script_carries_the_ticket_only_as_quoted_json() -> None:
    script = fetch_script("a'b\"c</script>")
    assert "</script>" not in script.removesuffix("</script>")
    assert "the-token" not in script
