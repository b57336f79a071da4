"""The Trends page's audit panel: wrong dismissals and recall with their intervals, and
reviewer agreement (Cohen's kappa) per category and per pair."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.web.units import reading
from review_queue.audit_figures import (
    AgreementRow,
    CategoryAudit,
    audit_estimates,
    reviewer_agreement,
)
from review_queue.permissions import Actor


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f"{low:.2f} to {high:.2f}"


def estimates_table(rows: list[CategoryAudit]) -> pd.DataFrame:
    """One line per category: wrong dismissals and recall, each with its 95% interval."""
    out = []
    for r in rows:
        e, rc = r.dismissal_errors, r.recall
        out.append({
            "category": r.category,
            "dismissals audited": f"{e.sampled} of {e.population}" if e else "",
            "wrong dismissals": round(e.share, 3) if e else None,
            "95% interval (wrong)": _interval(e.share_low, e.share_high) if e else "",
            "unflagged audited": f"{rc.misses.sampled} of {rc.misses.population}" if rc else "",
            "misses found": rc.misses.found if rc else None,
            "recall": round(rc.estimate, 3) if rc and rc.estimate is not None else None,
            "95% interval (recall)": _interval(rc.low, rc.high) if rc else "",
            "waiting": r.waiting,
        })  # fmt: skip
    return pd.DataFrame(out)


def agreement_table(rows: list[AgreementRow]) -> pd.DataFrame:
    """One line per category and reviewer pair ("all" = pooled)."""
    return pd.DataFrame(
        [{"category": r.category, "reviewers": r.pair, "items": r.agreement.items,
          "kappa": None if r.agreement.kappa is None else round(r.agreement.kappa, 3),
          "agreed": round(r.agreement.observed, 3), "both real": r.both_confirmed,
          "both not": r.both_dismissed, "differed": r.differed}
         for r in rows]
    )  # fmt: skip


def audit_trends_panel(actor: Actor) -> None:
    """The panel, after the trend charts."""
    st.subheader("Audits: what the queue hides")
    with reading() as session:
        estimates = audit_estimates(session=session, actor=actor)
        agreement = reviewer_agreement(session=session, actor=actor)
    if not estimates:
        st.caption("No audit sample yet (Review queue → Audits, or `gapdesk audit sample`).")
    else:
        st.caption(
            f"From audit sample #{estimates[0].sample_id}: the share of audited dismissals that "
            "were real gaps, and each category's recall (gaps flagged and confirmed, against "
            "the misses estimated from the unflagged sample), with exact 95% intervals."
        )
        st.dataframe(estimates_table(estimates), hide_index=True)
    st.markdown("**Reviewer agreement** (Cohen's kappa where two people decided one finding)")
    if agreement:
        st.dataframe(agreement_table(agreement), hide_index=True)
    else:
        st.caption("No finding has been decided by two people yet.")
