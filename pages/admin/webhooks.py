"""Webhooks (admins): register URLs for events, test them, see each delivery and re-send it."""

import pandas as pd
import streamlit as st

from app.core.errors import UserError
from app.notify.webhooks import (
    list_deliveries,
    list_endpoints,
    register_endpoint,
    resend_delivery,
    send_test,
    set_endpoint_active,
)
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.units import reading, writing
from review_queue.outbox import SEVERITY_ORDER, SUBSCRIBABLE

actor = require_actor()
st.title("Webhooks")
st.caption(
    "Gapdesk posts a signed JSON body to each URL for the events it subscribes to "
    "(header `Gapdesk-Signature: t=…,v1=…`, HMAC-SHA256 of `t.body` with the webhook's secret; "
    "see the README). Failed deliveries are retried with back-off by `gapdesk notify deliver`."
)

shown = st.session_state.pop("gapdesk_new_webhook_secret", None)
if shown:
    st.success("The webhook's secret (copy it now: it is not shown again):")
    st.code(shown, language=None)

with st.form("new_webhook", clear_on_submit=True):
    url = st.text_input("URL", max_chars=2000, placeholder="https://tickets.example.org/hooks")
    events = st.multiselect("Events", [k.value for k in SUBSCRIBABLE])
    severity = st.selectbox(
        "finding.opened only at this severity or worse", ["any", *SEVERITY_ORDER]
    )
    description = st.text_input("What it is for", max_chars=200)
    if st.form_submit_button("Register", type="primary"):
        try:
            with writing() as session:
                _, secret = register_endpoint(
                    session=session, actor=actor, url=url, events=events,
                    min_severity=None if severity == "any" else severity,
                    description=description,
                )  # fmt: skip
        except UserError as exc:
            st.error(md_escape(exc))
        else:
            st.session_state["gapdesk_new_webhook_secret"] = secret
            st.rerun()

with reading() as session:
    endpoints = list_endpoints(session=session, actor=actor)
if not endpoints:
    st.info("No webhooks yet.")
else:
    st.dataframe(
        pd.DataFrame(
            [{"#": e.id, "url": e.url, "events": ", ".join(e.events),
              "severity": e.min_severity or "any", "for": e.description,
              "active": e.active, "by": e.created_by} for e in endpoints]
        ),
        hide_index=True,
    )  # fmt: skip
    names = {e.id: f"#{e.id} {e.url}" for e in endpoints}
    chosen = st.selectbox("Webhook", list(names), format_func=lambda i: names[i])
    picked = next(e for e in endpoints if e.id == chosen)
    left, right = st.columns(2)
    if left.button("Send a test delivery"):
        with writing() as session:
            delivery_id = send_test(session=session, actor=actor, endpoint_id=int(chosen))
        st.success(f"Test delivery #{delivery_id} queued; the deliverer sends it within seconds.")
    if right.button("Pause" if picked.active else "Resume"):
        with writing() as session:
            set_endpoint_active(
                session=session, actor=actor, endpoint_id=int(chosen), active=not picked.active
            )
        st.rerun()

st.subheader("Deliveries")
with reading() as session:
    deliveries = list_deliveries(session=session, actor=actor, limit=100)
if not deliveries:
    st.info("Nothing delivered yet.")
else:
    st.dataframe(
        pd.DataFrame(
            [{"#": d.id, "event": d.kind, "to": d.target, "status": d.status,
              "attempts": d.attempts, "answer": d.last_status_code,
              "ms": d.last_duration_ms, "response": d.last_response, "error": d.last_error or "",
              "next try": d.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S") if d.next_attempt_at
              else "", "created": d.created_at.strftime("%Y-%m-%d %H:%M:%S")}
             for d in deliveries]
        ),
        hide_index=True,
    )  # fmt: skip
    labels = {d.id: f"#{d.id} {d.kind} to {d.target} ({d.status})" for d in deliveries}
    again = st.selectbox("Delivery to re-send", list(labels), format_func=lambda i: labels[i])
    if st.button("Re-send"):
        with writing() as session:
            new_id = resend_delivery(session=session, actor=actor, delivery_id=int(again))
        st.success(f"Queued again as delivery #{new_id}.")
