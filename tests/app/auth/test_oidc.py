"""Which account a single sign-on identity is: verified email, allowed issuer, bound subject."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from app.auth.accounts import create_user
from app.auth.oidc import SingleSignOnRefused, user_for_identity
from review_queue.permissions import SYSTEM

ISSUER = "https://id.example.org"


@pytest.fixture
def people(session: Session) -> Session:
    for name in ("max", "mia"):
        create_user(
            session=session, actor=SYSTEM, name=name, email=f"{name}@example.org",
            role="manager", password=None,
        )  # fmt: skip
    session.commit()
    return session


def _claims(sub: str, email: str, verified: object = True, iss: str = ISSUER) -> dict:
    return {"iss": iss, "sub": sub, "email": email, "email_verified": verified}


def _sign_on(session: Session, claims: dict) -> str:
    user = user_for_identity(session=session, claims=claims, allowed_issuers=[ISSUER + "/"])
    session.commit()
    return user.name


def test_the_first_sign_on_binds_issuer_and_subject(people: Session) -> None:
    assert _sign_on(people, _claims("s-1", "MAX@example.org")) == "max"
    assert _sign_on(people, _claims("s-1", "someone.else@example.org")) == "max"
    with pytest.raises(SingleSignOnRefused, match="another single-sign-on identity"):
        _sign_on(people, _claims("s-2", "max@example.org"))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (_claims("s-9", "mia@example.org", verified=False), "not verified"),
        (_claims("s-9", "mia@example.org", verified=None), "not verified"),
        (_claims("s-9", "mia@example.org", verified="false"), "not verified"),
        (_claims("s-9", "mia@example.org", iss="https://evil.example.org"), "not allowed"),
        (_claims("", "mia@example.org"), "no issuer or subject"),
        (_claims("s-9", "stranger@example.org"), "has no Gapdesk access"),
        (_claims("s-9", ""), "no email"),
    ],
)
def test_refusals_say_why_and_bind_nothing(people: Session, claims: dict, message: str) -> None:
    with pytest.raises(SingleSignOnRefused, match=message):
        _sign_on(people, claims)
    people.rollback()
    assert _sign_on(people, _claims("s-9", "mia@example.org", verified="true")) == "mia"


def test_no_issuer_configured_accepts_none(people: Session) -> None:
    with pytest.raises(SingleSignOnRefused, match="not allowed"):
        user_for_identity(session=people, claims=_claims("s-1", "max@example.org"),
                          allowed_issuers=[])  # fmt: skip


def test_a_deactivated_bound_account_is_refused(people: Session) -> None:
    _sign_on(people, _claims("s-1", "max@example.org"))
    from app.auth.accounts import set_active

    set_active(session=people, actor=SYSTEM, name="max", active=False)
    people.commit()
    with pytest.raises(SingleSignOnRefused, match="deactivated"):
        _sign_on(people, _claims("s-1", "max@example.org"))
