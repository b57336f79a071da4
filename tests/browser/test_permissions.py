"""In Chromium on a real server: a page's URL opened outside one's role shows nothing of it.

One `streamlit run` serves every case; each role (and a signed-out visitor) gets its own browser
context, signs in once, then opens the URL path of every page outside its role directly: that
gives the sign-in form (signed out) or the person's own home page, and not one heading of the
page asked for. Each page's URL also renders its page for the first role that may open it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from app.web.navigation import PAGES, PageSpec
from review_queue.tables import Role
from tests.helpers.browser import demo_accounts_app

pytestmark = pytest.mark.browser

# The heading each page opens with (its st.title); {name} is the signed-in person.
HEADINGS = {
    "home": "Hello, {name}",
    "queue": "Review queue",
    "report": "Report a learner problem",
    "trends": "Trends",
    "feedback-log": "Feedback log",
    "api-tokens": "API tokens",
    "notifications": "Notifications",
    "detectors": "Detectors",
    "models": "Models",
    "data": "Data",
    "users": "Users",
    "webhooks": "Webhooks",
    "work-lists": "Work lists",
}
TIMEOUT = 20_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[Role, tuple]]]:
    """One server on an empty database with the demo admin, instructor and manager."""
    home = tmp_path_factory.mktemp("perm-browser")
    with demo_accounts_app(Path(home)) as (base, accounts):
        yield base, accounts


def test_every_page_has_a_known_heading() -> None:
    assert set(HEADINGS) == {p.url_path for p in PAGES}


def _heading(page: Page, text: str) -> Locator:
    return page.get_by_role("heading", name=text, exact=True)


@dataclass
class Visitor:
    """One person (or nobody) in a browser context of their own."""

    role: Role | None
    name: str
    page: Page

    @property
    def who(self) -> str:
        return "signed out" if self.role is None else f"{self.name} ({self.role.value})"


def test_page_urls_outside_the_role_show_nothing_of_the_page(
    browser: Browser, site: tuple[str, dict[Role, tuple]]
) -> None:
    base, accounts = site
    contexts = [browser.new_context() for _ in range(len(Role) + 1)]
    try:
        # Instructor and manager before admin, so each page renders for the narrowest role.
        roles = (Role.instructor, Role.manager, Role.admin)
        assert set(roles) == set(Role)
        visitors = [Visitor(None, "", contexts[0].new_page())]
        visitors += [
            Visitor(role, accounts[role][0], ctx.new_page())
            for role, ctx in zip(roles, contexts[1:], strict=True)
        ]
        # The visitors work side by side (one server, several sessions) to keep the test quick.
        for v in visitors:
            v.page.goto(base, wait_until="domcontentloaded")
        for v in visitors[1:]:
            assert v.role is not None
            v.page.get_by_label("User name or email").fill(v.name)
            v.page.get_by_role("textbox", name="Password").fill(accounts[v.role][1])
            v.page.get_by_role("button", name="Sign in").click()
        for v in visitors[1:]:
            expect(_heading(v.page, f"Hello, {v.name}")).to_be_visible(timeout=TIMEOUT)
        for spec in PAGES:
            # Every visitor outside the page's roles opens it; of those inside, the first does
            # (each page renders once by URL; the role's menu is test_browser_sign_in's concern).
            inside = [v for v in visitors if v.role in spec.roles][:1]
            opening = [v for v in visitors if v.role not in spec.roles] + inside
            for v in opening:
                v.page.goto(f"{base}/{spec.url_path}", wait_until="domcontentloaded")
            for v in opening:
                _check(v, spec)
    finally:
        for ctx in contexts:
            ctx.close()


def _check(v: Visitor, spec: PageSpec) -> None:
    """``v`` opened ``spec``'s URL: its page if the role may, else nothing of it."""
    own = _heading(v.page, HEADINGS[spec.url_path].format(name=v.name))
    if v.role is not None and v.role in spec.roles:
        expect(own, f"{v.who} opened /{spec.url_path}, a page of the role").to_be_visible(
            timeout=TIMEOUT
        )
        return
    instead = (
        v.page.get_by_label("User name or email")
        if v.role is None
        else _heading(v.page, f"Hello, {v.name}")
    )
    expect(instead, f"{v.who} opened /{spec.url_path}: sign-in form or home").to_be_visible(
        timeout=TIMEOUT
    )
    expect(own, f"{v.who} sees the heading of /{spec.url_path}").to_have_count(0)
    for text in HEADINGS.values():
        if "{name}" not in text:
            expect(_heading(v.page, text), f"{v.who} on /{spec.url_path}").to_have_count(0)
