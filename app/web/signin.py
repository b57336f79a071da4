"""Who is signed in, for pages: asked of the database on every rerun (once per run, however
many times the run asks), never taken from an earlier run.

A tab remembers only its session token (or, after single sign-on, its user id); each rerun asks
the database whether that session still stands (not revoked, expired or idle; the user active)
and which role the user has now. So a new password, a deactivation, a role change or a sign-out
in another tab takes effect on the open tab's next rerun.

Two kinds of run skip ``app/main.py`` and the page's ``require_actor()``: a widget's callback
(it runs before the script) and a fragment's own rerun. Each asks again: a callback that changes
something is wrapped in ``signed_in_only``, and a fragment calls ``recheck_in_fragment()`` first.
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec

import streamlit as st

from app.auth import accounts, oidc, sessions
from app.auth.throttle import ThrottlePolicy, password_sign_in
from app.core.settings import get_settings
from app.web import session_cookie
from app.web.navigation import PAGES
from app.web.units import engine, reading, writing
from review_queue.permissions import Actor

COOKIE = session_cookie.COOKIE
_TOKEN = "gapdesk_token"  # noqa: S105  (a session-state key, not a secret)
_SSO_USER = "gapdesk_sso_user"
_SSO_REFUSED = "gapdesk_sso_refused"
_REVOKED = "gapdesk_revoked"
_PENDING_COOKIE = "gapdesk_pending_cookie"
_CHECKED_AS = "gapdesk_checked_as"  # (user id, role) that the page's last full run was drawn for
P = ParamSpec("P")


def oidc_configured() -> bool:
    """Whether an ``[auth]`` section for OpenID Connect is present in the secrets."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _sso_signed_in() -> bool:
    return oidc_configured() and bool(getattr(st.user, "is_logged_in", False))


# The answer of the session check, per script run. One run asks several times (the entry
# script and the page's require_actor() on a full run; on a press in the Review queue, the
# callback and each of the two fragments it reruns), all within milliseconds; the database is
# asked once per run. Keyed by the run's own ParallelFragmentCoordinator, which Streamlit makes
# anew for every run (ScriptRunContext.reset) and only for it: a later run never finds an
# earlier run's answer, and the entry goes with the run (weak keys).
_checked_in_run: weakref.WeakKeyDictionary[object, Actor | None] = weakref.WeakKeyDictionary()
_checked_lock = threading.Lock()


def _this_run() -> object | None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return getattr(ctx, "parallel_coordinator", None) if ctx is not None else None


def current_actor() -> Actor | None:
    """Who is signed in now: the tab's (or cookie's) session re-checked (once per run), or
    single sign-on."""
    run = _this_run()
    if run is not None:
        with _checked_lock:
            if run in _checked_in_run:
                return _checked_in_run[run]
    actor = _check_now()
    if run is not None:
        with _checked_lock:
            _checked_in_run[run] = actor
    return actor


def _forget_check() -> None:
    """A sign-in or sign-out changed the answer within this run."""
    run = _this_run()
    if run is not None:
        with _checked_lock:
            _checked_in_run.pop(run, None)


def _check_now() -> Actor | None:
    token = st.session_state.get(_TOKEN)
    if not token:
        cookie = st.context.cookies.get(COOKIE) if st.context.cookies else None
        token = cookie if cookie and cookie != st.session_state.get(_REVOKED) else None
    if token:
        actor = _resume(token)
        if actor is not None:
            return actor
        # Revoked, expired, idle or its user deactivated: the tab is signed out, cookie too.
        _forget()
        st.session_state[_REVOKED] = token
        st.session_state[_PENDING_COOKIE] = ("", 0)
    if _sso_signed_in():
        return _single_sign_on()
    return None


def _resume(token: str) -> Actor | None:
    policy = sessions.SessionPolicy.from_settings(get_settings())
    with reading() as session:
        check = sessions.check_session(session=session, token=token, policy=policy)
    if check is None:
        return None
    if check.needs_touch or check.needs_rotation:
        with writing() as session:
            rotated = sessions.refresh_session(session=session, check=check, policy=policy)
        if rotated is not None:
            token = rotated
            st.session_state[_PENDING_COOKIE] = (token, policy.days * 86400)
    st.session_state[_TOKEN] = token
    return Actor.of(check.user)


