"""Who is signed in, for pages: the tab's state, its session cookie, or single sign-on."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import streamlit as st

from app.auth import accounts
from app.core.settings import get_settings
from app.web.navigation import PAGES
from app.web.units import reading, writing
from review_queue.permissions import Actor

COOKIE = "gapdesk_session"
_ACTOR = "gapdesk_actor"
_TOKEN = "gapdesk_token"  # noqa: S105  (a session-state key, not a secret)
_PENDING_COOKIE = "gapdesk_pending_cookie"


def oidc_configured() -> bool:
    """Whether an ``[auth]`` section for OpenID Connect is present in the secrets."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def current_actor() -> Actor | None:
    """Who is signed in: this browser tab's state, its session cookie, or single sign-on."""
    actor = st.session_state.get(_ACTOR)
    if isinstance(actor, Actor):
        return actor
    token = st.context.cookies.get(COOKIE) if st.context.cookies else None
    if token and token != st.session_state.get("gapdesk_revoked"):
        with reading() as session:
            user = accounts.user_for_token(session=session, token=token)
            if user is not None:
                return _remember(Actor.of(user), token)
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        email = str(st.user.get("email") or "")
        with reading() as session:
            user = accounts.user_for_email(session=session, email=email)
        if user is not None:
            return _remember(Actor.of(user), None)
    return None


def _remember(actor: Actor, token: str | None) -> Actor:
    st.session_state[_ACTOR] = actor
    st.session_state[_TOKEN] = token
    return actor


def require_actor() -> Actor:
    """The signed-in person; a page opened without one, or by a role it is not for, shows nothing.

    The page is the script that calls this (each page does, first thing); its roles come from
    app.web.navigation, so a page script run outside the role-filtered menu still refuses.
    """
    actor = current_actor()
    if actor is None:
        st.warning("Please sign in.")
        st.stop()
    assert actor is not None
    caller = inspect.currentframe()
    script = caller.f_back.f_code.co_filename if caller and caller.f_back else ""
    page = next((p for p in PAGES if str(p.path) == str(Path(script).resolve())), None)
    if page is not None and actor.role not in page.roles:
        st.warning(f"This page is not open to the {actor.role.value} role.")
        st.stop()
    return actor


def sign_in(name: str, password: str) -> Actor:
    """Check the password, open a browser session and remember it; SignInFailed if wrong."""
    # The password check (argon2, deliberately slow) runs without the write lock; only the
    # session row, and a hash upgraded to new argon2 parameters, are written.
    with reading() as session:
        user = accounts.authenticate(session=session, name=name, password=password)
        session.expunge(user)
    with writing() as session:
        user = session.merge(user)
        token = accounts.start_session(session=session, user=user, days=get_settings().session_days)
        actor = Actor.of(user)
    st.session_state[_PENDING_COOKIE] = (token, get_settings().session_days * 86400)
    return _remember(actor, token)


def sign_out() -> None:
    """End the browser session everywhere it is remembered."""
    token = st.session_state.get(_TOKEN)
    if token:
        with writing() as session:
            accounts.end_session(session=session, token=token)
        st.session_state["gapdesk_revoked"] = token
    for key in (_ACTOR, _TOKEN):
        st.session_state.pop(key, None)
    st.session_state[_PENDING_COOKIE] = ("", 0)
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()


def flush_cookie() -> None:
    """Write (or clear) the session cookie in the browser after a sign-in or sign-out."""
    pending = st.session_state.pop(_PENDING_COOKIE, None)
    if pending is None:
        return
    token, max_age = pending
    # The token is URL-safe base64 and json.dumps quotes it, so nothing here can break out.
    value = json.dumps(f"{COOKIE}={token}; path=/; max-age={int(max_age)}; SameSite=Strict")
    st.html(
        "<script>document.cookie = "
        + value
        + " + (location.protocol === 'https:' ? '; Secure' : '');</script>",
        unsafe_allow_javascript=True,
    )
