"""Review queue (admins): the open finding on top with its actions and the confirmation of the
last decision, the list below it; worked from the keyboard (README "Using it" lists the keys).

The open finding and the list are two fragments (app.web.queue_list): what changes only the
finding (the reason prompt, a comment, a tab) reruns the finding alone; a decision, N, U or a
release reruns both, never the filters above. What is open is kept in the session, never read
back from a table row's position: the table's selection is cleared whenever the filter changes,
N is pressed or a decision lands.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import streamlit as st

from app.auth.accounts import user_id_by_name, user_name_by_id
from app.core.settings import get_settings
from app.learning.after_decision import decide_and_learn
from app.web.audit_panel import AUDITS_VIEW, audit_lane
from app.web.cached import queue_filter_options
from app.web.finding_detail import finding_tabs, suppressions_panel
from app.web.presenters import md_code, md_escape
from app.web.queue_list import (
    DETAIL,
    DISMISSING,
    LIST,
    NONCE,
    OPEN,
    PAGE,
    claim_age,
    following,
    fresh_table,
    queue_list,
    rerun_both,
)  # fmt: skip
from app.web.signin import recheck_in_fragment, require_actor, signed_in_only
from app.web.units import engine, reading, writing
from models.taxonomy import CATEGORIES
from review_queue.claims import held_claims, next_finding, release_claim
from review_queue.decisions import DISMISS_REASON_HELP, DecisionRefused, undo_last
from review_queue.findings import FindingNotFound, get_finding
from review_queue.queue import QUEUE_VIEWS, view_filter
from review_queue.states import FINISHING_ACTIONS, Action, allowed_actions
from review_queue.tables import Finding, Severity

actor = require_actor()
FLASH = "gapdesk_flash"  # (kind, text) of the last action, until the next one
SEEN = "gapdesk_queue_filter"
IDLE = timedelta(minutes=get_settings().claim_idle_minutes)
REASON_KEYS = {reason: str(n) for n, reason in enumerate(DISMISS_REASON_HELP, start=1)}
st.session_state.setdefault(NONCE, 0)

st.header("Review queue")
options = queue_filter_options(actor)
bar = st.columns([7.6, 2.3, 1.3], vertical_alignment="center")
view = bar[0].segmented_control(
    "View", [*QUEUE_VIEWS, AUDITS_VIEW], default="To do", key="f_view",
    label_visibility="collapsed",
) or "To do"  # fmt: skip
if view == AUDITS_VIEW:  # the audit lane has its own items and verdicts
    audit_lane(actor)
    st.stop()
text = bar[1].text_input(
    "Search title or entity", key="f_text", label_visibility="collapsed",
    placeholder="Search title or entity",
)  # fmt: skip
with bar[2].popover("Filters", icon=":material/filter_list:", width="stretch"):
    categories = st.multiselect("Category", sorted(CATEGORIES), key="f_category")
    severities = st.multiselect("Severity", [s.value for s in Severity], key="f_severity")
    detectors = st.multiselect("Detector", options.detectors, key="f_detector")
    assignee = st.selectbox(
        "Assignee", ["anyone", "me", "unassigned", *options.assignees], key="f_assignee"
    )
    department = st.selectbox("Department", ["any", *options.departments], key="f_department")
    course = st.text_input("Course id", key="f_course")

queue_filter = view_filter(
    view,
    categories=tuple(categories),
    severities=tuple(severities),
    detectors=tuple(detectors),
    assignee=None if assignee == "anyone" else assignee,
    department=None if department == "any" else department,
    course=course or None,
    text=text or None,
)
if st.session_state.get(SEEN) != queue_filter:
    # Another filter is another list: no row of the old one may stay selected.
    st.session_state[SEEN] = queue_filter
    st.session_state[PAGE] = 0
    st.session_state[NONCE] += 1


def flash(kind: str, message: str) -> None:
    """Say what the last action did (or why it was refused), where the actions are; text from
    data in ``message`` is escaped by the caller, except in a refusal (escaped whole)."""
    st.session_state[FLASH] = (kind, message)


def short(title: str, limit: int = 70) -> str:
    """A title cut to one line of the confirmation (the full one is in the heading)."""
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


@signed_in_only
def take_next() -> None:
    """N: claim the next unclaimed finding after the one on screen and open it."""
    st.session_state[DISMISSING] = None
    fresh_table()
    with writing() as session:
        claimed = next_finding(
            session=session, actor=actor, after_id=st.session_state.get(OPEN), idle=IDLE
        )
    if claimed is None:
        st.toast("Nothing unclaimed is waiting.")
        return
    st.session_state[OPEN] = claimed.finding.id
    if (st.session_state.get(FLASH) or ("ok", ""))[0] == "error":
        st.session_state[FLASH] = None
    rerun_both()


@signed_in_only
def act(finding_id: int, version: int, title: str, action: str, **kwargs: Any) -> None:
    """A decision on the finding on screen; the next waiting one opens after a finishing one."""
    try:
        done = decide_and_learn(
            engine=engine(), actor=actor, finding_id=finding_id, action=action,
            expected_row_version=version, background=True, **kwargs,
        )  # fmt: skip
    except (DecisionRefused, PermissionError) as exc:
        flash("error", str(exc))
        rerun_both()  # the refusal shows where a confirmation would
        return
    st.session_state[DISMISSING] = None
    note = " (already recorded)" if done.repeated else ""
    flash("ok", f"#{finding_id}: {action}{note}. {md_escape(short(title))}")
    fresh_table()
    if action in FINISHING_ACTIONS:
        st.session_state[OPEN] = following(finding_id)
    rerun_both()


@signed_in_only
def assign_picked(finding_id: int, version: int, title: str) -> None:
    """A: assign the open finding to the person picked beside the button."""
    with reading() as session:
        who_id = user_id_by_name(
            session=session, name=st.session_state.get(f"assign_to-{finding_id}")
        )
    act(finding_id, version, title, Action.assign, assignee_id=who_id)


@signed_in_only
def dismiss_with(finding_id: int, version: int, title: str, reason: str) -> None:
    """A reason key (1-5): dismiss with the reason the reviewer picked, and only that."""
    k = f"-{finding_id}"
    act(finding_id, version, title, Action.dismiss, reason=reason,
        comment=st.session_state.get("dismiss_comment" + k) or None,
        duplicate_of_id=int(st.session_state.get("duplicate_of" + k) or 0) or None)  # fmt: skip


@signed_in_only
def undo_mine() -> None:
    """U: undo my latest decision, on whichever finding it was, and open that finding."""
    st.session_state[DISMISSING] = None
    try:
        with writing() as session:
            done = undo_last(session=session, actor=actor)
    except DecisionRefused as exc:
        flash("error", f"Nothing undone: {exc}.")
        return
    fresh_table()
    st.session_state[OPEN] = done.finding.id
    back = f"#{done.finding.id}: undone, {done.finding.status} again."
    flash("undo", f"{back} {md_escape(short(done.finding.title))}")
    rerun_both()


@signed_in_only
def release(finding_id: int) -> None:
    """E: hand my claim back to the queue."""
    try:
        with writing() as session:
            release_claim(session=session, actor=actor, finding_id=finding_id)
    except DecisionRefused as exc:
        flash("error", str(exc))
        return
    fresh_table()
    flash("ok", f"#{finding_id}: released to the queue.")
    rerun_both()


def show_flash() -> None:
    """The last action's confirmation (with Undo) or refusal, right under the open finding."""
    shown = st.session_state.get(FLASH)
    left, right = st.columns([6, 1], vertical_alignment="center")
    if shown:
        kind, message = shown
        box = {"ok": left.success, "undo": left.info, "error": left.error}[kind]
        box(md_escape(message) if kind == "error" else message)  # the others escape titles
    else:
        left.caption("Each decision is confirmed here; U undoes your latest one for 10 minutes.")
    right.button("Undo", icon=":material/undo:", shortcut="U", key="undo", on_click=undo_mine,
                 width="content", help="Undo your latest decision, on any finding, within "
                 "10 minutes (U)")  # fmt: skip


