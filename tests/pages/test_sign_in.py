"""AppTest: each role signs in and sees only its pages; a wrong password is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from app.auth.accounts import set_active, set_password, set_role
from app.auth.api_tokens import check_api_token, create_api_token
from app.auth.sessions import _token_hash, end_session, user_for_token
from app.core.db import session_scope
from app.demo.set_up import ensure_demo_accounts
from app.web.navigation import PAGES, SIGN_IN, pages_for
from review_queue.permissions import SYSTEM, Actor
from review_queue.tables import Role, User, UserSession
from review_queue.types import utcnow
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
    assert [shown(e.value) for e in at.error] == ["Wrong user name or password."]
    assert registered_pages(at) == {SIGN_IN.path.resolve()}


def _users_page(demo_passwords: dict) -> AppTest:
    name, password = demo_passwords[Role.admin]
    at = sign_in(open_app(), name, password)
    at.switch_page(str(next(p for p in PAGES if p.file == "admin/users.py").path)).run()
    assert at.title[0].value == "Users"
    return at


def _rows(at: AppTest) -> dict[str, dict]:
    frame = at.dataframe[0].value
    return {row["name"]: row for row in frame.to_dict("records")}


def test_admin_adds_a_user_on_the_users_page_and_sees_it_at_once(demo_passwords: dict) -> None:
    at = _users_page(demo_passwords)
    form_inputs = {w.label: w for w in at.text_input}
    form_inputs["User name"].input("dana")
    form_inputs["Email"].input("dana@example.org")
    next(s for s in at.selectbox if s.label == "Role").select("manager")
    form_inputs["Initial password (at least 10 characters)"].input("a long password")
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert not at.exception
    assert [shown(s.value) for s in at.success] == ["Added dana as manager."]
    assert _rows(at)["dana"]["role"] == "manager"
    assert _rows(at)["dana"]["last sign-in"] == "never"


def test_admin_changes_role_deactivates_and_resets_a_password(
    db: Engine, demo_passwords: dict
) -> None:
    manager, manager_password = demo_passwords[Role.manager]
    other = sign_in(open_app(), manager, manager_password)  # the manager's own open tab
    at = _users_page(demo_passwords)
    assert _rows(at)[demo_passwords[Role.admin][0]]["last sign-in"] != "never"
    next(s for s in at.selectbox if s.label == "Account").select(manager).run()
    at.selectbox(key="change_role").select("instructor").run()
    next(b for b in at.button if b.label == "Change role").click().run()
    assert [shown(s.value) for s in at.success] == [f"{manager} is now instructor."]
    assert _rows(at)[manager]["role"] == "instructor"
    next(b for b in at.button if b.label == "Deactivate").click().run()
    assert _rows(at)[manager]["status"] == "deactivated"
    other.run()
    assert registered_pages(other) == {SIGN_IN.path.resolve()}
    next(b for b in at.button if b.label == "Reactivate").click().run()
    assert _rows(at)[manager]["status"] == "active"
    box = next(w for w in at.text_input if w.label.startswith(f"New password for {manager}"))
    box.input("short")
    at.button(key="FormSubmitter:reset_password-Reset password").click().run()
    assert [shown(e.value) for e in at.error] == ["the password must have at least 10 characters"]
    box = next(w for w in at.text_input if w.label.startswith(f"New password for {manager}"))
    box.input("a brand new password")
    at.button(key="FormSubmitter:reset_password-Reset password").click().run()
    assert not at.error
    assert sign_in(open_app(), manager, "a brand new password").title[0].value == (
        f"Hello, {manager}"
    )


def test_admin_revokes_a_users_api_tokens_on_the_users_page(
    db: Engine, demo_passwords: dict
) -> None:
    manager = demo_passwords[Role.manager][0]
    with session_scope(db) as s:
        user = s.exec(select(User).where(User.name == manager)).one()
        _, token = create_api_token(session=s, actor=Actor.of(user), name="report", scope="read")
    at = _users_page(demo_passwords)
    assert _rows(at)[manager]["API tokens"] == 1
    next(s for s in at.selectbox if s.label == "Account").select(manager).run()
    label = f"Revoke all {manager}'s API tokens (1 live)"
    next(b for b in at.button if b.label == label).click().run()
    assert not at.error
    assert [shown(s.value) for s in at.success] == [
        f"{manager}'s API tokens are revoked: calls made with them are refused from now on."
    ]
    assert _rows(at)[manager]["API tokens"] == 0
    assert next(b for b in at.button if b.label.startswith("Revoke all")).disabled
    with session_scope(db) as s:
        assert check_api_token(session=s, token=token) is None


def test_admin_cannot_deactivate_themselves(demo_passwords: dict) -> None:
    at = _users_page(demo_passwords)
    next(s for s in at.selectbox if s.label == "Account").select(
        demo_passwords[Role.admin][0]
    ).run()
    next(b for b in at.button if b.label == "Deactivate").click().run()
    assert [shown(e.value) for e in at.error] == ["you cannot deactivate your own account"]


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
