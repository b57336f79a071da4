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
    # Each sent report starts a fresh form (new widget keys): nothing of the last one, least of
    # all its learner, carries over; a refused send keeps what was typed.
    sent_count = st.session_state.setdefault("gapdesk_reports_sent", 0)
    with st.form(f"report_{sent_count}"):
        # Nothing is chosen until the person picks: a preselected learner is how the wrong
        # person gets reported.
        learner = st.selectbox(
            "Learner", list(learners), format_func=lambda u: learners.get(u, u), index=None,
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
                    learner_name=learners.get(learner or ""),
                )  # fmt: skip
        except (DecisionRefused, PermissionError) as exc:
            st.error(md_escape(exc))
        else:
            st.session_state["gapdesk_report_sent"] = (
                f"Report #{finding.id} about {learners.get(learner or '', learner)} "
                "is in the review queue."
            )
            st.session_state["gapdesk_reports_sent"] = sent_count + 1
            st.rerun()
    if done := st.session_state.pop("gapdesk_report_sent", None):
        st.success(md_escape(done))

st.subheader("My reports")
with reading() as session:
    reports = my_reports(session=session, actor=actor, learner_names=roster.learners)
if not reports:
    st.caption("You have not filed any report yet.")
else:
    titles = roster.courses
    st.dataframe(
        pd.DataFrame(
            [
                {"#": r.finding_id, "learner": r.learner_name,
                 "course": f"{titles.get(r.course, r.course)} ({r.course})",
                 "what you wrote": r.what_happened, "where it stands": r.status_words,
                 "urgency": r.urgency, "filed": r.filed_at.strftime("%Y-%m-%d %H:%M")}
                for r in reports
            ]
        ),
        hide_index=True,
    )  # fmt: skip
    about = {r.finding_id: f"#{r.finding_id}: {r.learner_name}" for r in reports}
    chosen = st.selectbox(
        "Read the admins' comments on report", list(about), format_func=about.__getitem__
    )
    with reading() as session:
        comments = list_comments(session=session, actor=actor, finding_id=chosen)
    for c in comments:
        st.markdown(md_escape(f"{c.author}, {c.at:%Y-%m-%d %H:%M}: {c.body}"))
    if not comments:
        st.caption("No comments yet.")
