"""What audits teach the models, on both databases: a verdict on a sampled dismissal relabels
that finding (at its first decision's time), an unflagged entity's audit finding is not a
proposal to rank, and the rule ledger shows audit-confirmed misses against the detector."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from app.learning.frames import decided_frame
from app.learning.rule_ledger import rule_ledger_tables
from review_queue.audits import (
    DISMISSAL,
    UNFLAGGED,
    Draw,
    audit_items,
    decide_audit,
    period_dismissals,
    record_sample,
)
from review_queue.decisions import decide
from review_queue.types import utcnow
from tests.helpers.queue_fixtures import add_finding, add_people


def test_audit_verdicts_relabel_and_the_ledger_counts_misses(session: Session) -> None:
    people = add_people(session)
    ada, bo = people["ada"], people["bo"]
    dismissed = add_finding(session, 1)
    other = add_finding(session, 2)
    assert dismissed.id is not None and other.id is not None
    first = decide(session=session, actor=ada, finding_id=dismissed.id, action="dismiss",
                   reason="false_positive_rule")  # fmt: skip
    decide(session=session, actor=ada, finding_id=other.id, action="confirm")
    session.commit()
    now = utcnow()
    pool = period_dismissals(session=session, start=now - timedelta(days=7),
                             end=now + timedelta(seconds=5))["compliance_overdue"]  # fmt: skip
    record_sample(
        session=session, actor=ada, period_start=now - timedelta(days=7), period_end=now,
        snapshot_id=None, width=0.3,
        draws={"compliance_overdue": {DISMISSAL: Draw(1, dismissals=pool),
                                      UNFLAGGED: Draw(500, keys=["enrollment=E77"])}},
    )  # fmt: skip
    session.commit()
    before = decided_frame(session=session)
    assert dict(zip(before["finding_id"], before["confirmed"], strict=True)) == {
        dismissed.id: False, other.id: True,
    }  # fmt: skip
    for who in (ada, bo):
        for item in audit_items(session=session, actor=who):
            decide_audit(session=session, actor=who, item_id=item.id, verdict="confirmed")
    session.commit()
    after = decided_frame(session=session)
    # The audited dismissal is now a real gap, dated at its first decision; the audit's own
    # finding for E77 (a miss) is not among the proposals the priority model learns from.
    assert dict(zip(after["finding_id"], after["confirmed"], strict=True)) == {
        dismissed.id: True, other.id: True,
    }  # fmt: skip
    at = after.loc[after["finding_id"] == dismissed.id, "decided_at"].iloc[0]
    assert abs((at.to_pydatetime() - first.event.at).total_seconds()) < 1
    ledger, _ = rule_ledger_tables(session=session, actor=ada)
    row = ledger.loc[ledger["detector"] == "compliance_overdue"].iloc[0]
    assert row["confirmed"] == 2 and row["dismissed"] == 0
    assert row["audit misses"] == 1
    assert row["recall (audit)"] is not None and row["recall (audit)"] < 1
    assert "audit" not in set(ledger["detector"])