def _single_sign_on() -> Actor | None:
    if st.session_state.get(_SSO_REFUSED):
        return None
    user_id = st.session_state.get(_SSO_USER)
    if user_id is not None:
        with reading() as session:
            user = accounts.active_user(session=session, user_id=user_id)
        if user is None:
            _forget()
            st.session_state[_SSO_REFUSED] = "this Gapdesk account is deactivated"
            return None
        return Actor.of(user)
    claims = {k: st.user.get(k) for k in ("iss", "sub", "email", "email_verified")}
    try:
        with writing() as session:
            user = oidc.user_for_identity(
                session=session,
                claims=claims,
                allowed_issuers=get_settings().allowed_oidc_issuers(),
            )
            actor = Actor.of(user)
    except oidc.SingleSignOnRefused as exc:
        st.session_state[_SSO_REFUSED] = str(exc)
        return None
    st.session_state[_SSO_USER] = actor.id
    return actor


def single_sign_on_refusal() -> str | None:
    """Why the identity provider's user was refused (for the sign-in page), if they were."""
    refused = st.session_state.get(_SSO_REFUSED)
    return str(refused) if refused and _sso_signed_in() else None


def _forget() -> None:
    _forget_check()
    for key in (_TOKEN, _SSO_USER):
        st.session_state.pop(key, None)


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
    st.session_state[_CHECKED_AS] = (actor.id, actor.role)
    return actor


def still_signed_in() -> bool:
    """Whether the person the page was drawn for is still signed in here, with the same role
    (asked of the database now, as on a full rerun)."""
    actor = current_actor()
    drawn_for = st.session_state.get(_CHECKED_AS)
    return actor is not None and drawn_for == (actor.id, actor.role)


def signed_in_only(callback: Callable[P, None]) -> Callable[P, None]:
    """``callback`` (a widget's on_click or on_change that changes something) runs only while
    the page's person is still signed in with the same role; otherwise it does nothing, and the
    run that follows shows the sign-in form (or the page's refusal)."""

    @functools.wraps(callback)
    def checked(*args: P.args, **kwargs: P.kwargs) -> None:
        if still_signed_in():
            callback(*args, **kwargs)

    return checked


def recheck_in_fragment() -> None:
    """First thing in a fragment: on the fragment's own rerun (which skips the app's sign-in
    check), ask again; a session that ended, or a changed role, reruns the whole app."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None and ctx.fragment_ids_this_run and not still_signed_in():
        st.rerun(scope="app")


def _client_address() -> str:
    # Behind a reverse proxy this is the proxy's address (see the README).
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "unknown"


def sign_in(name: str, password: str) -> Actor:
    """Check the password under the back-off and open a browser session; SignInFailed (or its
    SignInThrottled and SignInBusy) if refused."""
    settings = get_settings()
    user, token = password_sign_in(
        engine=engine(),
        name=name,
        password=password,
        client=_client_address(),
        days=settings.session_days,
        policy=ThrottlePolicy.from_settings(settings),
    )
    st.session_state[_PENDING_COOKIE] = (token, settings.session_days * 86400)
    st.session_state[_TOKEN] = token
    st.session_state.pop(_REVOKED, None)
    _forget_check()
    return Actor.of(user)


def sign_out() -> None:
    """End the browser session (with every token rotated from it) and forget it here."""
    token = st.session_state.get(_TOKEN)
    if token:
        with writing() as session:
            sessions.end_session(session=session, token=token)
        st.session_state[_REVOKED] = token
    _forget()
    st.session_state[_PENDING_COOKIE] = ("", 0)
    if _sso_signed_in():
        st.session_state.pop(_SSO_REFUSED, None)
        st.logout()


def flush_cookie() -> None:
    """Have the server set (or clear) the HttpOnly session cookie after a sign-in, a rotation or
    a sign-out: the page redeems a one-time ticket at app.web.session_cookie's route."""
    pending = st.session_state.pop(_PENDING_COOKIE, None)
    if pending is None:
        return
    token, max_age = pending
    ticket = session_cookie.issue_ticket(token, int(max_age))
    st.html(session_cookie.fetch_script(ticket), unsafe_allow_javascript=True)
