"""Report a problem (instructors): a learner's problem in one of their courses, and my reports."""

import pandas as pd
import streamlit as st

from app.core.errors import UserError
from app.sources.roster import instructor_roster
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.units import engine, reading, writing
from review_queue.comments import list_comments
from review_queue.decisions import DecisionRefused
from review_queue.learner_reports import URGENCY_SCORE, file_learner_report, my_reports

actor = require_actor()
st.title("Report a learner problem")

try:
    roster = instructor_roster(engine=engine(), actor=actor)
except UserError as exc:
    st.warning(f"Reports need the LMS data: {md_escape(exc)}")
    st.stop()

if not roster.courses:
    st.info(
        "No active course in the latest LMS data lists you as its owner, so there is nothing "
        "to report about yet. Ask an administrator to check your email in the LMS."
    )
else:
    course = st.selectbox(
        "Course", list(roster.courses), format_func=lambda c: f"{roster.courses[c]} ({c})"
    )
    learners = roster.learners.get(course, {})
    with st.form("report", clear_on_submit=True):
        learner = st.selectbox(
            "Learner", list(learners), format_func=lambda u: learners.get(u, u),
            placeholder="Choose a learner enrolled in this course",
        )  # fmt: skip
        what = st.text_area("What happened?", max_chars=4000)
        urgency = st.select_slider("Urgency", list(URGENCY_SCORE), value="medium")
        sent = st.form_submit_button("Send report", type="primary")
    if sent:
        try:
            with writing() as session:
                finding = file_learner_report(
                    session=session, actor=actor, learner_user_id=learner or "",
                    course_id=course, what_happened=what, urgency=urgency,
                    allowed_courses=roster.learners,
                )  # fmt: skip
            st.success(f"Report #{finding.id} is in the review queue.")
        except (DecisionRefused, PermissionError) as exc:
            st.error(md_escape(exc))

st.subheader("My reports")
with reading() as session:
    reports = my_reports(session=session, actor=actor)
if not reports:
    st.caption("You have not filed any report yet.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {"#": r.finding_id, "learner": r.learner, "course": r.course, "status": r.status,
                 "urgency": r.urgency, "filed": r.filed_at.strftime("%Y-%m-%d %H:%M")}
                for r in reports
            ]
        ),
        hide_index=True,
    )  # fmt: skip
    chosen = st.selectbox("Read the admins' comments on report", [r.finding_id for r in reports])
    with reading() as session:
        comments = list_comments(session=session, actor=actor, finding_id=chosen)
    for c in comments:
        st.markdown(md_escape(f"{c.author}, {c.at:%Y-%m-%d %H:%M}: {c.body}"))
    if not comments:
        st.caption("No comments yet.")
