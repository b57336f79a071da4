"""Models (admins): priority model versions, their held-out figures, the queue diff before a
promotion, promote / roll back / retrain, and the rule ledger with threshold suggestions."""

import pandas as pd
import streamlit as st

from app.core.errors import UserError
from app.learning.model_store import list_versions
from app.learning.ranking import queue_diff
from app.learning.retraining import promote, retrain
from app.learning.rule_ledger import apply_suggestion, rule_ledger_tables
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.units import reading, writing
from models.learning.priority import DEFAULT_K

actor = require_actor()
st.title("Models")
st.caption(
    "The priority model learns from every confirm and dismiss. A retrained model replaces the "
    "current one only if it ranks the latest decisions (which it did not train on) better."
)

k = int(st.number_input("k (a week of reviewing)", min_value=1, value=DEFAULT_K, step=5))
if st.button("Retrain now", icon=":material/model_training:"):
    try:
        with st.spinner("Training on the feedback log ..."), writing() as session:
            result = retrain(session=session, actor=actor, k=k)
        verdict = "promoted" if result.promoted else "kept as a candidate"
        st.success(md_escape(f"Model {result.version.version}: {verdict} ({result.reason})."))
    except (UserError, PermissionError) as exc:
        st.error(md_escape(exc))

with reading() as session:
    versions = list_versions(session=session)
if not versions:
    st.info("No priority model yet: the queue is ranked by score and severity.")
st.dataframe(
    pd.DataFrame(
        [
            {"version": v.version, "status": v.status, "trained on": v.training_size,
             "held out": (v.metrics or {}).get("holdout_size"),
             "precision@k": (v.metrics or {}).get("precision_at_k"),
             "current then": (v.metrics or {}).get("current_precision_at_k"),
             "gate": (v.metrics or {}).get("gate", ""), "promoted by": v.promoted_by or "",
             "promoted at": v.promoted_at, "scikit-learn": v.sklearn_version}
            for v in versions
        ]
    ),
    hide_index=True,
)  # fmt: skip

others = [v.version for v in versions if v.status != "promoted"]
if others:
    choice = st.selectbox("Promote or roll back to", others)
    # Scoring the whole queue with a model takes seconds at scale: only when asked, and kept
    # for this version and k until either changes (not recomputed on every rerun of the page).
    diff_key = ("gapdesk_queue_diff", choice, k)
    try:
        if st.button(f"What would change in the top {k}?", icon=":material/compare_arrows:"):
            with reading() as session:
                st.session_state[diff_key] = queue_diff(session=session, version=choice, k=k)
        diff = st.session_state.get(diff_key)
        if diff is not None:
            st.write(
                f"Top {k} of the queue if {md_escape(choice)} were promoted: "
                f"{len(diff['enter'])} findings "
                f"would enter ({', '.join(f'#{i}' for i in diff['enter'][:20]) or 'none'}), "
                f"{len(diff['leave'])} would leave "
                f"({', '.join(f'#{i}' for i in diff['leave'][:20]) or 'none'})."
            )
        if st.button(f"Promote {choice}", icon=":material/upgrade:"):
            with writing() as session:
                rescored = promote(session=session, actor=actor, version=choice)
            st.success(md_escape(f"{choice} promoted; {rescored} open findings rescored."))
    except (UserError, PermissionError) as exc:
        st.error(md_escape(exc))

st.subheader("Rule ledger")
try:
    with reading() as session:
        ledger, suggestions = rule_ledger_tables(session=session, actor=actor)
    st.dataframe(ledger, hide_index=True)
    if suggestions:
        st.caption("Suggestions, most dismissals removed first; one for each set of findings.")
    for i, suggestion in enumerate(suggestions):
        st.markdown(f"{i + 1}. " + md_escape(suggestion.describe()))
        if st.button("Apply as a new configuration version", key=f"apply_suggestion_{i}"):
            with writing() as session:
                config = apply_suggestion(session=session, actor=actor, suggestion=suggestion)
            st.success(
                md_escape(f"{suggestion.detector}: configuration v{config.version} applies from ")
                + "the next detection run (see the Detectors page)."
            )
    if not suggestions:
        st.caption(
            "No cluster of false-positive dismissals on a feature, nor of dismissals as "
            "expected in one course or department, yet."
        )
except PermissionError as exc:
    st.error(md_escape(exc))
