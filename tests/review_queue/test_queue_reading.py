"""Reading the queue (filters, paging, counts, history) and notes/reports, on both databases."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from review_queue.comments import add_comment, list_comments
from review_queue.decisions import DecisionRefused, decide
from review_queue.findings import queue_counts
from review_queue.history import entity_history
from review_queue.learner_reports import file_learner_report, my_reports
from review_queue.queue import (
    QueueFilter,
    filter_options,
    list_findings,
    matching_ids,
)
from tests.helpers.queue_fixtures import add_finding, add_people


def test_filters_sort_page_and_count_in_sql(session: Session) -> None:
    people = add_people(session)
    for i in range(12):
        add_finding(
            session, i, priority=i / 12, severity="high" if i % 2 else "low",
            course_id=f"C{i % 3}", department="Sales" if i < 6 else "Legal",
            title=f"Enrolment E{i} is past 50% of its due date",
        )  # fmt: skip
    decide(session=session, actor=people["ada"], finding_id=12, action="claim")
    decide(session=session, actor=people["ada"], finding_id=1, action="dismiss", reason="expected")
    session.commit()
    page = list_findings(session=session, actor=people["ada"], queue_filter=QueueFilter(),
                         page=0, page_size=5)  # fmt: skip
    assert page.total == 11 and len(page.rows) == 5
    assert [r.id for r in page.rows] == [12, 11, 10, 9, 8]
    assert page.status_counts == {"new": 10, "in_review": 1, "dismissed": 1}
    assert page.rows[0].assignee == "ada"
    last = list_findings(session=session, actor=people["ada"], queue_filter=QueueFilter(),
                         page=2, page_size=5)  # fmt: skip
    assert [r.id for r in last.rows] == [2]
    f = QueueFilter(severities=("high",), department="Legal", course="C1")
    got = list_findings(session=session, actor=people["ada"], queue_filter=f)
    assert {r.entity_key for r in got.rows} == {"enrollment=E7"}
    mine = QueueFilter(assignee="me")
    assert [r.id for r in list_findings(session=session, actor=people["ada"],
                                        queue_filter=mine).rows] == [12]  # fmt: skip
    assert list_findings(session=session, actor=people["bo"], queue_filter=mine).rows == []
    # Free text matches literally: '50%' is not a wildcard, '_' neither.
    text = QueueFilter(text="past 50%", statuses=())
    assert list_findings(session=session, actor=people["ada"], queue_filter=text).total == 12
    assert list_findings(session=session, actor=people["ada"],
                         queue_filter=QueueFilter(text="E1_")).total == 0  # fmt: skip
    sales = QueueFilter(department="Sales")
    assert matching_ids(session=session, actor=people["ada"], queue_filter=sales) == [6, 5, 4, 3, 2]
    options = filter_options(session=session, actor=people["ada"])
    assert options.departments == ["Legal", "Sales"] and options.assignees == ["ada", "bo"]
    with pytest.raises(PermissionError):
        list_findings(session=session, actor=people["max"], queue_filter=QueueFilter())


def test_entity_history_spans_categories(session: Session) -> None:
    people = add_people(session)
    a = add_finding(session, 1)
    b = add_finding(session, 2, category="enrollment_failed", entity_key="enrollment=E1")
    decide(session=session, actor=people["ada"], finding_id=a.id or 0, action="confirm")
    decide(session=session, actor=people["bo"], finding_id=b.id or 0, action="dismiss",
           reason="data_error")  # fmt: skip
    session.commit()
    history = entity_history(session=session, actor=people["ada"], finding=a)
    assert [(h.category, h.action, h.actor) for h in history] == [
        ("enrollment_failed", "dismiss", "bo"), ("compliance_overdue", "confirm", "ada"),
    ]  # fmt: skip


def test_an_instructor_reports_and_follows_only_their_reports(session: Session) -> None:
    people = add_people(session)
    ivy = people["ivy"]
    with pytest.raises(PermissionError, match="not one of ivy's courses"):
        file_learner_report(session=session, actor=ivy, learner_user_id="U1", course_id="C9",
                            what_happened="x", urgency="high",
                            allowed_courses={"C1": {"U1"}})  # fmt: skip
    # The roster is the service's to check, not only the page's dropdown (issue 15.13).
    with pytest.raises(PermissionError, match="U2 is not on the roster of C1"):
        file_learner_report(session=session, actor=ivy, learner_user_id="U2", course_id="C1",
                            what_happened="x", urgency="high",
                            allowed_courses={"C1": {"U1"}, "C2": {"U2"}})  # fmt: skip
    with pytest.raises(DecisionRefused, match="empty"):
        file_learner_report(session=session, actor=ivy, learner_user_id="U1", course_id="C1",
                            what_happened="  ", urgency="high",
                            allowed_courses={"C1": {"U1"}})  # fmt: skip
    with pytest.raises(PermissionError):
        file_learner_report(session=session, actor=people["max"], learner_user_id="U1",
                            course_id="C1", what_happened="x", urgency="high",
                            allowed_courses=None)  # fmt: skip
    f = file_learner_report(session=session, actor=ivy, learner_user_id="U1", course_id="C1",
                            what_happened="<b>Cannot open</b> the quiz", urgency="high",
                            allowed_courses={"C1": {"U1"}})  # fmt: skip
    session.commit()
    assert f.entity_key == "user=U1;course=C1" and f.category == "learner_report"
    assert f.status == "new" and f.severity == "high" and f.detector == "manual"
    add_comment(session=session, actor=people["ada"], finding_id=f.id or 0,
                body="Looking into the quiz settings")  # fmt: skip
    decide(session=session, actor=people["ada"], finding_id=f.id or 0, action="confirm")
    session.commit()
    [report] = my_reports(session=session, actor=ivy)
    assert report.status == "confirmed" and report.learner == "U1"
    assert [c.body for c in list_comments(session=session, actor=ivy, finding_id=f.id or 0)] == [
        "Looking into the quiz settings"
    ]
    other = add_finding(session, 5)
    with pytest.raises(PermissionError):
        list_comments(session=session, actor=ivy, finding_id=other.id or 0)
    with pytest.raises(PermissionError):
        add_comment(session=session, actor=ivy, finding_id=other.id or 0, body="hi")
    # A second report on the same learner and course joins the same finding.
    again = file_learner_report(session=session, actor=ivy, learner_user_id="U1", course_id="C1",
                                what_happened="Still stuck", urgency="medium",
                                allowed_courses={"C1": {"U1"}})  # fmt: skip
    assert again.id == f.id and again.occurrences == 2


def test_free_text_finds_substrings_through_the_search_index(session: Session) -> None:
    """Titles and entity keys, any case, any characters; the index follows a changed title."""
    from sqlalchemy import text, update

    from review_queue.tables import Finding

    people = add_people(session)
    add_finding(session, 1, title='Ünïcode "quoted" Title of Anna', course_id="C1")
    add_finding(session, 2, title="Another gap", entity_key="user=anna.smith@example.org")
    add_finding(session, 3, title="Third", entity_key="course=C9;date=2026-11-02")

    def found(words: str) -> set[int]:
        page = list_findings(session=session, actor=people["ada"],
                             queue_filter=QueueFilter(text=words, statuses=()))  # fmt: skip
        return {r.id for r in page.rows}

    assert found("anna") == {1, 2}  # title and entity key, case folded
    assert found('"quoted"') == {1}
    assert found("ÜNÏCODE") == {1}
    assert found("C9;date=2026") == {3}
    assert found("an") == {1, 2}  # too short for a trigram: a scan, same answer
    assert found("nothing like it") == set()
    session.exec(update(Finding).where(Finding.id == 3).values(title="Renamed anna"))  # type: ignore[call-overload]
    session.commit()
    assert found("anna") == {1, 2, 3} and found("Third") == set()
    if session.get_bind().dialect.name == "sqlite":
        plan = session.exec(text(  # type: ignore[call-overload]
            "EXPLAIN QUERY PLAN SELECT rowid FROM findings_text WHERE findings_text MATCH 'anna'"
        )).all()  # fmt: skip
        assert any("VIRTUAL TABLE INDEX" in str(row) for row in plan)
    else:
        indexes = session.exec(text(  # type: ignore[call-overload]
            "SELECT indexname FROM pg_indexes WHERE tablename = 'findings'"
        )).all()  # fmt: skip
        assert {"ix_findings_title_trgm", "ix_findings_entity_key_trgm"} <= {i[0] for i in indexes}


def test_the_detector_filter_matches_whole_detector_names(session: Session) -> None:
    """A merged finding names its detectors joined by '+'; filtering by one detector finds it,
    and never a finding of a detector whose name merely contains the one asked for."""
    people = add_people(session)
    add_finding(session, 1, detector="sync_failure")
    add_finding(session, 2, detector="reporting_gap+sync_failure")
    add_finding(session, 3, detector="sync_failure_extra")
    add_finding(session, 4, detector="a_sync_failure+zz")
    add_finding(session, 5, detector="access_failure+sync_failure+unowned_course")
    ids = {
        r.entity_key
        for r in list_findings(
            session=session, actor=people["ada"],
            queue_filter=QueueFilter(detectors=("sync_failure",)),
        ).rows
    }  # fmt: skip
    assert ids == {"enrollment=E1", "enrollment=E2", "enrollment=E5"}
    options = filter_options(session=session, actor=people["ada"])
    assert "sync_failure" in options.detectors and "reporting_gap" in options.detectors
    assert not any("+" in d for d in options.detectors)


def test_a_reporter_sees_names_their_words_and_plain_status_and_open_counts_only_undecided(
    session: Session,
) -> None:
    people = add_people(session)
    ivy, ada = people["ivy"], people["ada"]
    first = file_learner_report(
        session=session, actor=ivy, learner_user_id="U1", course_id="C1",
        what_happened="Cannot open the quiz", urgency="high",
        allowed_courses={"C1": {"U1", "U2"}},
        learner_name="Ada Lovelace (U1)",
    )  # fmt: skip
    file_learner_report(session=session, actor=ivy, learner_user_id="U2", course_id="C1",
                        what_happened="Certificate missing", urgency="low",
                        allowed_courses={"C1": {"U1", "U2"}})  # fmt: skip
    session.commit()
    assert queue_counts(session=session, actor=ivy).undecided == 2
    decide(session=session, actor=ada, finding_id=first.id or 0, action="confirm")
    session.commit()
    # Confirmed by the admins: no longer an open report for the person who filed it.
    counts = queue_counts(session=session, actor=ivy)
    assert (counts.undecided, counts.confirmed_open) == (1, 1)
    names = {"C1": {"U2": "Grace Hopper (U2)"}}
    reports = {r.learner: r for r in my_reports(session=session, actor=ivy, learner_names=names)}
    assert reports["U1"].learner_name == "Ada Lovelace (U1)"  # kept from the filing
    assert reports["U2"].learner_name == "Grace Hopper (U2)"  # from the roster
    assert reports["U1"].what_happened == "Cannot open the quiz"
    assert reports["U1"].status_words == "Admins confirmed the problem"
    assert reports["U2"].status_words == "Waiting for an admin"
