"""The Review queue's finding detail below its heading: evidence, history, comments and the
suppression form, in tabs of a fixed height so the actions beside them stay in view."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import streamlit as st

from app.web.presenters import evidence_tables, md_escape, series_chart
from app.web.units import reading, writing
from models.taxonomy import WHY_IT_MATTERS
from review_queue.comments import add_comment, list_comments
from review_queue.decisions import DecisionRefused
from review_queue.history import entity_history
from review_queue.permissions import Actor
from review_queue.states import REVIEWED_STATUSES
from review_queue.suppressions import create_suppression, lift_suppression, list_suppressions
from review_queue.tables import Finding

# Tall enough for the explanation and a chart, short enough that at 1280x720 the heading, the
# actions and the confirmation above it stay on screen without scrolling.
BODY_HEIGHT = 300


TABS = ["Evidence", "History", "Comments", "Suppress"]


def finding_tabs(actor: Actor, finding: Finding, *, flash_key: str) -> None:
    """Evidence, history, comments and (for a reviewed finding) suppression, in tabs. Only the
    tab in view is computed (a click on another reruns the open finding's fragment): building
    all four on every key press was half the queue page's CPU. Each finding opens on Evidence."""
    assert finding.id is not None
    k = f"-{finding.id}"
    with st.container(height=BODY_HEIGHT, border=False):
        tabs = st.tabs(TABS, key="tabs" + k, on_change="rerun")
        evidence, history, comments, suppress = tabs
        if evidence.open:
            with evidence:
                _evidence(finding)
        if history.open:
            with history:
                _history(actor, finding)
        if comments.open:
            with comments:
                _comments(actor, finding, k)
        if suppress.open:
            with suppress:
                _suppress(actor, finding, k, flash_key)


@st.cache_data(max_entries=256, show_spinner=False)
def _evidence_view(
    finding_id: int, row_version: int, occurrences: int, _finding: Finding
) -> tuple[dict[str, Any] | None, list[tuple[str, pa.Table]], pa.Table | None]:
    """The evidence chart (a Vega-Lite spec), its tables and the features, built once per
    version of a finding rather than on every key press, the tables already in Arrow (what the
    browser is sent). The cache key is the finding's id, row version and occurrences (a
    detection run that proposes it again counts one more)."""
    spec = series_chart(_finding.evidence, _finding.entity_key)
    features = None
    if _finding.features:
        features = pa.table(
            {
                "feature": [str(k) for k in _finding.features],
                "value": [str(v) for v in _finding.features.values()],
            }
        )
    tables = [
        (name, pa.Table.from_pandas(frame, preserve_index=False))
        for name, frame in evidence_tables(_finding.evidence)
    ]
    return spec, tables, features


def _evidence(finding: Finding) -> None:
    assert finding.id is not None
    st.markdown(f"**Why it matters.** {WHY_IT_MATTERS.get(finding.category, '')}")
    if finding.explanation:
        st.markdown(f"**Why the detector fired.** {md_escape(finding.explanation)}")
    spec, tables, features = _evidence_view(
        finding.id, finding.row_version, finding.occurrences, finding
    )
    if spec is not None:
        st.vega_lite_chart(spec=spec, width="stretch")
    for name, table in tables:
        st.caption(name)
        st.dataframe(table, hide_index=True)
    if features is not None:
        st.caption("features the detector used")
        st.dataframe(features, hide_index=True)


def _history(actor: Actor, finding: Finding) -> None:
    with reading() as session:
        history = entity_history(session=session, actor=actor, finding=finding)
    if not history:
        st.caption("No decisions yet.")
        return
    st.dataframe(
        pd.DataFrame(
            [{"when": h.at.strftime("%Y-%m-%d %H:%M"), "who": h.actor, "what": h.action,
              "finding": f"#{h.finding_id} {h.category}", "to": h.to_status,
              "reason": h.reason or "", "comment": h.comment or ""} for h in history]
        ),
        hide_index=True,
    )  # fmt: skip


def _comments(actor: Actor, finding: Finding, k: str) -> None:
    assert finding.id is not None
    with reading() as session:
        comments = list_comments(session=session, actor=actor, finding_id=finding.id)
    for c in comments:
        st.markdown(md_escape(f"{c.author}, {c.at:%Y-%m-%d %H:%M}: {c.body}"))
    with st.form("comment" + k, clear_on_submit=True):
        body = st.text_area("Add a comment", height=70)
        if st.form_submit_button("Comment"):
            try:
                with writing() as session:
                    add_comment(session=session, actor=actor, finding_id=finding.id, body=body)
                st.rerun()
            except DecisionRefused as exc:
                st.error(md_escape(exc))


def _suppress(actor: Actor, finding: Finding, k: str, flash_key: str) -> None:
    assert finding.id is not None
    if finding.status not in REVIEWED_STATUSES:
        st.caption("A finding can be suppressed once it is confirmed, dismissed or resolved.")
        return
    with st.form("suppress" + k, border=False):
        st.caption("Stop proposing this gap for this entity until a date (at most 180 days).")
        until = st.date_input("Suppress until", value=date.today() + timedelta(days=30))
        why = st.text_input("Why (required)")
        only_detector = st.checkbox(f"Only from {finding.detector}")
        if st.form_submit_button("Suppress"):
            try:
                with writing() as session:
                    create_suppression(
                        session=session, actor=actor, finding_id=finding.id,
                        until=datetime.combine(until, time(23, 59), tzinfo=UTC),
                        reason=why, detector_only=only_detector,
                    )  # fmt: skip
                st.session_state[flash_key] = ("ok", f"#{finding.id}: suppressed.")
                st.rerun()
            except DecisionRefused as exc:
                st.error(md_escape(exc))


def suppressions_panel(actor: Actor) -> None:
    """Every suppression, in force or ended, and lifting one in force."""
    with st.expander("Suppressions", icon=":material/notifications_off:"):
        with reading() as session:
            suppressions = list_suppressions(session=session, actor=actor, include_ended=True)
        if not suppressions:
            st.caption("None. Suppress a reviewed finding from its Suppress tab above.")
        else:
            st.dataframe(
                pd.DataFrame(
                    [
                        {"#": x.id, "category": x.category, "entity": x.entity_key,
                         "detector": x.detector or "any", "reason": x.reason, "by": x.created_by,
                         "age (days)": x.age_days, "expires": x.expires_at.strftime("%Y-%m-%d"),
                         "absorbed": x.absorbed, "active": x.active}
                        for x in suppressions
                    ]
                ),
                hide_index=True,
            )  # fmt: skip
            active_ids = [x.id for x in suppressions if x.active]
            if active_ids:
                lift = st.selectbox("Lift suppression #", active_ids, key="lift_id")
                if st.button("Lift it now"):
                    with writing() as session:
                        lift_suppression(session=session, actor=actor, suppression_id=lift)
                    st.rerun()
