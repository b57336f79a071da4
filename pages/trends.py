"""Trends (managers and admins): are the programme's gaps being found, owned and closed?"""

from datetime import date
from zoneinfo import available_timezones

import streamlit as st

from app.web.audit_trends import audit_trends_panel
from app.web.cached import trend_report_for
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.trend_charts import (
    PAPER_SIZES,
    default_report_paper,
    default_reporting_tz,
    render_report,
    table_csv,
    trend_charts,
)
from app.web.units import reading
from review_queue.trends.backlog import DEFAULT_SLA_DAYS
from review_queue.trends.filters import TrendFilters, trend_filter_options

actor = require_actor()
st.title("Trends")
st.caption("Are gaps being found, owned and closed, and do the detectors deserve trust?")

with reading() as session:
    options = trend_filter_options(session=session, actor=actor)

with st.expander("Reporting settings"):
    zones = sorted(available_timezones() | {"UTC"})
    tz_default = default_reporting_tz()
    tz = st.selectbox(
        "Time zone", zones, index=zones.index(tz_default) if tz_default in zones else 0
    )
    sla_days = st.number_input("SLA (days)", 1, 365, DEFAULT_SLA_DAYS)
    learners = st.number_input("Learners in the programme (0 = unknown)", 0, None, 0, step=100)
    papers = list(PAPER_SIZES)
    paper = st.radio(
        "PDF paper", papers, index=papers.index(default_report_paper()), horizontal=True,
        format_func=lambda p: {"a4": "A4", "letter": "Letter"}[p],
    )  # fmt: skip

default = TrendFilters.last_weeks(12, tz=tz)
cols = st.columns([2, 3, 3])
picked = cols[0].date_input(
    "Date range", (default.start, default.end), max_value=default.end, format="YYYY-MM-DD"
)
departments = cols[1].multiselect("Department", options.departments, placeholder="All")
categories = cols[2].multiselect("Category", options.categories, placeholder="All")

if not isinstance(picked, tuple) or len(picked) != 2:
    st.info("Pick the last day of the range too.")
    st.stop()
start, end = picked
assert isinstance(start, date) and isinstance(end, date)
try:
    filters = TrendFilters(start, end, tz, tuple(departments), tuple(categories))
except ValueError as exc:
    st.error(md_escape(exc))
    st.stop()

report = trend_report_for(actor, filters, sla_days=int(sla_days), learners=int(learners) or None)

stem = f"gapdesk-trends-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}"
export = st.columns([1, 1, 4])
# Rendering happens only when clicked (a callable), so browsing the page stays quick.
export[0].download_button(
    "PDF report", lambda: render_report(report, "pdf", paper=paper), f"{stem}.pdf",
    "application/pdf",
    icon=":material/picture_as_pdf:", on_click="ignore",
)  # fmt: skip
export[1].download_button(
    "PNG report", lambda: render_report(report, "png"), f"{stem}.png", "image/png",
    icon=":material/image:", on_click="ignore",
)  # fmt: skip

for item in trend_charts(report):
    st.subheader(item.metric.title)
    st.markdown(md_escape(item.metric.takeaway))  # names departments and courses from data
    st.altair_chart(item.chart, width="stretch")
    for slot, (name, table) in zip(st.columns(4), item.tables.items(), strict=False):
        slot.download_button(
            f"CSV: {name}", table_csv(table), f"{stem}-{name}.csv", "text/csv",
            key=f"csv-{name}", icon=":material/download:", on_click="ignore",
        )  # fmt: skip

audit_trends_panel(actor)
