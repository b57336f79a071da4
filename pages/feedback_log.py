"""Feedback log (admins; managers read only): every decision, its chain, and exports."""

import io

import pandas as pd
import streamlit as st

from app.core.safe_csv import write_rows
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.units import reading
from review_queue.exports import DECISION_COLUMNS, decision_rows
from review_queue.feedback_log import log_page, verify_chain
from review_queue.states import Action

actor = require_actor()
st.title("Feedback log")
st.caption(
    "Append-only: every decision and status change, hash-chained. Nobody can edit or delete a "
    "row; an undo is a new row."
)

c1, c2, c3 = st.columns(3)
actions = c1.multiselect(
    "Action",
    [a.value for a in Action],
)
who = c2.text_input("Actor (user name)")
finding = c3.number_input("Finding #", min_value=0, step=1, value=0)
page_no = st.number_input("Page", min_value=1, step=1, value=1) - 1
with reading() as session:
    rows, total = log_page(
        session=session, actor=actor, actions=tuple(actions), actor_name=who or None,
        finding_id=int(finding) or None, page=int(page_no), page_size=100,
    )  # fmt: skip
st.caption(f"{total} matching rows")
st.dataframe(
    pd.DataFrame(
        [
            {"#": e.id, "at": e.at.strftime("%Y-%m-%d %H:%M:%S"), "finding": e.finding_id,
             "actor": e.actor, "action": e.action, "from": e.from_status or "",
             "to": e.to_status, "reason": e.reason or "", "comment": e.comment or "",
             "model": e.model_version or "", "hash": e.row_hash[:12]}
            for e in rows
        ],
        columns=["#", "at", "finding", "actor", "action", "from", "to", "reason", "comment",
                 "model", "hash"],
    ),
    hide_index=True,
)  # fmt: skip

left, right = st.columns(2)
if left.button("Verify the chain", icon=":material/verified:"):
    with st.spinner("Recomputing every hash ..."), reading() as session:
        check = verify_chain(session=session)
    if check.ok:
        st.success(f"Intact: {check.rows} rows, every link verified.")
    else:
        st.error(f"Broken at row #{check.first_broken_id}: {md_escape(check.problem)}.")
if right.button("Prepare CSV export", icon=":material/download:"):
    buffer = io.StringIO()
    with reading() as session:
        write_rows(decision_rows(session=session, actor=actor), DECISION_COLUMNS, buffer, "csv")
    right.download_button(
        "Download decisions.csv", buffer.getvalue(), file_name="decisions.csv", mime="text/csv"
    )
