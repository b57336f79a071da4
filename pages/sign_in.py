"""Sign in with a Gapdesk account, or with the organisation's single sign-on when configured."""

import streamlit as st

from app.auth.accounts import SignInFailed
from app.web.signin import oidc_configured, sign_in

st.title("Gapdesk")
st.write("Find the hidden gaps of your learning programme, and decide each one.")

if oidc_configured() and getattr(st.user, "is_logged_in", False):
    # Signed in with the identity provider, but the email is not one of our users.
    st.error(
        f"{st.user.get('email', 'This account')} has no Gapdesk access. "
        "Ask an administrator to add you."
    )
    if st.button("Sign out of single sign-on"):
        st.logout()
    st.stop()

with st.form("sign_in", enter_to_submit=True):
    name = st.text_input("User name or email", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    try:
        sign_in(name, password)
    except SignInFailed:
        st.error("Wrong user name or password.")
    else:
        st.rerun()

if oidc_configured():
    st.divider()
    if st.button("Sign in with single sign-on", icon=":material/key:"):
        st.login()
