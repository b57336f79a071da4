"""API tokens (everyone signed in): create and revoke your own tokens for the REST API."""

import pandas as pd
import streamlit as st

from app.auth.api_tokens import Scope, create_api_token, list_api_tokens, revoke_api_token
from app.core.errors import UserError
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.units import reading, writing

actor = require_actor()
st.title("API tokens")
st.caption(
    "A token lets a script or another tool call the Gapdesk API as you, with your role: "
    "`Authorization: Bearer <token>`. A read token only reads; a write token may also decide, "
    "comment and report. The token is shown once; revoke it when it is no longer needed."
)

shown = st.session_state.pop("gapdesk_new_api_token", None)
if shown:
    st.success("Your new token (copy it now: it is not shown again):")
    st.code(shown, language=None)

with st.form("new_api_token", clear_on_submit=True):
    name = st.text_input("What it is for", max_chars=80, placeholder="LMS plug-in")
    scope = st.radio("Scope", [s.value for s in Scope], horizontal=True)
    if st.form_submit_button("Create token", type="primary"):
        try:
            with writing() as session:
                _, token = create_api_token(session=session, actor=actor, name=name, scope=scope)
        except UserError as exc:
            st.error(md_escape(exc))
        else:
            st.session_state["gapdesk_new_api_token"] = token
            st.rerun()

with reading() as session:
    tokens = list_api_tokens(session=session, actor=actor)
if not tokens:
    st.info("You have no API tokens yet.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {"#": t.id, "for": t.name, "scope": t.scope,
                 "created": t.created_at.strftime("%Y-%m-%d %H:%M"),
                 "last used": t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "",
                 "revoked": t.revoked_at.strftime("%Y-%m-%d %H:%M") if t.revoked_at else ""}
                for t in tokens
            ]
        ),
        hide_index=True,
    )  # fmt: skip
    live = {t.id: t.name for t in tokens if t.revoked_at is None}
    if live:
        chosen = st.selectbox(
            "Token to revoke", list(live), format_func=lambda i: f"#{i} {live[i]}"
        )
        if st.button("Revoke"):
            try:
                with writing() as session:
                    revoke_api_token(session=session, actor=actor, token_id=int(chosen))
            except UserError as exc:
                st.error(md_escape(exc))
            else:
                st.rerun()
