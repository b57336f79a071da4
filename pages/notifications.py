"""Notifications (everyone signed in): which e-mails Gapdesk sends you."""

import streamlit as st

from app.core.errors import UserError
from app.notify.preferences import notification_settings, set_notification
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.units import reading, writing

actor = require_actor()
st.title("Notifications")
st.caption(
    "Gapdesk e-mails you at the address of your account when something concerns you. "
    "Turn off what you do not want; the change applies to the next e-mail."
)

with reading() as session:
    choices = notification_settings(session=session, actor=actor)

with st.form("notifications"):
    wanted = {c.kind: st.toggle(f"E-mail me when {c.description}", value=c.enabled, key=c.kind)
              for c in choices}  # fmt: skip
    if st.form_submit_button("Save", type="primary"):
        try:
            with writing() as session:
                for c in choices:
                    if wanted[c.kind] != c.enabled:
                        set_notification(
                            session=session, actor=actor, kind=c.kind, enabled=wanted[c.kind]
                        )
        except UserError as exc:
            st.error(md_escape(exc))
        else:
            st.success("Saved.")
