"""Work lists (admins): what each dismissal reason asks to be fixed, one tab per list (rule
tuning, data-quality tickets, proposed exceptions, duplicates), each item with its age and
owner. Applying, rejecting, closing and merging are logged in the feedback log."""

import streamlit as st

from app.web.signin import require_actor
from app.web.units import reading
from app.web.work_list_panels import (
    duplicates_panel,
    exceptions_panel,
    merged_panel,
    rule_tuning_panel,
    show_done,
    tickets_panel,
)
from review_queue.routing import LIST_TITLES, WorkKind
from review_queue.work_items import work_counts

actor = require_actor()
st.title("Work lists")
show_done()
with reading() as session:
    counts = work_counts(session=session, actor=actor)
tuning, tickets, exceptions, duplicates = st.tabs(
    [f"{LIST_TITLES[kind]} ({counts[kind.value]})" for kind in WorkKind]
)
with tuning:
    rule_tuning_panel(actor)
with tickets:
    tickets_panel(actor)
with exceptions:
    exceptions_panel(actor)
with duplicates:
    duplicates_panel(actor)
    merged = st.number_input("Show what was merged into finding #", min_value=0, step=1)
    if merged:
        merged_panel(actor, int(merged))
