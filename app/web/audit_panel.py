"""The Review queue's Audits lane: draw a sample, give each audit item a blind verdict.

The item shown never says what the first decision was, nor who made it; the confirmation
after the verdict does.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.core.errors import UserError
from app.detection.audits import draw_audit_sample
from app.web.presenters import md_code, md_escape
from app.web.signin import signed_in_only
from app.web.units import engine, reading, writing
from models.taxonomy import CATEGORIES
from review_queue.audits import AuditRefused, audit_counts, audit_items, decide_audit
from review_queue.permissions import Actor

AUDITS_VIEW = "Audits"
AUDIT_FLASH = "gapdesk_audit_flash"
VERDICT_BUTTONS = (
    ("Real gap", ":material/check:", "confirmed"),
    ("Not a gap", ":material/close:", "dismissed"),
)


@signed_in_only
def _draw(actor: Actor) -> None:
    try:
        with st.spinner("Drawing the audit sample on the current snapshot ..."):
            summary = draw_audit_sample(engine=engine(), actor=actor)
        st.session_state[AUDIT_FLASH] = ("success", summary.describe())
    except (UserError, PermissionError) as exc:
        st.session_state[AUDIT_FLASH] = ("error", str(exc))


@signed_in_only
def _decide(actor: Actor, item_id: int, verdict: str, row_version: int) -> None:
    comment = st.session_state.get(f"audit_comment_{item_id}") or None
    try:
        with writing() as session:
            view = decide_audit(session=session, actor=actor, item_id=item_id, verdict=verdict,
                                comment=comment, expected_row_version=row_version)  # fmt: skip
        first = view.first_decision or "none (the detectors had not flagged it)"
        st.session_state[AUDIT_FLASH] = (
            "success",
            f"Audit item #{item_id}: you said {verdict}. The first decision was: {first}.",
        )
    except (AuditRefused, PermissionError) as exc:
        st.session_state[AUDIT_FLASH] = ("error", str(exc))


def audit_lane(actor: Actor) -> None:
    """The Audits view of the Review queue: its button, the next item, the decided ones."""
    top = st.columns([3, 1], vertical_alignment="center")
    with reading() as session:
        counts = audit_counts(session=session, actor=actor)
        waiting = audit_items(session=session, actor=actor)
        decided = audit_items(session=session, actor=actor, decided=True, limit=50)
    top[0].caption(
        f"Audits: a blind second look at a random sample of dismissals and of entities the "
        f"detectors passed over. {counts['mine']} wait for you, {counts['waiting']} in all."
    )
    top[1].button("Draw this week's audit sample", icon=":material/casino:",
                  on_click=_draw, args=(actor,), key="audit_draw")  # fmt: skip
    flash = st.session_state.pop(AUDIT_FLASH, None)
    if flash is not None:
        (st.success if flash[0] == "success" else st.error)(md_escape(flash[1]))
    if not waiting:
        st.info("No audit item waits for you.")
    else:
        item = waiting[0]
        with st.container(border=True):
            st.markdown(f"**AUDIT** · item #{item.id} of sample #{item.sample_id}")
            st.subheader(md_escape(item.title))
            st.markdown(md_escape(item.what))
            st.markdown(
                f"Category {md_code(item.category)} ({md_escape(CATEGORIES[item.category])}), "
                f"entity {md_code(item.entity_key)}"
            )
            if item.explanation:
                st.markdown(md_escape(item.explanation))
            if item.evidence:
                with st.expander("Evidence"):
                    st.json(item.evidence)
            st.text_input("Comment (optional)", key=f"audit_comment_{item.id}")
            row = st.columns(2)
            for slot, (label, icon, verdict) in zip(row, VERDICT_BUTTONS, strict=True):
                slot.button(label, icon=icon, key=f"audit_{verdict}_{item.id}", on_click=_decide,
                            args=(actor, item.id, verdict, item.row_version))  # fmt: skip
    if decided:
        with st.expander(f"Decided audit items ({len(decided)} latest)"):
            st.dataframe(
                pd.DataFrame(
                    [{"item": v.id, "stream": v.stream, "category": v.category,
                      "entity": v.entity_key, "verdict": v.verdict, "by": v.decided_by,
                      "first decision": v.first_decision or "", "at": v.decided_at}
                     for v in decided]
                ),
                hide_index=True,
            )  # fmt: skip
