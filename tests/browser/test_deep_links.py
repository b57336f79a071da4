"""In Chromium: a page's address opened signed out shows the sign-in form (no "Page not found"),
and after signing in the person lands on the page asked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from review_queue.tables import Role
from tests.helpers.browser import demo_accounts_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[Role, tuple]]]:
    home = tmp_path_factory.mktemp("home")
    with demo_accounts_app(Path(home)) as (base, accounts):
        yield base, accounts


@pytest.mark.parametrize(
    ("path", "role", "heading"),
    [("queue", Role.admin, "Review queue"), ("users", Role.admin, "Users"),
     ("trends", Role.manager, "Trends")],
)  # fmt: skip
def test_a_deep_link_signs_in_then_opens_the_page_asked_for(
    page: Page, demo_app: tuple[str, dict], path: str, role: Role, heading: str
) -> None:
    base, accounts = demo_app
    name, password = accounts[role]
    page.goto(f"{base}/{path}")
    expect(page.get_by_label("User name or email")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1_000)  # a "Page not found" dialog would be up by now
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.get_by_label("User name or email").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=30_000)
    assert page.url.rstrip("/").endswith(f"/{path}")
    expect(page.get_by_text("Page not found")).to_have_count(0)
    # Signing out there shows the sign-in form at the same address, again without an error.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("User name or email")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Page not found")).to_have_count(0)
