"""The Work lists page's panels: one per list a dismissal reason feeds (rule tuning,
data-quality tickets, proposed exceptions, duplicates), each item with its age and owner, and
the actions an admin takes on it. The services check the role and log every action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st
from sqlmodel import Session

from app.auth.accounts import list_users
from app.core.errors import UserError
from app.learning.work_lists import (
    apply_exception,
    apply_tuning,
    exception_proposals,
    rule_tuning_backlog,
)
from app.sources.tickets import data_quality_tickets, tickets_csv
from app.web.presenters import evidence_tables, md_escape, plural
from app.web.signin import signed_in_only
from app.web.units import reading, writing
from review_queue.decisions import DecisionRefused
from review_queue.permissions import Actor
from review_queue.routing import WorkKind
from review_queue.tables import FeedbackEvent, Finding
from review_queue.work_items import (
    WorkRefused,
    WorkRow,
    assign_work,
    close_tickets,
    duplicate_grouping,
    duplicate_pair,
    list_work,
    merge_duplicate,
    merged_into,
    reject_work,
)

DONE = "work_lists_done"  # (kind, message) of the last action, shown above the tabs
REFUSALS = (WorkRefused, UserError, DecisionRefused, PermissionError)
ITEM_COLUMNS = ["item", "finding", "title", "detector", "age (days)", "owner"]


@signed_in_only
def run_action(change: Callable[[Session], str]) -> None:
    """One action in a unit of work; its message (or refusal) is shown on the next run."""
    try:
        with writing() as session:
            said = change(session)
    except REFUSALS as exc:
        st.session_state[DONE] = ("error", str(exc))
        return
    st.session_state[DONE] = ("ok", said)


def show_done() -> None:
    """What the last action did, or why it was refused."""
    shown = st.session_state.get(DONE)
    if shown:
        kind, message = shown
        (st.success if kind == "ok" else st.error)(md_escape(message))


def items_frame(rows: list[WorkRow]) -> pd.DataFrame:
    """Work items as a table: number, finding, title, detector, age and owner."""
    return pd.DataFrame(
        [
            {"item": r.id, "finding": r.finding_id, "title": r.title, "detector": r.detector,
             "age (days)": r.age_days, "owner": r.owner or "nobody"}
            for r in rows
        ],
        columns=ITEM_COLUMNS,
    )  # fmt: skip


def _admins(actor: Actor) -> dict[str, int]:
    with reading() as session:
        users = list_users(session=session, actor=actor)
    return {u.name: u.id for u in users if u.role == "admin" and u.active and u.id is not None}


def owner_controls(actor: Actor, kind: WorkKind, rows: list[WorkRow]) -> None:
    """Pick items of the list: take them, give them to another admin, or reject them."""
    if not rows:
        return
    k = kind.value
    picked = st.multiselect(
        "Items", [r.id for r in rows], key=f"pick-{k}", placeholder="Pick items by number",
        format_func=lambda i: f"#{i}",
    )  # fmt: skip
    admins = _admins(actor)
    row = st.container(horizontal=True, vertical_alignment="bottom")
    owner = row.selectbox("Owner", list(admins), key=f"owner-{k}", index=None,
                          placeholder="Give to…")  # fmt: skip
    note = row.text_input("Note", key=f"note-{k}", placeholder="Why (optional)")

    def give(me: bool) -> None:
        who = actor.id if me else admins.get(owner or "")
        run_action(lambda s: _give(s, actor, picked, who))

    row.button("Take", key=f"take-{k}", disabled=not picked, on_click=give, args=(True,))
    row.button("Give", key=f"give-{k}", disabled=not (picked and owner), on_click=give,
               args=(False,))  # fmt: skip
    row.button(
        "Reject", key=f"reject-{k}", disabled=not picked,
        on_click=lambda: run_action(lambda s: _said(
            reject_work(session=s, actor=actor, item_ids=picked, note=note), "rejected")),
    )  # fmt: skip
    if kind is WorkKind.data_quality:
        row.button(
            "Close", key=f"close-{k}", disabled=not picked, type="primary",
            help="The data was fixed at its source",
            on_click=lambda: run_action(lambda s: _said(
                close_tickets(session=s, actor=actor, item_ids=picked, note=note), "closed")),
        )  # fmt: skip


def _give(session: Session, actor: Actor, ids: list[int], owner_id: int | None) -> str:
    for item_id in ids:
        assign_work(session=session, actor=actor, item_id=item_id, owner_id=owner_id)
    return f"{plural(len(ids), 'item')} given an owner."


def _said(items: list[Any], done: str) -> str:
    return f"{plural(len(items), 'item')} {done}: " + ", ".join(f"#{i.id}" for i in items)


def rule_tuning_panel(actor: Actor) -> None:
    """The rule-tuning backlog, grouped by the one change that clears most."""
    st.caption(
        "Findings dismissed as false_positive_rule, grouped by the rule ledger's threshold that "
        "would clear them: the biggest group first. Applying one makes it the detector's next "
        "configuration version."
    )
    with reading() as session:
        groups = rule_tuning_backlog(session=session, actor=actor)
    if not groups:
        st.info("No false positives are waiting for a rule change.")
        return
    for n, group in enumerate(groups):
        with st.container(border=True):
            st.markdown(f"**{md_escape(group.describe())}**")
            if group.features:
                fired = "; ".join(
                    f"{md_escape(name)} {low:.4g}" + (f" to {high:.4g}" if high != low else "")
                    for name, (low, high) in group.features.items()
                )
                st.caption(f"Features that fired: {fired}")
            st.dataframe(items_frame(group.items), hide_index=True, key=f"tuning-{n}")
            if group.suggestion is not None:
                st.button(
                    f"Apply: clears {plural(len(group.items), 'finding')}",
                    key=f"apply-tuning-{n}", type="primary", on_click=run_action,
                    args=(lambda s, key=group.key: _applied_tuning(s, actor, key),),
                )  # fmt: skip
    owner_controls(actor, WorkKind.rule_tuning, [r for g in groups for r in g.items])


def _applied_tuning(session: Session, actor: Actor, key: str) -> str:
    group = apply_tuning(session=session, actor=actor, key=key)
    return f"Applied {key}: {plural(len(group.items), 'item')} cleared."


def tickets_panel(actor: Actor) -> None:
    """The data-quality tickets: source, tables and rows of each, and the CSV of them all."""
    st.caption(
        "Findings dismissed as data_error: the source data is wrong. Each ticket names the "
        "snapshot's source, the tables and the rows; the CSV is for whoever owns the source."
    )
    with reading() as session:
        tickets = data_quality_tickets(session=session, actor=actor)
        csv_text = tickets_csv(session=session, actor=actor) if tickets else ""
    if not tickets:
        st.info("No data-quality tickets are open.")
        return
    st.download_button(
        f"Download CSV ({plural(sum(t.row_count for t in tickets), 'row')})", csv_text,
        file_name="data-quality-tickets.csv", mime="text/csv", key="tickets-csv",
        icon=":material/download:",
    )  # fmt: skip
    st.dataframe(items_frame([t.item for t in tickets]), hide_index=True, key="tickets")
    for ticket in tickets:
        source = ticket.source or "unknown source"
        where = f"snapshot {ticket.snapshot_id}" if ticket.snapshot_id else "no snapshot"
        label = (
            f"Ticket #{ticket.item.id}: finding #{ticket.item.finding_id}, {source} ({where}), "
            f"{plural(ticket.row_count, 'row')} in {', '.join(ticket.tables) or 'no table'}"
        )
        with st.expander(md_escape(label)):
            st.markdown(md_escape(ticket.item.title))
            if ticket.item.note:
                st.caption(f"Dismissed because: {md_escape(ticket.item.note)}")
            if ticket.from_evidence:
                st.caption(
                    "The snapshot is no longer stored: these are the rows the evidence kept."
                )
            for table in ticket.tables:
                st.markdown(f"**{table}**")
                st.dataframe(ticket.rows[table].astype(str), hide_index=True,
                             key=f"ticket-{ticket.item.id}-{table}")  # fmt: skip
    owner_controls(actor, WorkKind.data_quality, [t.item for t in tickets])


def exceptions_panel(actor: Actor) -> None:
    """Proposed exceptions: each expected dismissal with the scopes it could apply to."""
    st.caption(
        "Findings dismissed as expected: real but acceptable. An admin applies an exception for "
        "the course or department (the detector's next configuration version, settling every "
        "proposal there) or for the entity alone (a suppression for 180 days)."
    )
    with reading() as session:
        proposals = exception_proposals(session=session, actor=actor)
    if not proposals:
        st.info("No exceptions are proposed.")
        return
    st.dataframe(items_frame([p.item for p in proposals]), hide_index=True, key="exceptions")
    for p in proposals:
        item = p.item
        with st.container(border=True):
            st.markdown(
                f"**Item #{item.id}**, finding #{item.finding_id}: {md_escape(item.title)} "
                f"({item.age_days} d, {md_escape(item.owner or 'nobody')})"
            )

            def label(scope: str, p: Any = p) -> str:
                text = f"{scope} {p.scopes[scope]}"
                if scope in p.same_place:
                    text += f" (settles {plural(p.same_place[scope], 'proposal')})"
                if scope in p.ledger:
                    text += " · the rule ledger suggests it"
                return text

            row = st.container(horizontal=True, vertical_alignment="bottom")
            scope = row.radio("Scope", list(p.scopes), key=f"scope-{item.id}", format_func=label,
                              horizontal=True)  # fmt: skip
            row.button(
                "Apply exception", key=f"apply-exception-{item.id}", type="primary",
                on_click=lambda i=item.id, sc=scope: run_action(lambda s: _applied_exception(
                    s, actor, i, sc)),
            )  # fmt: skip
    owner_controls(actor, WorkKind.exception, [p.item for p in proposals])


def _applied_exception(session: Session, actor: Actor, item_id: int, scope: str) -> str:
    settled = apply_exception(session=session, actor=actor, item_id=item_id, scope=scope)
    return f"Exception applied ({scope}): {plural(len(settled), 'item')} settled."


def duplicates_panel(actor: Actor) -> None:
    """Duplicates to merge (both findings' evidence side by side) and grouping-key suggestions."""
    st.caption(
        "Findings dismissed as duplicate of another. Merging keeps the evidence and history of "
        "both; a detector that keeps producing duplicates gets a grouping-key suggestion."
    )
    with reading() as session:
        rows = list_work(session=session, actor=actor, kind=WorkKind.duplicate)
        grouping = duplicate_grouping(session=session, actor=actor)
    for suggestion in grouping:
        st.info(md_escape(suggestion.describe()))
    if not rows:
        st.info("No duplicates are waiting to be merged.")
        return
    st.dataframe(items_frame(rows), hide_index=True, key="duplicates")
    for item in rows:
        original = item.detail.get("original_id")
        with st.expander(f"Item #{item.id}: finding #{item.finding_id} duplicates #{original}"):
            with reading() as session:
                dup, orig, dup_history, orig_history = duplicate_pair(
                    session=session, actor=actor, item_id=item.id
                )
            for column, finding, history in zip(
                st.columns(2), (dup, orig), (dup_history, orig_history), strict=True
            ):
                with column:
                    _finding_side(finding, history)
            st.button(
                f"Merge #{item.finding_id} into #{original}", key=f"merge-{item.id}",
                type="primary",
                on_click=lambda i=item.id: run_action(lambda s: _merged(s, actor, i)),
            )  # fmt: skip
    owner_controls(actor, WorkKind.duplicate, rows)


def _finding_side(finding: Finding, history: list[FeedbackEvent]) -> None:
    st.markdown(f"**#{finding.id}** {md_escape(finding.title)}")
    st.caption(f"{md_escape(finding.detector)} · {md_escape(finding.entity_key)}")
    _evidence_and_history(finding.evidence, history)


def _evidence_and_history(evidence: dict[str, Any], history: list[FeedbackEvent]) -> None:
    for name, frame in evidence_tables(evidence):
        st.markdown(f"**{md_escape(name)}**")
        st.dataframe(frame, hide_index=True)
    st.dataframe(
        pd.DataFrame(
            [{"at": f"{e.at:%Y-%m-%d %H:%M}", "who": e.actor, "action": e.action,
              "comment": e.comment or ""} for e in history],
            columns=["at", "who", "action", "comment"],
        ),
        hide_index=True,
    )  # fmt: skip


def _merged(session: Session, actor: Actor, item_id: int) -> str:
    item = merge_duplicate(session=session, actor=actor, item_id=item_id)
    original = (item.detail or {}).get("original_id")
    return f"Finding #{item.finding_id} merged into #{original}; both keep evidence and history."


def merged_panel(actor: Actor, finding_id: int) -> None:
    """The findings merged into ``finding_id``, each with its evidence and history."""
    with reading() as session:
        merged = merged_into(session=session, actor=actor, finding_id=finding_id)
    if not merged:
        st.caption(f"Nothing was merged into finding #{finding_id}.")
    for m in merged:
        with st.expander(f"Merged: finding #{m.finding_id}, {md_escape(m.title)}", expanded=True):
            _evidence_and_history(m.evidence, m.history)
