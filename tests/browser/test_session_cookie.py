"""In Chromium: the session cookie is HttpOnly (page scripts cannot read it), set by the server
for a one-time ticket, carries the sign-in over a reload, and is cleared at sign-out."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.web.session_cookie import ROUTE
from review_queue.tables import Role
from tests.helpers.browser import demo_accounts_app, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[Role, tuple]]]:
    home = tmp_path_factory.mktemp("home")
    with demo_accounts_app(Path(home)) as (base, accounts):
        yield base, accounts


def _session_cookie(page: Page) -> dict:
    return next(c for c in page.context.cookies() if c["name"] == "gapdesk_session")


def test_the_session_cookie_is_http_only_and_survives_a_reload(
    page: Page, demo_app: tuple[str, dict]
) -> None:
    base, accounts = demo_app
    name, password = accounts[Role.manager]
    sign_in(page, base, name, password)
    cookie = _session_cookie(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and len(cookie["value"]) > 30
    assert "gapdesk_session" not in page.evaluate("document.cookie")
    page.reload()
    expect(page.get_by_role("heading", name=f"Hello, {name}")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("User name or email")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1_000)
    assert all(c["name"] != "gapdesk_session" for c in page.context.cookies())


@pytest.mark.parametrize("body", [{"ticket": "made-up"}, {"ticket": ""}, {}, "not json"])
def test_the_cookie_route_sets_nothing_without_a_live_ticket(
    demo_app: tuple[str, dict], body: object
) -> None:
    base, _ = demo_app
    data = (body if isinstance(body, str) else json.dumps(body)).encode()
    request = urllib.request.Request(  # noqa: S310  (the test's own loopback server)
        base + ROUTE, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert refused.value.code in (400, 403)
    assert "set-cookie" not in {k.lower() for k in refused.value.headers}
