"""Review queue (admins): filter, select, decide; work through it from the keyboard."""

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from app.auth.accounts import user_id_by_name
from app.learning.after_decision import bulk_decide_and_learn, decide_and_learn
from app.web.presenters import evidence_tables, md_code, md_escape, series_chart
from app.web.signin import require_actor
from app.web.units import engine, reading, writing
from models.taxonomy import CATEGORIES, WHY_IT_MATTERS
from review_queue.comments import add_comment, list_comments
from review_queue.decisions import (
    DISMISS_REASON_HELP,
    DecisionRefused,
    last_event,
    next_finding,
    preview_bulk,
    undo,
)
from review_queue.findings import FindingNotFound, get_finding
from review_queue.queue import (
    QueueFilter,
    entity_history,
    filter_options,
    list_findings,
    matching_ids,
)
from review_queue.states import (
    BULK_ACTIONS,
    FINISHING_ACTIONS,
    OPEN_STATUSES,
    REVIEWED_STATUSES,
    UNDOABLE_ACTIONS,
    WAITING_STATUSES,
    Action,
    Status,
    allowed_actions,
    values,
)
from review_queue.suppressions import create_suppression, lift_suppression, list_suppressions
from review_queue.tables import Severity

actor = require_actor()
OPEN = "gapdesk_open_finding"
PAGE = "gapdesk_queue_page"
st.title("Review queue")

with reading() as session:
    options = filter_options(session=session, actor=actor)

with st.expander("Filters", expanded=False, icon=":material/filter_list:"):
    c1, c2, c3, c4 = st.columns(4)
    statuses = c1.multiselect(
        "Status", values(Status), default=values(OPEN_STATUSES), key="f_status"
    )
    categories = c2.multiselect("Category", sorted(CATEGORIES), key="f_category")
    severities = c3.multiselect("Severity", [s.value for s in Severity], key="f_severity")
    detectors = c4.multiselect("Detector", options.detectors, key="f_detector")
    c5, c6, c7, c8 = st.columns(4)
    assignee = c5.selectbox(
        "Assignee", ["anyone", "me", "unassigned", *options.assignees], key="f_assignee"
    )
    department = c6.selectbox("Department", ["any", *options.departments], key="f_department")
    course = c7.text_input("Course id", key="f_course")
    text = c8.text_input("Search title or entity", key="f_text")

queue_filter = QueueFilter(
    statuses=tuple(statuses),
    categories=tuple(categories),
    severities=tuple(severities),
    detectors=tuple(detectors),
    assignee=None if assignee == "anyone" else assignee,
    department=None if department == "any" else department,
    course=course or None,
    text=text or None,
)
page_no = st.session_state.get(PAGE, 0)
with reading() as session:
    page = list_findings(
        session=session, actor=actor, queue_filter=queue_filter, page=page_no, page_size=50
    )
if page_no and not page.rows and page.total:
    st.session_state[PAGE] = 0
    st.rerun()

counts = " · ".join(
    f"{s.replace('_', ' ')} **{page.status_counts.get(s, 0)}**" for s in values(Status)
)
st.markdown(counts)


def assignee_id(name: str | None) -> int | None:
    """The id of the admin picked in an assignment box."""
    with reading() as session:
        return user_id_by_name(session=session, name=name)


def open_next(after_id: int | None) -> None:
    """Open the next open finding of this page after ``after_id`` (or claim the next one)."""
    ids = [r.id for r in page.rows if r.status in WAITING_STATUSES]
    if after_id in ids:
        later = ids[ids.index(after_id) + 1 :]
        st.session_state[OPEN] = later[0] if later else None
    else:
        st.session_state[OPEN] = ids[0] if ids else None


top = st.columns([1, 1, 4])
if top[0].button(
    "Next finding",
    icon=":material/skip_next:",
    shortcut="N",
    help="Claim the highest-priority unclaimed finding (N)",
):
    with writing() as session:
        claimed = next_finding(session=session, actor=actor)
    if claimed is None:
        st.toast("Nothing unclaimed is waiting.")
    else:
        st.session_state[OPEN] = claimed.finding.id
        st.rerun()

