"""AppTest: the Detectors page edits thresholds in typed fields, one per parameter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.db import session_scope
from app.core.records import DetectorConfig
from app.demo.set_up import ensure_demo_accounts
from app.web.navigation import PAGES
from review_queue.tables import Role
from tests.helpers.apptest import app_on, open_app, shown, sign_in

DETECTORS_PAGE = str(next(p for p in PAGES if p.file == "admin/detectors.py").path)


@pytest.fixture
def admin_login(
    db: Engine, monkeypatch: pytest.MonkeyPatch, gapdesk_home: Path
) -> Iterator[tuple[str, str]]:
    with session_scope(db) as session:
        admin = next(a for a in ensure_demo_accounts(session=session) if a.role is Role.admin)
    with app_on(db, monkeypatch):
        yield admin.name, admin.password or ""


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_thresholds_are_number_fields_and_a_change_is_saved_as_a_new_version(
    admin_login: tuple[str, str], db: Engine
) -> None:
    at = sign_in(open_app(), *admin_login)
    at.switch_page(DETECTORS_PAGE).run()
    assert not at.exception
    assert not at.text_area, "thresholds are typed fields, not raw JSON"
    picker = next(s for s in at.selectbox if s.label == "Detector")
    picker.set_value("compliance_overdue").run()
    rows = next(n for n in at.number_input if n.label == "max evidence rows")
    assert isinstance(rows.value, int)
    rows.set_value(7)
    severity = next(t for t in at.text_input if t.label == "severity days")
    assert severity.value == "7.0, 30.0, 90.0"
    next(b for b in at.button if b.label.startswith("Save as a new")).click().run()
    assert not at.exception
    assert [shown(s.value) for s in at.success] == [
        "compliance_overdue: configuration v1 saved (max_evidence_rows = 7)."
    ]
    with Session(db) as s:
        config = s.exec(select(DetectorConfig)).one()
    assert config.params["max_evidence_rows"] == 7
    # A list out of order is refused at once, naming the parameter; nothing more is stored.
    next(t for t in at.text_input if t.label == "severity days").input("90, 30, 7")
    next(b for b in at.button if b.label.startswith("Save as a new")).click().run()
    assert any("severity_days" in shown(e.value) for e in at.error)
    with Session(db) as s:
        assert len(s.exec(select(DetectorConfig)).all()) == 1


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_value_stored_before_the_checks_is_shown_and_refused_only_when_saved(
    admin_login: tuple[str, str], db: Engine
) -> None:
    with Session(db) as s:
        s.add(DetectorConfig(detector="sync_failure", version=1, enabled=True,
                             params={"overdue_factor": -1.0}, created_by="old"))  # fmt: skip
        s.commit()
    at = sign_in(open_app(), *admin_login)
    at.switch_page(DETECTORS_PAGE).run()
    next(s for s in at.selectbox if s.label == "Detector").set_value("sync_failure").run()
    assert not at.exception  # a number input outside its bounds would not draw
    factor = next(n for n in at.number_input if n.label == "overdue factor")
    assert factor.value == -1.0
    runs = next(n for n in at.number_input if n.label == "min runs for interval")
    runs.set_value(int(runs.value) + 1)
    next(b for b in at.button if b.label.startswith("Save as a new")).click().run()
    assert any("overdue_factor" in shown(e.value) for e in at.error)
