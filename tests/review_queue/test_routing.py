"""Reason routing: each dismissal reason makes the work item it asks for, in the dismissal's own
transaction; what admins then do with an item is logged like any decision (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app.notify.webhooks import register_endpoint
from models.detectors.base import Proposal
from review_queue.decisions import DecisionRefused, decide, undo
from review_queue.feedback_log import verify_chain
from review_queue.permissions import Actor
from review_queue.propose import propose_findings
from review_queue.routing import WorkKind
from review_queue.tables import (
    FeedbackEvent,
    Finding,
    OutboxDelivery,
    OutboxEvent,
    WorkItem,
)
from review_queue.trends.filters import TrendFilters
from review_queue.trends.flow import gap_flow
from review_queue.types import utcnow
from review_queue.work_items import (
    WorkRefused,
    assign_work,
    close_tickets,
    duplicate_grouping,
    finish_work,
    list_work,
    merge_duplicate,
    merged_into,
    reject_work,
    work_counts,
)
from tests.helpers.queue_fixtures import add_finding, add_people

EVIDENCE = {
    "lms_users": [{"user_id": "U7", "email": "=HYPERLINK(1)"}, {"user_id": "U8", "email": ""}],
    "enrolment_due_by": "2026-11-01",
}


def _dismiss(s: Session, actor: Actor, finding: Finding, reason: str, **kw: Any) -> int:
    assert finding.id is not None
    done = decide(session=s, actor=actor, finding_id=finding.id, action="dismiss", reason=reason,
                  **kw)  # fmt: skip
    s.commit()
    return done.event.id or 0


def test_each_reason_lands_in_its_list_with_age_and_no_owner(session: Session) -> None:
    ada = add_people(session)["ada"]
    fs = [add_finding(session, n, course_id="C1", department="Sales") for n in range(5)]
    week_ago = utcnow() - timedelta(days=7)
    _dismiss(session, ada, fs[0], "false_positive_rule", now=week_ago)
    _dismiss(session, ada, fs[1], "data_error")
    _dismiss(session, ada, fs[2], "expected")
    _dismiss(session, ada, fs[3], "duplicate", duplicate_of_id=fs[4].id)
    _dismiss(session, ada, fs[4], "other", comment="the course was cancelled")
    assert work_counts(session=session, actor=ada) == {
        "rule_tuning": 1, "data_quality": 1, "exception": 1, "duplicate": 1,
    }  # fmt: skip
    [tuning] = list_work(session=session, actor=ada, kind="rule_tuning")
    assert (tuning.finding_id, tuning.age_days, tuning.owner) == (fs[0].id, 7, None)
    [exception] = list_work(session=session, actor=ada, kind=WorkKind.exception)
    assert exception.detail["course_id"] == "C1" and exception.detail["department"] == "Sales"
    [dup] = list_work(session=session, actor=ada, kind=WorkKind.duplicate)
    assert dup.detail["original_id"] == fs[4].id
    with pytest.raises(WorkRefused, match="'tickets' is not a work list"):
        list_work(session=session, actor=ada, kind="tickets")


def test_a_ticket_names_its_rows_and_reaches_the_webhook_outbox_in_the_same_transaction(
    session: Session,
) -> None:
    ada = add_people(session)["ada"]
    finding = add_finding(session, 1, entity_key="person=P1;user=U9", evidence=EVIDENCE)
    # A real subscriber: the ticket goes into the webhook outbox in the dismissal's transaction.
    register_endpoint(session=session, actor=ada, url="https://93.184.215.14/hooks/gapdesk",
                      events=["data_quality.ticket"])  # fmt: skip
    session.commit()
    assert finding.id is not None
    decide(session=session, actor=ada, finding_id=finding.id, action="dismiss",
           reason="data_error", comment="HR typed the email into the name field")  # fmt: skip
    session.rollback()  # the dismissal is not kept: neither is its ticket nor its outbox row
    assert session.exec(select(WorkItem)).all() == []
    assert session.exec(select(OutboxEvent)).all() == []
    _dismiss(session, ada, finding, "data_error", comment="HR typo")
    [ticket] = list_work(session=session, actor=ada, kind=WorkKind.data_quality)
    assert ticket.detail["keys"] == {"lms_users": ["U7", "U8", "U9"], "people": ["P1"]}
    assert ticket.detail["rows"]["lms_users"][0]["email"] == "=HYPERLINK(1)"
    [queued] = session.exec(select(OutboxEvent)).all()
    assert queued.kind == "data_quality.ticket" and queued.payload["ticket_id"] == ticket.id
    assert queued.payload["rows"] == ticket.detail["keys"] and queued.payload["note"] == "HR typo"
    assert queued.payload["tables"] == ["lms_users", "people"]
    assert session.exec(select(OutboxDelivery)).one().status == "pending"


def test_undo_or_reopen_withdraws_the_work_item(session: Session) -> None:
    ada = add_people(session)["ada"]
    one, two = add_finding(session, 1), add_finding(session, 2)
    event_id = _dismiss(session, ada, one, "false_positive_rule")
    _dismiss(session, ada, two, "expected")
    undo(session=session, actor=ada, event_id=event_id)
    assert two.id is not None
    decide(session=session, actor=ada, finding_id=two.id, action="reopen")
    session.commit()
    assert work_counts(session=session, actor=ada) == dict.fromkeys(
        ("rule_tuning", "data_quality", "exception", "duplicate"), 0
    )
    statuses = session.exec(select(WorkItem.status)).all()
    assert sorted(statuses) == ["withdrawn", "withdrawn"]


def test_admin_actions_are_logged_without_changing_the_finding(session: Session) -> None:
    people = add_people(session)
    ada, bo, ivy = people["ada"], people["bo"], people["ivy"]
    finding = add_finding(session, 1)
    _dismiss(session, ada, finding, "data_error")
    [ticket] = list_work(session=session, actor=ada, kind=WorkKind.data_quality)
    assign_work(session=session, actor=ada, item_id=ticket.id, owner_id=bo.id)
    session.commit()
    assert list_work(session=session, actor=ada, kind="data_quality")[0].owner == "bo"
    assign_work(session=session, actor=bo, item_id=ticket.id)  # bo takes it (already his)
    with pytest.raises(WorkRefused, match="ivy is instructor; only admins own work items"):
        assign_work(session=session, actor=ada, item_id=ticket.id, owner_id=ivy.id)
    with pytest.raises(WorkRefused, match="is a data_quality item; work_apply is not for it"):
        finish_work(session=session, actor=ada, item_ids=[ticket.id], action="work_apply")
    close_tickets(session=session, actor=bo, item_ids=[ticket.id], note="fixed in Workday")
    session.commit()
    with pytest.raises(WorkRefused, match=r"work item #\d+ is already closed by bo"):
        reject_work(session=session, actor=ada, item_ids=[ticket.id])
    with pytest.raises(PermissionError, match="needs the admin role"):
        list_work(session=session, actor=ivy, kind="data_quality")
    assert list_work(session=session, actor=ada, kind="data_quality") == []
    [closed] = list_work(session=session, actor=ada, kind="data_quality", include_closed=True)
    assert (closed.status, closed.closed_by) == ("closed", "bo")
    log = session.exec(
        select(FeedbackEvent).where(col(FeedbackEvent.finding_id) == finding.id)
        .order_by(col(FeedbackEvent.id))
    ).all()  # fmt: skip
    assert [(e.action, e.actor) for e in log] == [
        ("dismiss", "ada"), ("work_assign", "ada"), ("work_assign", "bo"), ("work_close", "bo"),
    ]  # fmt: skip
    assert {e.to_status for e in log} == {"dismissed"}
    assert "fixed in Workday" in (log[-1].comment or "")
    assert session.get(Finding, finding.id).status == "dismissed"  # type: ignore[union-attr]
    assert verify_chain(session=session).ok


def test_a_duplicate_needs_its_original_and_the_merge_keeps_both(session: Session) -> None:
    ada = add_people(session)["ada"]
    original = add_finding(session, 1, evidence={"enrollments": [{"enrollment_id": "E1"}]})
    dup = add_finding(session, 2, evidence={"enrollments": [{"enrollment_id": "E2"}]})
    assert dup.id is not None and original.id is not None
    with pytest.raises(DecisionRefused, match="a duplicate must name the finding it duplicates"):
        decide(session=session, actor=ada, finding_id=dup.id, action="dismiss", reason="duplicate")
    session.rollback()
    assert session.exec(select(WorkItem)).all() == []
    _dismiss(session, ada, dup, "duplicate", duplicate_of_id=original.id)
    [item] = list_work(session=session, actor=ada, kind="duplicate")
    merge_duplicate(session=session, actor=ada, item_id=item.id)
    session.commit()
    [merged] = merged_into(session=session, actor=ada, finding_id=original.id)
    assert merged.finding_id == dup.id
    assert merged.evidence == {"enrollments": [{"enrollment_id": "E2"}]}
    assert [e.action for e in merged.history] == ["dismiss", "merge"]
    # The original keeps its own evidence, and its history tells of the merge.
    assert session.get(Finding, original.id).evidence == {  # type: ignore[union-attr]
        "enrollments": [{"enrollment_id": "E1"}]
    }
    last = session.exec(
        select(FeedbackEvent).where(col(FeedbackEvent.finding_id) == original.id)
    ).all()
    assert [e.action for e in last] == ["merge"]
    assert f"finding #{dup.id} merged into this one" in (last[0].comment or "")


def test_a_detector_that_keeps_making_duplicates_gets_a_grouping_key(session: Session) -> None:
    ada = add_people(session)["ada"]
    for n in range(3):
        original = add_finding(session, 10 + n, entity_key=f"person=P{n};user=U{n}a")
        dup = add_finding(session, 20 + n, entity_key=f"person=P{n};user=U{n}b")
        _dismiss(session, ada, dup, "duplicate", duplicate_of_id=original.id)
    # Two duplicates of another detector are not yet a pattern.
    for n in range(2):
        original = add_finding(session, 30 + n, detector="other_rule")
        dup = add_finding(session, 40 + n, detector="other_rule")
        _dismiss(session, ada, dup, "duplicate", duplicate_of_id=original.id)
    [suggestion] = duplicate_grouping(session=session, actor=ada)
    assert (suggestion.detector, suggestion.duplicates) == ("compliance_overdue", 3)
    assert suggestion.shared == ("person",) and suggestion.differing == ("user",)
    assert "group its findings by person (not by user)" in suggestion.describe()


def test_work_on_a_fix_is_not_another_dismissal_in_the_trends(session: Session) -> None:
    people = add_people(session)
    ada, max_ = people["ada"], people["max"]
    finding = add_finding(session, 1)
    _dismiss(session, ada, finding, "data_error")
    [ticket] = list_work(session=session, actor=ada, kind="data_quality")
    assign_work(session=session, actor=ada, item_id=ticket.id)
    close_tickets(session=session, actor=ada, item_ids=[ticket.id])
    session.commit()
    flow = gap_flow(session=session, actor=max_, filters=TrendFilters.last_weeks(2)).frame
    dismissed = flow[flow["measure"] == "dismissed"]["count"].sum()
    assert dismissed == 1
    assert (
        "1 dismissed"
        in gap_flow(session=session, actor=max_, filters=TrendFilters.last_weeks(2)).takeaway
    )


def test_a_dismissed_finding_proposed_again_markedly_withdraws_its_fix(session: Session) -> None:
    ada = add_people(session)["ada"]
    finding = add_finding(session, 1, score=0.4)
    _dismiss(session, ada, finding, "false_positive_rule")
    proposal = Proposal(
        category="compliance_overdue", entity_key="enrollment=E1", title="E1 is overdue",
        score=0.9, severity="high", detector="compliance_overdue", detector_version="1",
    )  # fmt: skip
    stats = propose_findings(session=session, proposals=[proposal])
    session.commit()
    assert stats.reopened == 1
    assert list_work(session=session, actor=ada, kind="rule_tuning") == []
    assert session.exec(select(WorkItem.status)).all() == ["withdrawn"]
