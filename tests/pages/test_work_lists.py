"""AppTest: the Work lists page shows each dismissal reason's list with age and owner, and an
admin takes, closes, applies and merges from it (each logged)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from streamlit.testing.v1 import AppTest

from app.core.db import session_scope
from app.demo.set_up import ensure_demo_accounts
from app.detection.configuration import detector_settings
from app.web.navigation import PAGES
from review_queue.decisions import decide
from review_queue.permissions import Actor
from review_queue.tables import FeedbackEvent, Finding, Role, User, WorkItem
from review_queue.types import utcnow
from tests.helpers.apptest import app_on, open_app, shown, sign_in
from tests.helpers.queue_fixtures import add_finding

QUEUE_PAGE = str(next(p for p in PAGES if p.file == "queue.py").path)
WORK_PAGE = str(next(p for p in PAGES if p.file == "admin/work_lists.py").path)


@pytest.fixture
def admin_login(
    db: Engine, monkeypatch: pytest.MonkeyPatch, gapdesk_home: Path
) -> Iterator[tuple[str, str]]:
    with session_scope(db) as session:
        accounts = ensure_demo_accounts(session=session)
        admin = next(a for a in accounts if a.role is Role.admin)
        ada = Actor.of(session.exec(select(User).where(User.name == admin.name)).one())
        earlier = utcnow() - timedelta(days=4)

        def dismiss(n: int, reason: str, **extra: object) -> int:
            finding = add_finding(session, n, **extra)
            assert finding.id is not None
            decide(session=session, actor=ada, finding_id=finding.id, action="dismiss",
                   reason=reason, now=earlier)  # fmt: skip
            return finding.id

        # Six false positives barely overdue, six confirmations long overdue: one threshold.
        for n in range(12):
            finding = add_finding(session, n, features={"days_over": float(n)})
            decide(session=session, actor=ada, finding_id=finding.id or 0,
                   action="dismiss" if n < 6 else "confirm",
                   reason="false_positive_rule" if n < 6 else None, now=earlier)  # fmt: skip
        dismiss(20, "data_error", evidence={"lms_users": [{"user_id": "U5", "email": "a@x"}]})
        dismiss(21, "expected", course_id="C9", department="Ops")
        original = add_finding(session, 22)
        dup = add_finding(session, 23)
        decide(session=session, actor=ada, finding_id=dup.id or 0, action="dismiss",
               reason="duplicate", duplicate_of_id=original.id, now=earlier)  # fmt: skip
        add_finding(session, 24)  # waiting in the queue, beside the original (22)
    with app_on(db, monkeypatch):
        yield admin.name, admin.password or ""


def _log(db: Engine, action: str) -> list[FeedbackEvent]:
    with session_scope(db) as session:
        return list(
            session.exec(select(FeedbackEvent).where(col(FeedbackEvent.action) == action)).all()
        )


def test_the_four_lists_with_age_and_owner(admin_login: tuple[str, str], db: Engine) -> None:
    at = sign_in(open_app(), *admin_login)
    at.switch_page(WORK_PAGE).run()
    assert not at.exception
    assert at.title[0].value == "Work lists"
    assert [t.label for t in at.tabs] == [
        "Rule tuning (6)", "Data-quality tickets (1)", "Proposed exceptions (1)", "Duplicates (1)",
    ]  # fmt: skip
    tuning = _frames(at)[0]  # the Rule tuning tab's first group
    assert len(tuning) == 6 and set(tuning["age (days)"]) == {4}
    assert set(tuning["owner"]) == {"nobody"}
    assert any("clears 6 of the backlog" in shown(m.value) for m in at.markdown)
    assert any("Features that fired: days_over 0 to 5" in shown(c.value) for c in at.caption)
    [ticket] = [f for f in _frames(at) if "user_id" in f.columns]
    assert ticket.to_dict("records") == [{"user_id": "U5", "email": "a@x"}]
    # No detection run here, so no snapshot: the evidence's user and the entity's enrolment.
    assert [
        shown(e.label).split(", ", 1)[1] for e in at.expander if "Ticket #" in shown(e.label)
    ] == ["unknown source (no snapshot), 2 rows in lms_users, enrollments"]

    # Take the ticket, then close it: its owner shows, and both are logged.
    at.multiselect(key="pick-data_quality").select(_item(db, "data_quality")).run()
    at.button(key="take-data_quality").click().run()
    assert not at.exception
    [tickets] = [f for f in _frames(at) if "Enrolment E20" in " ".join(f.get("title", []))]
    assert tickets["owner"].tolist() == [admin_login[0]]
    at.multiselect(key="pick-data_quality").select(_item(db, "data_quality")).run()
    at.text_input(key="note-data_quality").input("fixed in the HR system").run()
    at.button(key="close-data_quality").click().run()
    assert [shown(s.value) for s in at.success] == [f"1 item closed: #{_item(db, 'data_quality')}"]
    assert at.tabs[1].label == "Data-quality tickets (0)"
    assert [e.actor for e in _log(db, "work_assign")] == [admin_login[0]]
    assert "fixed in the HR system" in (_log(db, "work_close")[0].comment or "")


def test_apply_a_threshold_an_exception_and_merge(admin_login: tuple[str, str], db: Engine) -> None:
    at = sign_in(open_app(), *admin_login)
    at.switch_page(WORK_PAGE).run()
    at.button(key="apply-tuning-0").click().run()
    assert not at.exception
    assert shown(at.success[0].value).endswith("6 items cleared.")
    assert at.tabs[0].label == "Rule tuning (0)"
    with session_scope(db) as session:
        setting = next(
            s for s in detector_settings(session=session) if s.name == "compliance_overdue"
        )
        assert [r["feature"] for r in setting.require] == ["days_over"]

    exception = _item(db, "exception")
    at.radio(key=f"scope-{exception}").set_value("department").run()
    at.button(key=f"apply-exception-{exception}").click().run()
    assert shown(at.success[0].value) == "Exception applied (department): 1 item settled."

    duplicate = _item(db, "duplicate")
    at.button(key=f"merge-{duplicate}").click().run()
    assert "merged into" in shown(at.success[0].value)
    assert len(_log(db, "merge")) == 2  # on the duplicate and on the original
    assert len(_log(db, "work_apply")) == 7
    assert at.tabs[3].label == "Duplicates (0)"


def test_the_queue_asks_a_duplicate_for_its_original(
    admin_login: tuple[str, str], db: Engine
) -> None:
    at = sign_in(open_app(), *admin_login)
    at.switch_page(QUEUE_PAGE).run()
    next(b for b in at.button if b.label == "Next").click().run()
    heading = next(m.value for m in at.markdown if m.value.startswith("#### #"))
    opened = int(heading.removeprefix("#### #").split(" ")[0])
    other = {22: 24, 24: 22}[_finding_number(db, opened)]
    next(b for b in at.button if b.label == "Dismiss").click().run()
    prompt = next(m.value for m in at.markdown if "Why dismiss" in m.value)
    assert "give the number of the finding it duplicates" in prompt
    next(b for b in at.button if b.label.startswith("duplicate:")).click().run()
    assert "a duplicate must name the finding it duplicates" in shown(at.error[0].value)
    at.number_input(key=f"duplicate_of-{opened}").set_value(_finding_id(db, other)).run()
    next(b for b in at.button if b.label.startswith("duplicate:")).click().run()
    assert not at.error
    # The Work lists page in a fresh session (AppTest keeps a fragment's rerun scope past it).
    at = sign_in(open_app(), *admin_login)
    at.switch_page(WORK_PAGE).run()
    assert at.tabs[3].label == "Duplicates (2)"
    assert any(
        f"finding #{opened} duplicates #{_finding_id(db, other)}" in shown(e.label)
        for e in at.expander
    )


def _finding_number(db: Engine, finding_id: int) -> int:
    with session_scope(db) as session:
        finding = session.get(Finding, finding_id)
        assert finding is not None
        return int(finding.entity_key.removeprefix("enrollment=E"))


def _finding_id(db: Engine, n: int) -> int:
    with session_scope(db) as session:
        return int(
            session.exec(
                select(Finding.id).where(col(Finding.entity_key) == f"enrollment=E{n}")
            ).one()
            or 0
        )


def _frames(at: AppTest) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


def _item(db: Engine, kind: str) -> int:
    with session_scope(db) as session:
        return int(
            session.exec(
                select(WorkItem.id).where(col(WorkItem.kind) == kind).order_by(col(WorkItem.id))
            ).first()
            or 0
        )
