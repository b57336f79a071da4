"""AppTest: each role signs in and sees only its pages; a wrong password is refused."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from app.core.db import session_scope
from app.demo.set_up import ensure_demo_accounts
from app.web.navigation import PAGES, SIGN_IN, pages_for
from review_queue.tables import Role
from tests.helpers.apptest import MAIN, app_on, open_app, registered_pages, shown, sign_in


@pytest.fixture
def demo_passwords(db: Engine, monkeypatch: pytest.MonkeyPatch) -> dict[Role, tuple[str, str]]:
    with session_scope(db) as session:
        accounts = ensure_demo_accounts(session=session)
    with app_on(db, monkeypatch):
        yield {a.role: (a.name, a.password or "") for a in accounts}


def test_signed_out_visitors_see_only_the_sign_in_form(demo_passwords: dict) -> None:
    at = open_app()
    assert not at.exception
    assert registered_pages(at) == {SIGN_IN.path.resolve()}
    assert [w.label for w in at.text_input] == ["User name or email", "Password"]
    assert not at.metric


@pytest.mark.parametrize("role", list(Role))
def test_each_role_signs_in_and_sees_only_its_pages(demo_passwords: dict, role: Role) -> None:
    name, password = demo_passwords[role]
    at = sign_in(open_app(), name, password)
    assert not at.exception
    assert at.title[0].value == f"Hello, {name}"
    assert registered_pages(at) == {p.path.resolve() for p in pages_for(role)}
    for page in PAGES:
        if role not in page.roles:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(str(page.path))


def test_a_wrong_password_is_refused_clearly(demo_passwords: dict) -> None:
    name, _ = demo_passwords[Role.admin]
    at = sign_in(open_app(), name, "definitely-not-it")
    assert [e.value for e in at.error] == ["Wrong user name or password."]
    assert registered_pages(at) == {SIGN_IN.path.resolve()}


def test_admin_adds_a_user_on_the_users_page(demo_passwords: dict) -> None:
    name, password = demo_passwords[Role.admin]
    at = sign_in(open_app(), name, password)
    at.switch_page(str(next(p for p in PAGES if p.file == "admin/users.py").path)).run()
    assert at.title[0].value == "Users"
    form_inputs = {w.label: w for w in at.text_input}
    form_inputs["User name"].input("dana")
    form_inputs["Email"].input("dana@example.org")
    at.selectbox[0].select("manager")
    form_inputs["Initial password (at least 10 characters)"].input("a long password")
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert not at.exception
    assert [shown(s.value) for s in at.success] == ["Added dana as manager."]


def test_signing_out_returns_to_the_sign_in_form(demo_passwords: dict) -> None:
    name, password = demo_passwords[Role.manager]
    at = sign_in(open_app(), name, password)
    at.sidebar.button[0].click().run()
    assert registered_pages(at) == {SIGN_IN.path.resolve()}


def test_single_sign_on_is_offered_only_when_configured(demo_passwords: dict) -> None:
    at = open_app()
    assert "Sign in with single sign-on" not in [b.label for b in at.button]
    configured = AppTest.from_file(MAIN, default_timeout=30)
    configured.secrets["auth"] = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret-but-long-enough",
        "client_id": "gapdesk",
        "client_secret": "client-secret",
        "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration",
    }
    configured.run()
    assert not configured.exception
    assert "Sign in with single sign-on" in [b.label for b in configured.button]
