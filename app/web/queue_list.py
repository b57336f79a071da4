"""The Review queue's list under the open finding: counts, the table of one page, paging and the
bulk panel, drawn as a fragment of its own so that what changes only the open finding (the
reason prompt, a comment, a tab) does not redraw it.

The table is sent as a narrow Arrow table of the page's rows (no pandas frame in between), and
the ids it was drawn with are kept in the session: what opens is read from them, never from a
row's position on a later run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import streamlit as st

from app.web.bulk_panel import bulk_panel
from app.web.units import reading
from review_queue.permissions import Actor
from review_queue.queue import QueueFilter, QueuePage, list_findings, matching_ids
from review_queue.states import WAITING_STATUSES

# Fragment keys: a callback that changes both the open finding and the list reruns both.
DETAIL = "queue_detail"
LIST = "queue_list"
OPEN = "gapdesk_open_finding"  # the finding on screen
PAGE = "gapdesk_queue_page"
NONCE = "gapdesk_queue_nonce"  # part of the table's key: a new value clears its selection
ROWS = "gapdesk_queue_rows"  # the ids of the table's rows as last drawn
DISMISSING = "gapdesk_dismissing"  # the finding whose reason prompt is open
PAGE_SIZE = 50

# At 1280 px every column is on screen without scrolling sideways. A title wraps onto up to
# three lines of its cell (the grid wraps text only in rows taller than 4rem), so it is read in
# the list, not only in the open finding's heading.
ROW_HEIGHT = 68
COLUMNS: dict[str, Any] = {
    "id": st.column_config.NumberColumn(width=45, format="%d"),
    "severity": st.column_config.TextColumn(width=62),
    "status": st.column_config.TextColumn(width=78),
    "title": st.column_config.TextColumn(width=305),
    "assignee": st.column_config.TextColumn(width=95),
    "department": st.column_config.TextColumn(width=105),
    "last seen": st.column_config.TextColumn(width=88),
}


def fresh_table() -> None:
    """Clear the table's selection (it is redrawn under a new key)."""
    st.session_state[NONCE] = st.session_state.get(NONCE, 0) + 1


def rerun_both() -> None:
    """From a callback: redraw the open finding and the list, not the filters above them."""
    st.rerun([DETAIL, LIST])


def following(after_id: int) -> int | None:
    """The waiting finding after ``after_id`` in the table as it was drawn."""
    ids = st.session_state.get(ROWS, {}).get("waiting", [])
    later = ids[ids.index(after_id) + 1 :] if after_id in ids else ids
    return next((i for i in later if i != after_id), None)


def claim_age(at: datetime) -> str:
    """How long ago a claim was made, in minutes."""
    return f"{max(0, int((datetime.now(UTC) - at).total_seconds() // 60))} min"


def _pick_row() -> None:
    """A click on one row opens that finding, once: the row's position is not remembered."""
    state = st.session_state.get(f"queue_table-{st.session_state.get(NONCE, 0)}")
    rows = state.selection.rows if state is not None else []
    ids = st.session_state.get(ROWS, {}).get("all", [])
    if len(rows) == 1 and rows[0] < len(ids):
        st.session_state[OPEN] = ids[rows[0]]
        st.session_state[DISMISSING] = None
    rerun_both()  # the detail shows the row; the list's bulk panel counts the selection


def _turn_page(to: int) -> None:
    """Another page of the list (its selection starts empty)."""
    st.session_state[PAGE] = to
    fresh_table()


def _arrow_rows(page: QueuePage) -> pa.Table:
    """The page's rows as the table shows them."""
    rows = page.rows
    return pa.table(
        {
            "id": pa.array([r.id for r in rows], pa.int64()),
            "severity": [r.severity for r in rows],
            "status": [r.status + (" ↻" if r.regression else "") for r in rows],
            "title": [r.title for r in rows],
            "assignee": [
                (r.assignee or "") + (f" (claim {claim_age(r.claimed_at)})" if r.claimed_at else "")
                for r in rows
            ],
            "department": [r.department or "" for r in rows],
            "last seen": [r.last_seen_at.strftime("%Y-%m-%d") for r in rows],
        }
    )


def read_page(actor: Actor, queue_filter: QueueFilter) -> QueuePage:
    """The list's page as the session last turned to it (back to the first when it emptied)."""
    with reading() as session:
        page = list_findings(
            session=session, actor=actor, queue_filter=queue_filter,
            page=st.session_state.get(PAGE, 0), page_size=PAGE_SIZE,
        )  # fmt: skip
        if page.page and not page.rows and page.total:  # the page emptied under us: back to 1
            st.session_state[PAGE] = 0
            page = list_findings(
                session=session, actor=actor, queue_filter=queue_filter, page_size=PAGE_SIZE
            )
    return page


def queue_list(
    actor: Actor, queue_filter: QueueFilter, *, assignees: list[str], done: Callable[[str], None]
) -> None:
    """Counts, the page's table, paging and the bulk panel (call it inside the LIST fragment)."""
    page = read_page(actor, queue_filter)
    counts = " · ".join(
        f"{s.replace('_', ' ')} **{page.count_label(s)}**" for s in page.status_counts
    )
    st.caption(counts or "The queue is empty.")
    st.session_state[ROWS] = {
        "all": [r.id for r in page.rows],
        "waiting": [r.id for r in page.rows if r.status in WAITING_STATUSES],
    }
    selected: list[int] = []
    if not page.rows:
        st.info("No findings match these filters.")
    else:
        event = st.dataframe(
            _arrow_rows(page), hide_index=True, on_select=_pick_row, selection_mode="multi-row",
            key=f"queue_table-{st.session_state.get(NONCE, 0)}", width="stretch",
            row_height=ROW_HEIGHT, column_config=COLUMNS,
        )  # fmt: skip
        selected = [page.rows[i].id for i in event.selection.rows if i < len(page.rows)]
        _pager(page)

    def every_match() -> list[int]:
        with reading() as session:
            return matching_ids(session=session, actor=actor, queue_filter=queue_filter)

    bulk_panel(actor, selected_ids=selected, total=page.total, matching=every_match,
               assignees=assignees, done=done)  # fmt: skip


def _pager(page: QueuePage) -> None:
    pages = max(1, -(-page.total // page.page_size))
    page_no = page.page
    nav = st.columns([1, 1, 4], vertical_alignment="center")
    nav[0].button("Previous", disabled=page_no == 0, icon=":material/chevron_left:",
                  on_click=_turn_page, args=(page_no - 1,))  # fmt: skip
    # Past a free-text count's floor ("1,000+"), a full page means there may be more.
    more = bool(page.total_at_least and len(page.rows) == page.page_size)
    nav[1].button("Next page", disabled=page_no + 1 >= pages and not more,
                  icon=":material/chevron_right:", on_click=_turn_page,
                  args=(page_no + 1,))  # fmt: skip
    match = "finding matches" if page.total == 1 else "findings match"
    of = f"{pages:,}+" if page.total_at_least else f"{pages:,}"
    nav[2].caption(f"Page {page_no + 1} of {of} · {page.count_label()} {match}")
