"""Administrators manage who may sign in and with which role."""

import pandas as pd
import streamlit as st

from app.auth.accounts import AccountError, create_user, list_users
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.units import reading, writing
from review_queue.tables import Role

actor = require_actor()
st.title("Users")

with reading() as session:
    users = list_users(session=session, actor=actor)
st.dataframe(
    pd.DataFrame(
        [{"name": u.name, "email": u.email, "role": u.role, "active": u.active} for u in users],
        columns=["name", "email", "role", "active"],
    ),
    hide_index=True,
)

st.subheader("Add a user")
with st.form("add_user", clear_on_submit=True):
    name = st.text_input("User name")
    email = st.text_input("Email")
    role = st.selectbox("Role", [r.value for r in Role])
    password = st.text_input("Initial password (at least 10 characters)", type="password")
    added = st.form_submit_button("Add user", type="primary")
if added:
    try:
        with writing() as session:
            user = create_user(
                session=session, actor=actor, name=name, email=email, role=role,
                password=password,
            )  # fmt: skip
        st.success(md_escape(f"Added {user.name} as {user.role}."))
    except (AccountError, PermissionError) as exc:
        st.error(md_escape(exc))
