"""Sign in with a Gapdesk account, or with the organisation's single sign-on when configured."""

import streamlit as st

from app.auth.accounts import SignInFailed
from app.auth.throttle import SignInBusy, SignInThrottled
from app.web.signin import oidc_configured, sign_in, sign_out, single_sign_on_refusal

st.title("Gapdesk")
st.write("Find the hidden gaps of your learning programme, and decide each one.")

refusal = single_sign_on_refusal()
if refusal is not None:
    # Signed in with the identity provider, but not to a Gapdesk account that may use it.
    st.error(f"Single sign-on refused: {refusal}. Ask an administrator.")
    if st.button("Sign out of single sign-on"):
        sign_out()
    st.stop()

with st.form("sign_in", enter_to_submit=True):
    name = st.text_input("User name or email", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    try:
        sign_in(name, password)
    except (SignInThrottled, SignInBusy) as exc:
        st.error(f"Not signed in: {exc}.")
    except SignInFailed:
        st.error("Wrong user name or password.")
    else:
        st.rerun()

if oidc_configured():
    st.divider()
    if st.button("Sign in with single sign-on", icon=":material/key:"):
        st.login()
