"""Administrators manage who may sign in, with which role, and their passwords."""

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from app.auth.accounts import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    create_user,
    list_users,
    revoke_tokens,
    set_active,
    set_password,
    set_role,
)
from app.auth.api_tokens import live_token_counts
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.units import reading, writing
from review_queue.tables import Role

_DONE = "users_page_done"

actor = require_actor()
st.title("Users")


def _apply(change: Callable[[Any], object], done: str) -> None:
    """Run one account change; on success say so above the (re-read) table."""
    try:
        with writing() as session:
            change(session)
    except (AccountError, PermissionError) as exc:
        st.error(md_escape(exc))
        return
    st.session_state[_DONE] = done
    st.rerun()


if done := st.session_state.pop(_DONE, None):
    st.success(md_escape(done))

with reading() as session:
    users = list_users(session=session, actor=actor)
    tokens = live_token_counts(session=session, actor=actor)
st.dataframe(
    pd.DataFrame(
        [
            {
                "name": u.name,
                "email": u.email,
                "role": u.role,
                "status": "active" if u.active else "deactivated",
                "last sign-in": (
                    f"{u.last_sign_in_at:%Y-%m-%d %H:%M} UTC" if u.last_sign_in_at else "never"
                ),
                "sign-in with": " and ".join(
                    w
                    for w, on in (("password", u.password_hash), ("single sign-on", u.oidc_subject))
                    if on
                )
                or "single sign-on (not yet used)",
                "API tokens": tokens.get(u.id or -1, 0),
            }
            for u in users
        ],
        columns=["name", "email", "role", "status", "last sign-in", "sign-in with", "API tokens"],
    ),
    hide_index=True,
)

st.subheader("Change an account")
chosen = st.selectbox(
    "Account", [u.name for u in users], index=None, placeholder="Choose an account"
)
user = next((u for u in users if u.name == chosen), None)
if user is not None:
    name = user.name
    role_col, active_col = st.columns(2)
    with role_col:
        roles = [r.value for r in Role]
        new_role = st.selectbox("Role", roles, index=roles.index(user.role), key="change_role")
        if st.button("Change role", disabled=new_role == user.role):
            _apply(
                lambda s: set_role(session=s, actor=actor, name=name, role=new_role),
                f"{name} is now {new_role}.",
            )
    with active_col:
        if user.active:
            st.caption("Deactivating signs the person out everywhere and revokes their API tokens.")
            if st.button("Deactivate", icon=":material/block:"):
                _apply(
                    lambda s: set_active(session=s, actor=actor, name=name, active=False),
                    f"{name} is deactivated and signed out everywhere.",
                )
        else:
            st.caption("Deactivated: cannot sign in.")
            if st.button("Reactivate", icon=":material/check_circle:"):
                _apply(
                    lambda s: set_active(session=s, actor=actor, name=name, active=True),
                    f"{name} may sign in again.",
                )
    live = tokens.get(user.id or -1, 0)
    if st.button(
        f"Revoke all {name}'s API tokens ({live} live)",
        icon=":material/key_off:",
        disabled=not live,
        help="For a lost laptop or a leaked token: every script using them stops at once.",
    ):
        _apply(
            lambda s: revoke_tokens(session=s, actor=actor, name=name),
            f"{name}'s API tokens are revoked: calls made with them are refused from now on.",
        )
    with st.form("reset_password", clear_on_submit=True):
        new_password = st.text_input(
            f"New password for {name} (at least {MIN_PASSWORD_LENGTH} characters)",
            type="password",
        )
        if st.form_submit_button("Reset password"):
            _apply(
                lambda s: set_password(session=s, actor=actor, name=name, password=new_password),
                f"{name}'s password is changed; their open sessions are ended.",
            )

st.subheader("Add a user")
with st.form("add_user", clear_on_submit=True):
    new_name = st.text_input("User name")
    email = st.text_input("Email")
    role = st.selectbox("Role", [r.value for r in Role])
    password = st.text_input(
        f"Initial password (at least {MIN_PASSWORD_LENGTH} characters)", type="password"
    )
    added = st.form_submit_button("Add user", type="primary")
if added:
    _apply(
        lambda s: create_user(
            session=s, actor=actor, name=new_name, email=email, role=role, password=password
        ),
        f"Added {new_name.strip()} as {role}.",
    )
