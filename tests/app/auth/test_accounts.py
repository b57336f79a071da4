"""Accounts: hashing, sign-in, sessions, roles and the pages they open, service permissions."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from app.auth.accounts import (
    AccountError,
    SignInFailed,
    active_user,
    authenticate,
    create_user,
    hash_password,
    list_users,
    revoke_tokens,
    set_active,
    set_password,
    set_role,
    verify_password,
)
from app.auth.api_tokens import check_api_token, create_api_token, live_token_counts
from app.auth.sessions import end_session, start_session, user_for_token
from app.web.navigation import PAGES, pages_for
from review_queue.findings import queue_counts
from review_queue.permissions import SYSTEM, Actor
from review_queue.tables import Role, User, UserSession

PASSWORD = "correct horse battery"


def _add(session: Session, name: str, role: str, password: str | None = PASSWORD) -> User:
    user = create_user(
        session=session,
        actor=SYSTEM,
        name=name,
        email=f"{name}@example.org",
        role=role,
        password=password,
    )
    session.commit()
    return user


def test_hashes_are_argon2_salted_and_verify() -> None:
    a, b = hash_password(PASSWORD), hash_password(PASSWORD)
    assert a.startswith("$argon2id$") and a != b and PASSWORD not in a
    assert verify_password(a, PASSWORD)
    assert not verify_password(a, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)
    assert not verify_password("not-a-hash", PASSWORD)


def test_the_password_is_never_stored_in_clear(session: Session) -> None:
    _add(session, "alice", "admin")
    stored = session.exec(select(User)).one()
    assert stored.password_hash is not None and PASSWORD not in stored.password_hash
    assert PASSWORD not in repr(stored)


def test_sign_in_by_name_or_email_and_refusal(session: Session) -> None:
    _add(session, "alice", "admin")
    assert authenticate(session=session, name="alice", password=PASSWORD).name == "alice"
    assert authenticate(session=session, name=" Alice@Example.org ", password=PASSWORD)
    with pytest.raises(SignInFailed, match="wrong user name or password"):
        authenticate(session=session, name="alice", password="nope-nope-nope")
    with pytest.raises(SignInFailed, match="wrong user name or password"):
        authenticate(session=session, name="nobody", password=PASSWORD)


def test_disabled_and_password_less_users_cannot_sign_in(session: Session) -> None:
    sso = _add(session, "sso-only", "manager", password=None)
    with pytest.raises(SignInFailed):
        authenticate(session=session, name="sso-only", password="")
    assert sso.id is not None and active_user(session=session, user_id=sso.id) == sso
    sso.active = False
    session.add(sso)
    session.commit()
    assert active_user(session=session, user_id=sso.id) is None


def test_browser_sessions_survive_until_sign_out_or_password_change(session: Session) -> None:
    user = _add(session, "bob", "instructor")
    token = start_session(session=session, user=user, days=14)
    session.commit()
    assert token not in {s.token_hash for s in session.exec(select(UserSession))}
    assert user_for_token(session=session, token=token) == user
    assert user_for_token(session=session, token=token + "x") is None
    end_session(session=session, token=token)
    session.commit()
    assert user_for_token(session=session, token=token) is None
    token2 = start_session(session=session, user=user, days=14)
    set_password(session=session, actor=SYSTEM, name="bob", password="another password")
    session.commit()
    assert user_for_token(session=session, token=token2) is None


@pytest.mark.parametrize(
    ("name", "email", "role", "password", "message"),
    [
        ("a", "a@example.org", "admin", PASSWORD, "user name"),
        ("system", "sys@example.org", "admin", PASSWORD, "reserved"),
        ("System", "sys@example.org", "admin", PASSWORD, "reserved"),
        ("carol", "not-an-email", "admin", PASSWORD, "not an email"),
        # Crafted to make a backtracking pattern take minutes (security issue 15, item 7).
        ("carol", "a@" + "." * 140_000 + "@", "admin", PASSWORD, "not an email"),
        ("carol", "carol@example.org", "owner", PASSWORD, "role 'owner'"),
        ("carol", "carol@example.org", "admin", "short", "at least 10"),
    ],
)
def test_bad_account_requests_are_refused_with_a_reason(
    session: Session, name: str, email: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        create_user(
            session=session, actor=SYSTEM, name=name, email=email, role=role, password=password
        )


def test_duplicate_name_or_email_is_refused(session: Session) -> None:
    _add(session, "alice", "admin")
    with pytest.raises(AccountError, match="name already exists"):
        create_user(
            session=session, actor=SYSTEM, name="alice", email="x@example.org",
            role="admin", password=PASSWORD,
        )  # fmt: skip
    with pytest.raises(AccountError, match="email already exists"):
        create_user(
            session=session, actor=SYSTEM, name="alice2", email="ALICE@example.org",
            role="admin", password=PASSWORD,
        )  # fmt: skip


@pytest.mark.parametrize("role", [Role.instructor, Role.manager])
def test_admin_only_services_refuse_other_roles(session: Session, role: Role) -> None:
    user = _add(session, "someone", role.value)
    actor = Actor.of(user)
    with pytest.raises(PermissionError, match="needs the admin role"):
        list_users(session=session, actor=actor)
    with pytest.raises(PermissionError, match="needs the admin role"):
        create_user(
            session=session, actor=actor, name="evil", email="evil@example.org",
            role="admin", password=PASSWORD,
        )  # fmt: skip
    with pytest.raises(PermissionError):
        set_password(session=session, actor=actor, name="someone", password=PASSWORD)
    # Everyone may read their own home counts.
    assert queue_counts(session=session, actor=actor).total_open == 0


def test_signed_out_callers_are_refused(session: Session) -> None:
    with pytest.raises(PermissionError, match="sign in"):
        queue_counts(session=session, actor=None)  # type: ignore[arg-type]


def test_each_role_sees_only_its_pages() -> None:
    titles = {role: [p.title for p in pages_for(role)] for role in Role}
    assert titles[Role.admin][0] == "Home" and "Users" in titles[Role.admin]
    assert "Users" not in titles[Role.instructor] and "Users" not in titles[Role.manager]
    for role in Role:
        assert all(role in p.roles for p in pages_for(role))
    for page in PAGES:
        assert page.path.is_file(), f"page script missing: {page.path}"


@pytest.mark.parametrize("name", ["bob\nadmin", "bo b", "b", "bob\n\n!"])
def test_a_name_with_a_line_break_or_space_is_refused(session: Session, name: str) -> None:
    with pytest.raises(AccountError, match="name"):
        create_user(
            session=session, actor=SYSTEM, name=name, email="bob@example.org", role="admin",
            password=PASSWORD,
        )  # fmt: skip
    assert session.exec(select(User).where(User.email == "bob@example.org")).first() is None


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("course=C1;user=U2", "`course=C1;user=U2`"),
        ("a`b", "``a`b``"),
        ("``x", "``` ``x ```"),
        ("two\nlines", "`two lines`"),
    ],
)
def test_a_code_span_holds_any_backticks(text: str, shown: str) -> None:
    from app.web.presenters import md_code

    assert md_code(text) == shown


def test_deactivating_ends_sessions_and_reactivating_lets_in_again(session: Session) -> None:
    ada = Actor.of(_add(session, "ada", "admin"))
    bob = _add(session, "bob", "instructor")
    token = start_session(session=session, user=bob, days=14)
    session.commit()
    set_active(session=session, actor=ada, name="bob", active=False)
    session.commit()
    assert user_for_token(session=session, token=token) is None
    with pytest.raises(SignInFailed):
        authenticate(session=session, name="bob", password=PASSWORD)
    set_active(session=session, actor=ada, name="bob", active=True)
    session.commit()
    assert authenticate(session=session, name="bob", password=PASSWORD).name == "bob"
    # The old session stays ended: reactivating is not signing in.
    assert user_for_token(session=session, token=token) is None


def test_deactivating_revokes_api_tokens_for_good(session: Session) -> None:
    ada = Actor.of(_add(session, "ada", "admin"))
    bob = _add(session, "bob", "instructor")
    _, token = create_api_token(session=session, actor=Actor.of(bob), name="LMS", scope="write")
    session.commit()
    assert check_api_token(session=session, token=token) is not None
    set_active(session=session, actor=ada, name="bob", active=False)
    session.commit()
    set_active(session=session, actor=ada, name="bob", active=True)
    session.commit()
    # Reactivating lets bob sign in again, but the token stays revoked.
    assert check_api_token(session=session, token=token) is None
    assert live_token_counts(session=session, actor=ada) == {}


def test_an_admin_revokes_every_live_token_of_a_user(session: Session) -> None:
    ada = Actor.of(_add(session, "ada", "admin"))
    bob = Actor.of(_add(session, "bob", "instructor"))
    tokens = [
        create_api_token(session=session, actor=bob, name=f"script {i}", scope="read")[1]
        for i in range(3)
    ]
    _, own = create_api_token(session=session, actor=ada, name="mine", scope="write")
    session.commit()
    assert bob.id is not None and ada.id is not None
    assert live_token_counts(session=session, actor=ada) == {bob.id: 3, ada.id: 1}
    assert revoke_tokens(session=session, actor=ada, name="bob") == 3
    session.commit()
    assert all(check_api_token(session=session, token=t) is None for t in tokens)
    assert check_api_token(session=session, token=own) is not None  # only bob's
    assert revoke_tokens(session=session, actor=ada, name="bob") == 0
    with pytest.raises(PermissionError):
        revoke_tokens(session=session, actor=bob, name="ada")
    with pytest.raises(AccountError, match="no user named"):
        revoke_tokens(session=session, actor=ada, name="nobody-here")


def test_roles_change_but_never_leave_no_active_admin(session: Session) -> None:
    ada = Actor.of(_add(session, "ada", "admin"))
    _add(session, "bob", "instructor")
    assert set_role(session=session, actor=ada, name="bob", role="manager").role == "manager"
    with pytest.raises(AccountError, match="your own role"):
        set_role(session=session, actor=ada, name="ada", role="manager")
    with pytest.raises(AccountError, match="your own account"):
        set_active(session=session, actor=ada, name="ada", active=False)
    with pytest.raises(AccountError, match="last active admin"):
        set_role(session=session, actor=SYSTEM, name="ada", role="manager")
    with pytest.raises(AccountError, match="last active admin"):
        set_active(session=session, actor=SYSTEM, name="ada", active=False)
    with pytest.raises(AccountError, match="role 'owner'"):
        set_role(session=session, actor=ada, name="bob", role="owner")
    with pytest.raises(AccountError, match="no user named"):
        set_active(session=session, actor=ada, name="nobody-here", active=False)
    set_role(session=session, actor=ada, name="bob", role="admin")
    assert set_role(session=session, actor=SYSTEM, name="ada", role="manager").role == "manager"
