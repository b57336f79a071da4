"""The Review queue's bulk action: one action for the selected findings (or every finding the
filter matches), a preview listing the findings it will change and those it will skip, then
apply. Apply is disabled when nothing is left to change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from app.auth.accounts import user_id_by_name
from app.learning.after_decision import bulk_decide_and_learn
from app.web.presenters import md_escape, plural
from app.web.units import engine, reading
from review_queue.decisions import DISMISS_REASON_HELP, DecisionRefused, preview_bulk
from review_queue.permissions import Actor
from review_queue.states import BULK_ACTIONS, Action


@st.dialog("Apply to many findings", width="large")
def _confirm(
    actor: Actor, ids: list[int], action: str, kwargs: dict[str, Any],
    done: Callable[[str], None],
) -> None:  # fmt: skip
    """List what the action changes and what it skips, then apply it."""
    with reading() as session:
        preview = preview_bulk(session=session, actor=actor, finding_ids=ids, action=action)
    changed = len(preview.changed)
    st.write(
        f"**{action.title()}** will change **{plural(changed, 'finding')}**; "
        f"{plural(len(preview.skipped), 'finding')} cannot take it and will be left as they are."
    )
    if preview.changed:
        st.dataframe(
            pd.DataFrame(
                {"id": preview.changed,
                 "title": [preview.titles.get(i, "") for i in preview.changed]}
            ),
            hide_index=True, height=min(300, 38 + 35 * changed), key="bulk_will_change",
        )  # fmt: skip
    if preview.skipped:
        with st.expander(f"Left as they are: {plural(len(preview.skipped), 'finding')}"):
            st.dataframe(
                pd.DataFrame(
                    {"id": list(preview.skipped),
                     "title": [preview.titles.get(i, "") for i in preview.skipped],
                     "why": list(preview.skipped.values())}
                ),
                hide_index=True,
            )  # fmt: skip
    label = f"{action.title()} {plural(changed, 'finding')}"
    if st.button(label, type="primary", disabled=not changed, key="bulk_go"):
        try:
            result = bulk_decide_and_learn(
                engine=engine(), actor=actor, finding_ids=preview.changed, action=action,
                **kwargs,
            )  # fmt: skip
        except (DecisionRefused, PermissionError) as exc:
            st.error(md_escape(exc))
            return
        done(
            f"{action.title()}: {plural(len(result.changed), 'finding')} changed, "
            f"{len(result.skipped)} skipped."
        )
        st.rerun()


def bulk_panel(
    actor: Actor,
    *,
    selected_ids: list[int],
    total: int,
    matching: Callable[[], list[int]],
    assignees: list[str],
    done: Callable[[str], None],
) -> None:
    """The bulk controls for the selected rows, or for every finding matching the filter."""
    every = st.toggle("Bulk action on every finding matching the filter", key="bulk_all")
    if len(selected_ids) < 2 and not every:
        return
    count = total if every else len(selected_ids)
    with st.container(border=True):
        what = "matching the filter" if every else "selected"
        st.write(f"**Bulk action** on {plural(count, 'finding')} {what}")
        b1, b2, b3 = st.columns([1, 2, 1], vertical_alignment="bottom")
        action = b1.selectbox("Action", [a.value for a in BULK_ACTIONS], key="bulk_a")
        kwargs: dict[str, Any] = {}
        if action == Action.dismiss:
            # No reason is preselected: the models learn from it, so the reviewer picks one.
            kwargs["reason"] = b2.selectbox(
                "Reason", list(DISMISS_REASON_HELP), key="bulk_reason", index=None,
                placeholder="Pick the reason",
                format_func=lambda r: f"{r}: {DISMISS_REASON_HELP[r]}",
            )  # fmt: skip
            kwargs["comment"] = b2.text_input("Comment", key="bulk_comment")
        elif action == Action.assign:
            mine = assignees.index(actor.name) if actor.name in assignees else 0
            who = b2.selectbox("Assign to", assignees, index=mine, key="bulk_who")
            with reading() as session:
                kwargs["assignee_id"] = user_id_by_name(session=session, name=who)
        elif action == Action.snooze:
            until = b2.date_input("Until", value=date.today() + timedelta(days=7), key="bulk_until")
            kwargs["until"] = datetime.combine(until, time(6, 0), tzinfo=UTC)
        missing_reason = action == Action.dismiss and not kwargs.get("reason")
        if b3.button(
            "Apply…", type="primary", key="bulk_apply", disabled=count == 0 or missing_reason,
            help="Pick a reason first" if missing_reason else None,
        ):  # fmt: skip
            _confirm(actor, selected_ids if not every else matching(), action, kwargs, done)
