"""AppTest: a manager opens Trends on a known history and sees every chart with its takeaway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import session_scope
from app.demo.set_up import ensure_demo_accounts
from app.web.navigation import PAGES
from review_queue.permissions import Actor
from review_queue.tables import Role
from review_queue.trends.filters import TrendFilters
from review_queue.trends.report import trend_report
from tests.helpers.apptest import app_on, open_app, shown, sign_in
from tests.helpers.trends_history import KnownHistory, build_known_history

TRENDS = next(p for p in PAGES if p.file == "trends.py")


@pytest.fixture
def trends_app(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[Role, tuple[str, str]]]:
    with session_scope(db) as session:
        accounts = {
            a.role: (a.name, a.password or "") for a in ensure_demo_accounts(session=session)
        }
    with Session(db, expire_on_commit=False) as session:
        build_known_history(session)
    with app_on(db, monkeypatch):
        yield accounts


def test_a_manager_sees_every_trend_with_its_takeaway(trends_app: dict, db: Engine) -> None:
    at = sign_in(open_app(), *trends_app[Role.manager])
    at.switch_page(str(TRENDS.path)).run()
    assert not at.exception
    assert at.title[0].value == "Trends"
    h = KnownHistory()
    at.date_input[0].set_value((h.start, h.end)).run()
    assert not at.exception
    with Session(db) as session:
        expected = trend_report(
            session=session,
            actor=Actor(None, "m", Role.manager),
            filters=TrendFilters(h.start, h.end),
        )
    # Every metric, in order, then the audit panel (tests/pages/test_audits.py).
    assert [s.value for s in at.subheader] == [
        *(m.title for m in expected.metrics), "Audits: what the queue hides",
    ]  # fmt: skip
    takeaways = [shown(m.value) for m in at.markdown]
    for metric in expected.metrics:
        assert metric.takeaway in takeaways
    assert "4 gaps open on 22 Nov 2026; 75% are older than the 14-day SLA" in " ".join(takeaways)
    charts = at.get("vega_lite_chart")
    assert len(charts) == 6
    # Each chart carries its data: the flow chart's table holds the history's categories.
    flow_data = b"".join(d.data.data for d in charts[0].proto.datasets)
    assert b"enrollment_missing" in flow_data and b"compliance_overdue" in flow_data
    assert all(len(c.proto.datasets) > 0 for c in charts)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[:2] == ["PDF report", "PNG report"]
    assert "CSV: flow" in labels and "CSV: where-courses" in labels


def test_filters_reach_every_chart(trends_app: dict) -> None:
    at = sign_in(open_app(), *trends_app[Role.admin])
    at.switch_page(str(TRENDS.path)).run()
    h = KnownHistory()
    at.date_input[0].set_value((h.start, h.end)).run()
    at.multiselect[0].set_value(["HR"]).run()
    assert not at.exception
    text = " ".join(shown(m.value) for m in at.markdown)
    # Sales' C1 and C2 gaps and F4 (no department) are gone: HR has two gaps in the range.
    assert "2 gaps first seen in the range, none confirmed yet; most in HR." in text
    at.multiselect[1].set_value(["enrollment_missing"]).run()
    text = " ".join(shown(m.value) for m in at.markdown)
    assert "No gaps were opened or decided between 26 Oct and 22 Nov 2026." in text
    assert "Compliance exposure is left out by the category filter." in text


def test_instructors_cannot_open_trends(trends_app: dict) -> None:
    at = sign_in(open_app(), *trends_app[Role.instructor])
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(str(TRENDS.path))