frame = pd.DataFrame(
    [
        {
            "id": r.id,
            "priority": round(r.priority, 3),
            "severity": r.severity,
            "status": r.status + (" (regression)" if r.regression else ""),
            "category": r.category,
            "title": r.title,
            "assignee": r.assignee or "",
            "department": r.department or "",
            "last seen": r.last_seen_at.strftime("%Y-%m-%d"),
        }
        for r in page.rows
    ],
    columns=["id", "priority", "severity", "status", "category", "title", "assignee",
             "department", "last seen"],
)  # fmt: skip
if frame.empty:
    st.info("No findings match these filters.")
    selected_ids: list[int] = []
else:
    event = st.dataframe(
        frame,
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key="queue_table",
        column_config={"priority": st.column_config.ProgressColumn(min_value=0, max_value=1)},
    )
    selected_ids = [int(frame.iloc[i]["id"]) for i in event.selection.rows]
    pages = max(1, -(-page.total // page.page_size))
    nav = st.columns([1, 1, 3], vertical_alignment="center")
    if nav[0].button("Previous", disabled=page_no == 0, icon=":material/chevron_left:"):
        st.session_state[PAGE] = page_no - 1
        st.rerun()
    if nav[1].button("Next page", disabled=page_no + 1 >= pages, icon=":material/chevron_right:"):
        st.session_state[PAGE] = page_no + 1
        st.rerun()
    nav[2].caption(f"Page {page_no + 1} of {pages} · {page.total} findings match")

if len(selected_ids) == 1:
    st.session_state[OPEN] = selected_ids[0]


@st.dialog("Apply to many findings")
def confirm_bulk(ids: list[int], action: str, kwargs: dict) -> None:
    """Show how many findings change, then apply."""
    with reading() as session:
        preview = preview_bulk(session=session, actor=actor, finding_ids=ids, action=action)
    st.write(
        f"**{action.title()}** will change **{len(preview.changed)}** finding(s); "
        f"{len(preview.skipped)} cannot take it and will be left as they are."
    )
    if st.button(f"{action.title()} {len(preview.changed)} findings", type="primary"):
        try:
            result = bulk_decide_and_learn(
                engine=engine(),
                actor=actor,
                finding_ids=preview.changed,
                action=action,
                **kwargs,
            )
        except (DecisionRefused, PermissionError) as exc:
            st.error(str(exc))
            return
        st.session_state["gapdesk_flash"] = (
            f"{action.title()}: {len(result.changed)} changed, {len(result.skipped)} skipped."
        )
        st.rerun()


if len(selected_ids) > 1 or st.toggle("Bulk action on every finding matching the filter"):
    with st.container(border=True):
        st.write(f"**Bulk action** on {len(selected_ids) or page.total} finding(s)")
        b1, b2, b3 = st.columns([1, 2, 1])
        action = b1.selectbox("Action", [a.value for a in BULK_ACTIONS], key="bulk_a")
        kwargs: dict = {}
        if action == Action.dismiss:
            kwargs["reason"] = b2.selectbox(
                "Reason", list(DISMISS_REASON_HELP), key="bulk_reason",
                format_func=lambda r: f"{r}: {DISMISS_REASON_HELP[r]}",
            )  # fmt: skip
            kwargs["comment"] = b2.text_input("Comment", key="bulk_comment")
        elif action == Action.assign:
            who = b2.selectbox("Assign to", options.assignees, key="bulk_who")
            kwargs["assignee_id"] = assignee_id(who)
        elif action == Action.snooze:
            until = b2.date_input("Until", value=date.today() + timedelta(days=7), key="bulk_until")
            kwargs["until"] = datetime.combine(until, time(6, 0), tzinfo=UTC)
        if b3.button("Apply…", type="primary", key="bulk_apply"):
            if selected_ids:
                ids = selected_ids
            else:
                with reading() as session:
                    ids = matching_ids(session=session, actor=actor, queue_filter=queue_filter)
            confirm_bulk(ids, action, kwargs)

# The last action stays on screen until the next one: a rerun from elsewhere on the page (a
# table selection, a filter) must not swallow the confirmation a keyboard user is waiting for.
flash = st.session_state.get("gapdesk_flash")
if flash:
    st.success(flash)

with st.expander("Suppressions", icon=":material/notifications_off:"):
    with reading() as session:
        suppressions = list_suppressions(session=session, actor=actor, include_ended=True)
    if not suppressions:
        st.caption("None. Suppress a reviewed finding from its detail below.")
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

open_id = st.session_state.get(OPEN)
if open_id is None and page.rows:
    st.caption("Select a row, or press N for the next unclaimed finding.")
    st.stop()
if open_id is None:
    st.stop()

try:
    with reading() as session:
        finding = get_finding(session=session, finding_id=open_id)
        history = entity_history(session=session, actor=actor, finding=finding)
        comments = list_comments(session=session, actor=actor, finding_id=open_id)
        mine_last = last_event(session=session, finding_id=open_id)
except FindingNotFound:
    st.session_state[OPEN] = None
    st.rerun()

st.divider()
st.subheader(f"#{finding.id} · {md_escape(finding.title)}")
badges = [finding.category, finding.severity, finding.status, f"priority {finding.priority:.2f}",
          f"score {finding.score:.2f}", f"seen in {finding.occurrences} runs"]  # fmt: skip
if finding.regression:
    badges.append("REGRESSION")
if finding.features.get("exploration"):
    badges.append("EXPLORATION: the model is least sure about this one")
st.caption(" · ".join(md_escape(b) for b in badges) + " · " + md_code(finding.entity_key))
left, right = st.columns([3, 2])
with left:
    st.markdown(f"**Why it matters.** {WHY_IT_MATTERS.get(finding.category, '')}")
    if finding.explanation:
        st.markdown(f"**Why the detector fired.** {md_escape(finding.explanation)}")
    chart = series_chart(finding.evidence, finding.entity_key)
    if chart is not None:
        st.altair_chart(chart, use_container_width=True)
    for name, table in evidence_tables(finding.evidence):
        st.caption(name)
        st.dataframe(table, hide_index=True)
    if finding.features:
        with st.expander("Features the detector used"):
            st.dataframe(
                pd.DataFrame(
                    {
                        "feature": list(finding.features),
                        "value": [str(v) for v in finding.features.values()],
                    }
                ),
                hide_index=True,
            )
with right:
    version = finding.row_version
    allowed = allowed_actions(finding.status)
    decidable = Action.confirm in allowed
    open_status = Action.snooze in allowed

    def act(action: str, **kwargs: object) -> None:
        try:
            done = decide_and_learn(
                engine=engine(),
                actor=actor,
                finding_id=open_id,
                action=action,
                expected_row_version=version,
                **kwargs,
            )
        except (DecisionRefused, PermissionError) as exc:
            st.error(str(exc))
            return
        note = " (already recorded)" if done.repeated else ""
        st.session_state["gapdesk_flash"] = f"#{open_id}: {action}{note}."
        if action in FINISHING_ACTIONS:
            open_next(open_id)
        st.rerun()

    # Every control below is keyed by the finding it acts on: a click (or shortcut) made on a
    # finding still on screen while a rerun opens another (N pressed, the next one opening after
    # a decision) must be dropped, not applied to the finding that replaced it unseen.
    k = f"-{open_id}"
    b = st.columns(3)
    if b[0].button(
        "Confirm",
        shortcut="Y",
        type="primary",
        use_container_width=True,
        disabled=not decidable,
        key="confirm" + k,
    ):
        act(Action.confirm)
    if b[1].button(
        "Claim", shortcut="L", use_container_width=True, disabled=not decidable, key="claim" + k
    ):
        act(Action.claim)
    if b[2].button(
        "Resolve",
        shortcut="X",
        use_container_width=True,
        disabled=Action.resolve not in allowed,
        key="resolve" + k,
    ):
        act(Action.resolve)
    with st.form("dismiss" + k, border=True):
        reason = st.selectbox(
            "Dismiss because", list(DISMISS_REASON_HELP),
            format_func=lambda r: f"{r}: {DISMISS_REASON_HELP[r]}",
        )  # fmt: skip
        duplicate_of = st.number_input("Duplicate of finding #", min_value=0, step=1, value=0)
        comment = st.text_input("Comment (required for 'other')")
        if st.form_submit_button("Dismiss", shortcut="D", disabled=not decidable):
            act(Action.dismiss, reason=reason, comment=comment or None,
                duplicate_of_id=int(duplicate_of) or None)  # fmt: skip
    s1, s2 = st.columns(2)
    with s1.form("snooze" + k, border=True):
        until = st.date_input("Snooze until", value=date.today() + timedelta(days=7))
        if st.form_submit_button("Snooze", shortcut="S", disabled=not open_status):
            act(Action.snooze, until=datetime.combine(until, time(6, 0), tzinfo=UTC))
    with s2.form("assign" + k, border=True):
        who = st.selectbox("Assign to", options.assignees)
        if st.form_submit_button("Assign", shortcut="A", disabled=not open_status):
            act(Action.assign, assignee_id=assignee_id(who))
    if Action.reopen in allowed and st.button("Reopen", use_container_width=True, key="reopen" + k):
        act(Action.reopen)
    can_undo = (
        mine_last is not None
        and mine_last.actor_id == actor.id
        and mine_last.action in UNDOABLE_ACTIONS
    )
    if st.button(
        "Undo my last decision",
        shortcut="U",
        disabled=not can_undo,
        use_container_width=True,
        key="undo" + k,
    ):
        try:
            with writing() as session:
                undo(session=session, actor=actor, event_id=mine_last.id or 0)  # type: ignore[union-attr]
            st.session_state["gapdesk_flash"] = f"#{open_id}: undone."
            st.rerun()
        except DecisionRefused as exc:
            st.error(str(exc))

    if finding.status in REVIEWED_STATUSES:
        with st.form("suppress" + k, border=True):
            st.caption("Stop proposing this gap for this entity until a date (at most 180 days).")
            until_s = st.date_input("Suppress until", value=date.today() + timedelta(days=30))
            why = st.text_input("Why (required)")
            only_detector = st.checkbox(f"Only from {finding.detector}")
            if st.form_submit_button("Suppress"):
                try:
                    with writing() as session:
                        create_suppression(
                            session=session, actor=actor, finding_id=open_id,
                            until=datetime.combine(until_s, time(23, 59), tzinfo=UTC),
                            reason=why, detector_only=only_detector,
                        )  # fmt: skip
                    st.session_state["gapdesk_flash"] = f"#{open_id}: suppressed."
                    st.rerun()
                except DecisionRefused as exc:
                    st.error(str(exc))

    st.markdown("**History of this entity**")
    if history:
        st.dataframe(
            pd.DataFrame(
                [{"when": h.at.strftime("%Y-%m-%d %H:%M"), "who": h.actor, "what": h.action,
                  "category": h.category, "to": h.to_status, "reason": h.reason or "",
                  "comment": h.comment or ""} for h in history]
            ),
            hide_index=True,
        )  # fmt: skip
    else:
        st.caption("No decisions yet.")
    st.markdown("**Comments**")
    for c in comments:
        st.markdown(md_escape(f"{c.author}, {c.at:%Y-%m-%d %H:%M}: {c.body}"))
    with st.form("comment" + k, clear_on_submit=True):
        body = st.text_area("Add a comment", height=70)
        if st.form_submit_button("Comment"):
            try:
                with writing() as session:
                    add_comment(session=session, actor=actor, finding_id=open_id, body=body)
                st.rerun()
            except DecisionRefused as exc:
                st.error(str(exc))