def claim_line(finding: Finding, claimed_at: datetime | None, holder_name: str | None) -> str:
    """Who holds the finding, and how long an untouched claim lasts."""
    if finding.assignee_id is None:
        return "unclaimed"
    holder = "you" if finding.assignee_id == actor.id else (holder_name or "another admin")
    if claimed_at is None:
        return f"assigned to {holder}"
    idle = int(IDLE.total_seconds() // 60)
    return (
        f"claimed by {holder} {claim_age(claimed_at)} ago (back in the queue after {idle} idle min)"
    )


def actions(finding: Finding) -> None:
    """The decision buttons for the open finding, or the reason prompt after D."""
    assert finding.id is not None
    fid, version, title = finding.id, finding.row_version, finding.title
    on = (fid, version, title)  # what a decision button acts on
    allowed = allowed_actions(finding.status)
    k = f"-{fid}"  # keyed by the finding: a key press meant for another one is dropped
    if st.session_state.get(DISMISSING) == fid:
        st.markdown(
            f"**Why dismiss #{fid}?** Press 1-5 or click a reason; Esc cancels. For 4 "
            "(duplicate), first give the number of the finding it duplicates."
        )
        reasons = st.container(horizontal=True)
        for reason, key in REASON_KEYS.items():
            reasons.button(
                f"{reason}: {DISMISS_REASON_HELP[reason]}",
                shortcut=key,
                key=f"reason-{reason}{k}",
                width="content",
                on_click=dismiss_with,
                args=(*on, reason),
            )
        reasons.button(
            "Cancel",
            shortcut="Escape",
            key="cancel" + k,
            width="content",
            on_click=lambda: st.session_state.update({DISMISSING: None}),
        )
        c1, c2 = st.columns([3, 1])
        c1.text_input("Comment (required for 'other')", key="dismiss_comment" + k)
        c2.number_input("Duplicate of finding # (for 4)", min_value=0, step=1,
                        key="duplicate_of" + k)  # fmt: skip
        return
    decidable = Action.confirm in allowed
    until = datetime.combine(date.today() + timedelta(days=7), time(6, 0), tzinfo=UTC)
    row = st.container(horizontal=True, vertical_alignment="bottom")
    next_button(row)
    row.button(
        "Confirm",
        shortcut="Y",
        type="primary",
        width="content",
        disabled=not decidable,
        key="confirm" + k,
        on_click=act,
        args=(*on, Action.confirm),
    )
    row.button(
        "Dismiss",
        shortcut="D",
        width="content",
        disabled=not decidable,
        key="dismiss" + k,
        help="Asks for the reason (D)",
        on_click=lambda: st.session_state.update({DISMISSING: fid}),
    )
    row.button(
        "Snooze",
        shortcut="S",
        width="content",
        help="For 7 days (S)",
        disabled=Action.snooze not in allowed,
        key="snooze" + k,
        on_click=act,
        args=(*on, Action.snooze),
        kwargs={"until": until},
    )
    if finding.assignee_id == actor.id and Action.release in allowed:
        row.button(
            "Release",
            shortcut="E",
            width="content",
            key="release" + k,
            on_click=release,
            args=(fid,),
            help="Hand it back to the queue (E)",
        )
    else:
        row.button(
            "Claim",
            shortcut="L",
            width="content",
            disabled=not decidable,
            key="claim" + k,
            on_click=act,
            args=(*on, Action.claim),
        )
    row.button(
        "Resolve",
        shortcut="X",
        width="content",
        disabled=Action.resolve not in allowed,
        key="resolve" + k,
        on_click=act,
        args=(*on, Action.resolve),
    )
    row.button(
        "Reopen",
        width="content",
        disabled=Action.reopen not in allowed,
        key="reopen" + k,
        on_click=act,
        args=(*on, Action.reopen),
    )
    mine = options.assignees.index(actor.name) if actor.name in options.assignees else 0
    who = row.selectbox(
        "Assign to",
        options.assignees,
        index=mine,
        key="assign_to" + k,
        label_visibility="collapsed",
        width=180,
    )
    row.button(
        "Assign",
        shortcut="A",
        width="content",
        disabled=Action.assign not in allowed or who is None,
        key="assign" + k,
        on_click=assign_picked,
        args=on,
        help="Assign to the person picked (A)",
    )


def next_button(where: Any) -> None:
    """N: the next unclaimed finding, first of the row of actions."""
    where.button("Next", icon=":material/skip_next:", shortcut="N", key="next",
                 on_click=take_next, width="content",
                 help="Claim and open the next unclaimed finding (N)")  # fmt: skip


@st.fragment(key=DETAIL)
def detail() -> None:
    """The open finding: heading, badges and claim, its evidence beside the actions."""
    recheck_in_fragment()
    open_id = st.session_state.get(OPEN)
    finding, claimed_at, holder_name = None, None, None
    if open_id is not None:
        with reading() as session:  # one unit of work for everything the heading says
            try:
                finding = get_finding(session=session, finding_id=open_id)
            except FindingNotFound:
                st.session_state[OPEN] = None
            if finding is not None and finding.assignee_id is not None:
                claimed_at = held_claims(session=session, finding_ids=[open_id]).get(open_id)
                if finding.assignee_id != actor.id:
                    holder_name = user_name_by_id(session=session, user_id=finding.assignee_id)
    with st.container(border=True):
        if finding is None:
            st.markdown("#### No finding open")
            show_flash()
            next_button(st.container(horizontal=True))
            st.caption("Press N for the next unclaimed finding, or click a row below.")
            return
        st.markdown(f"#### #{finding.id} · {md_escape(finding.title)}")
        badges = [finding.category, finding.severity, finding.status,
                  f"priority {finding.priority:.2f}", f"score {finding.score:.2f}",
                  f"seen in {finding.occurrences} runs",
                  claim_line(finding, claimed_at, holder_name)]  # fmt: skip
        if finding.regression:
            badges.append("REGRESSION")
        if finding.features.get("exploration"):
            badges.append("EXPLORATION: the model is least sure about this one")
        st.caption(" · ".join(md_escape(b) for b in badges) + " · " + md_code(finding.entity_key))
        show_flash()
        actions(finding)
        finding_tabs(actor, finding, flash_key=FLASH)


def bulk_done(message: str) -> None:
    """After a bulk action: say what it did and clear the table's selection."""
    flash("ok", message)
    fresh_table()


@st.fragment(key=LIST)
def listing() -> None:
    """The list under the open finding: counts, one page of rows, paging and the bulk panel."""
    recheck_in_fragment()
    queue_list(actor, queue_filter, assignees=options.assignees, done=bulk_done)


detail()
listing()

suppressions_panel(actor)
