"""AppTest: each role signs in and sees only its pages; a wrong password is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from app.auth.accounts import set_active, set_password, set_role
from app.auth.sessions import _token_hash, end_session, user_for_token
from app.core.db import session_scope
from app.demo.set_up import ensure_demo_accounts
from app.web.navigation import PAGES, SIGN_IN, pages_for
from review_queue.permissions import SYSTEM
from review_queue.tables import Role, UserSession
from review_queue.types import utcnow
from tests.helpers.apptest import MAIN, app_on, open_app, registered_pages, sign_in


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
    assert [s.value for s in at.success] == ["Added dana as manager."]


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


def _end_elsewhere(engine: Engine, how: str, name: str, token: str) -> None:
    """What another tab, an administrator or the clock does to the open tab's session."""
    with session_scope(engine) as session:
        if how == "password changed":
            set_password(session=session, actor=SYSTEM, name=name, password="another long pass")
        elif how == "deactivated":
            set_active(session=session, actor=SYSTEM, name=name, active=False)
        elif how == "signed out in another tab":
            end_session(session=session, token=token)
        else:  # idle: the session was last used longer ago than the idle timeout
            row = session.exec(select(UserSession).where(UserSession.revoked_at == None)).all()  # noqa: E711
            for r in row:
                r.last_seen_at = r.created_at = utcnow() - timedelta(hours=5)
                session.add(r)


@pytest.mark.parametrize(
    "how", ["password changed", "deactivated", "signed out in another tab", "idle"]
)
def test_an_open_tab_is_signed_out_on_its_next_rerun(
    db: Engine, demo_passwords: dict, how: str
) -> None:
    name, password = demo_passwords[Role.manager]
    at = sign_in(open_app(), name, password)
    assert at.title[0].value == f"Hello, {name}"
    at.run()
    assert at.title[0].value == f"Hello, {name}"
    _end_elsewhere(db, how, name, at.session_state["gapdesk_token"])
    at.run()
    assert not at.exception
    assert registered_pages(at) == {SIGN_IN.path.resolve()}
    assert [w.label for w in at.text_input] == ["User name or email", "Password"]


def test_a_role_change_reaches_the_open_tab_on_its_next_rerun(
    db: Engine, demo_passwords: dict
) -> None:
    name, password = demo_passwords[Role.manager]
    at = sign_in(open_app(), name, password)
    assert registered_pages(at) == {p.path.resolve() for p in pages_for(Role.manager)}
    with session_scope(db) as session:
        set_role(session=session, actor=SYSTEM, name=name, role="instructor")
    at.run()
    assert registered_pages(at) == {p.path.resolve() for p in pages_for(Role.instructor)}


def test_an_old_token_is_rotated_and_the_old_one_dies_soon(
    db: Engine, demo_passwords: dict
) -> None:
    name, password = demo_passwords[Role.manager]
    at = sign_in(open_app(), name, password)
    first = at.session_state["gapdesk_token"]
    with session_scope(db) as session:
        for r in session.exec(select(UserSession)).all():
            r.created_at = r.last_seen_at = utcnow() - timedelta(minutes=45)
            session.add(r)
    at.run()
    second = at.session_state["gapdesk_token"]
    assert second != first and at.title[0].value == f"Hello, {name}"
    with session_scope(db, read_only=True) as session:
        old = session.exec(
            select(UserSession).where(UserSession.token_hash == _token_hash(first))
        ).one()
        # Other tabs holding the old token may still rotate from it, for the idle timeout only.
        assert old.expires_at <= utcnow() + timedelta(minutes=121)
    # Signing out ends the whole chain, the rotated-out token included.
    at.sidebar.button[0].click().run()
    with session_scope(db, read_only=True) as session:
        assert user_for_token(session=session, token=first) is None
        assert user_for_token(session=session, token=second) is None
