"""In Chromium: each demo account signs in, sees its pages, and stays signed in after a refresh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.web.navigation import PAGES, pages_for
from review_queue.tables import Role
from tests.helpers.browser import demo_accounts_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[Role, tuple]]]:
    home = tmp_path_factory.mktemp("home")
    with demo_accounts_app(Path(home)) as (base, accounts):
        yield base, accounts


def _sign_in(page: Page, base: str, name: str, password: str) -> None:
    page.goto(base)
    page.get_by_label("User name or email").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("role", list(Role))
def test_each_demo_account_signs_in_and_sees_its_pages(
    page: Page, demo_app: tuple[str, dict], role: Role
) -> None:
    base, accounts = demo_app
    name, password = accounts[role]
    _sign_in(page, base, name, password)
    expect(page.get_by_role("heading", name=f"Hello, {name}")).to_be_visible(timeout=20_000)
    nav = page.get_by_test_id("stSidebarNav")
    mine = pages_for(role)
    for spec in PAGES:
        link = nav.get_by_role("link", name=spec.title, exact=True)
        # Streamlit shows no menu at all for a single page.
        if spec in mine and len(mine) > 1:
            expect(link).to_be_visible()
        else:
            expect(link).to_have_count(0)
    # A refresh starts a new Streamlit session: the cookie must carry the sign-in over.
    page.reload()
    expect(page.get_by_role("heading", name=f"Hello, {name}")).to_be_visible(timeout=20_000)
    # A page outside the role, opened by URL, shows nothing of it.
    if role is not Role.admin:
        page.goto(f"{base}/users")
        expect(page.get_by_role("heading", name="Users")).to_have_count(0, timeout=10_000)
    # Signing out ends the session for good, refresh included.
    page.goto(base)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("User name or email")).to_be_visible(timeout=20_000)
    page.reload()
    expect(page.get_by_label("User name or email")).to_be_visible(timeout=20_000)


def test_a_wrong_password_is_refused_in_the_browser(page: Page, demo_app: tuple) -> None:
    base, accounts = demo_app
    _sign_in(page, base, accounts[Role.admin][0], "definitely-wrong")
    expect(page.get_by_text("Wrong user name or password.")).to_be_visible(timeout=20_000)
