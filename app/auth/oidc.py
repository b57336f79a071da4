"""Single sign-on (OpenID Connect): which Gapdesk account an identity provider's user is.

An account is bound to one identity, the provider's issuer and subject, at its first single
sign-on, and matched on them ever after: a later change of email at the provider neither loses
the account nor hands it to whoever gets the old address. The first match is by email, and only
a verified email (``email_verified``) from an allowed issuer counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlmodel import Session, col, select

from app.auth.accounts import normalise_email
from review_queue.tables import User
from review_queue.types import utcnow


class SingleSignOnRefused(Exception):
    """The identity provider's user may not use Gapdesk; the message says why, for that person."""


def _same_issuer(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _verified(value: object) -> bool:
    # Some providers send the claim as the string "true".
    return value is True or (isinstance(value, str) and value.lower() == "true")


def user_for_identity(
    *, session: Session, claims: Mapping[str, object], allowed_issuers: Iterable[str]
) -> User:
    """The active account for these ID-token claims (``iss``, ``sub``, ``email``,
    ``email_verified``), bound to them on first use; SingleSignOnRefused otherwise."""
    issuer = str(claims.get("iss") or "").strip()
    subject = str(claims.get("sub") or "").strip()
    if not issuer or not subject:
        raise SingleSignOnRefused("the identity provider sent no issuer or subject")
    if not any(_same_issuer(issuer, allowed) for allowed in allowed_issuers):
        raise SingleSignOnRefused(
            f"single sign-on from {issuer} is not allowed here (GAPDESK_OIDC_ISSUERS)"
        )
    bound = session.exec(
        select(User).where(col(User.oidc_issuer) == issuer, col(User.oidc_subject) == subject)
    ).first()
    if bound is None:
        bound = _bind_by_email(session, claims, issuer, subject)
    if not bound.active:
        raise SingleSignOnRefused(f"the Gapdesk account {bound.name} is deactivated")
    bound.last_sign_in_at = utcnow()
    session.add(bound)
    return bound


def _bind_by_email(
    session: Session, claims: Mapping[str, object], issuer: str, subject: str
) -> User:
    email = normalise_email(str(claims.get("email") or ""))
    if not email:
        raise SingleSignOnRefused("the identity provider sent no email")
    if not _verified(claims.get("email_verified")):
        raise SingleSignOnRefused(f"the identity provider has not verified {email}")
    user = session.exec(select(User).where(col(User.email) == email)).first()
    if user is None:
        raise SingleSignOnRefused(f"{email} has no Gapdesk access")
    if user.oidc_subject is not None:
        raise SingleSignOnRefused(
            f"the Gapdesk account for {email} belongs to another single-sign-on identity"
        )
    user.oidc_issuer, user.oidc_subject = issuer, subject
    return user
