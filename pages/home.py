"""What waits for the signed-in person, by role."""

import streamlit as st

from app.core.errors import UserError
from app.detection.coverage import coverage_table, snapshot_coverage
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.units import reading
from review_queue.findings import queue_counts
from review_queue.tables import Role

actor = require_actor()
with reading() as session:
    counts = queue_counts(session=session, actor=actor)

st.title(f"Hello, {md_escape(actor.name)}")

if actor.role is Role.admin:
    st.write("Suspected gaps waiting for a decision:")
    cols = st.columns(4)
    cols[0].metric("New, unclaimed", counts.new)
    cols[1].metric("In review", counts.in_review)
    cols[2].metric("Assigned to you", counts.mine)
    cols[3].metric("Confirmed, not resolved", counts.confirmed_open)
    if counts.total_open == 0:
        st.info("The queue is empty. Ingest a snapshot and run detection to fill it.")
    try:
        with reading() as session:
            covered = snapshot_coverage(session=session, actor=actor)
    except UserError as exc:
        st.warning(md_escape(exc))
        covered = None
    if covered is not None:
        st.subheader("What the current snapshot lets Gapdesk check")
        st.caption(
            f"Snapshot {covered.snapshot_id} ({covered.source or 'no source given'}), as of "
            f"{covered.as_of:%Y-%m-%d %H:%M} UTC: {covered.lines[0]}"
        )
        st.dataframe(coverage_table(covered.rows), hide_index=True)
elif actor.role is Role.instructor:
    st.write("The learner problems you reported:")
    cols = st.columns(3)
    cols[0].metric("Open reports", counts.undecided, help="Not decided by the admins yet.")
    cols[1].metric("Being reviewed", counts.in_review)
    cols[2].metric("Admins confirmed the problem", counts.confirmed_open)
    if counts.undecided == 0:
        st.info("No report waits for the admins.")
else:
    st.write("Where the programme's gaps stand:")
    cols = st.columns(3)
    cols[0].metric("Open gaps", counts.total_open)
    cols[1].metric("Confirmed, not resolved", counts.confirmed_open)
    cols[2].metric("Awaiting triage", counts.new)
