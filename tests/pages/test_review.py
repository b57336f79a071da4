"""AppTest of the working pages on a demo organisation: queue, report, log, data, detectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from app.core.db import build_engine, session_scope, upgrade
from app.core.settings import get_settings
from app.demo.set_up import busiest_owner_email, ensure_demo_accounts
from app.detection.run import run_detection
from app.sources.store import ingest, load_stored
from app.web.navigation import PAGES
from models.detectors.registry import REGISTRY
from review_queue.permissions import SYSTEM
from review_queue.tables import FeedbackEvent, Finding, Role
from tests.helpers.apptest import open_app, shown, sign_in


def _page(file: str) -> str:
    return str(next(p for p in PAGES if p.file == file).path)


@pytest.fixture(scope="module")
def demo_site(
    tmp_path_factory: pytest.TempPathFactory, demo_folder: Path
) -> Iterator[tuple[Engine, dict[Role, tuple[str, str]]]]:
    home = tmp_path_factory.mktemp("pages-home")
    url = f"sqlite:///{home / 'gapdesk.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(home))
    mp.setenv("GAPDESK_DATABASE_URL", url)
    get_settings.cache_clear()
    from app.web import units

    units._engine.clear()
    engine = build_engine(url)
    upgrade(engine)
    outcome = ingest(engine=engine, actor=SYSTEM, path=demo_folder)
    run_detection(engine=engine, actor=SYSTEM)
    email = busiest_owner_email(load_stored(outcome.record, ["courses", "lms_users"]))
    with session_scope(engine) as session:
        accounts = ensure_demo_accounts(session=session, instructor_email=email)
    yield engine, {a.role: (a.name, a.password or "") for a in accounts}
    units._engine.clear()
    engine.dispose()
    mp.undo()
    get_settings.cache_clear()


def _as(site: tuple, role: Role, page: str) -> AppTest:
    name, password = site[1][role]
    at = sign_in(open_app(), name, password)
    at.switch_page(_page(page)).run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def _events(engine: Engine, action: str) -> list[FeedbackEvent]:
    with Session(engine) as s:
        return list(s.exec(select(FeedbackEvent).where(
            col(FeedbackEvent.actor) == "admin", col(FeedbackEvent.action) == action)))  # fmt: skip


def _open_heading(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("#### "))


def test_queue_next_confirm_then_dismiss_asks_for_the_reason(demo_site: tuple) -> None:
    engine, _ = demo_site
    at = _as(demo_site, Role.admin, "queue.py")
    assert at.header[0].value == "Review queue"
    assert any("new **" in c.value for c in at.caption)  # the counts, above the list
    _button(at, "Next").click().run()
    first = _open_heading(at)
    assert first.startswith("#### #")
    _button(at, "Confirm").click().run()
    assert not at.exception
    assert ": confirm." in at.success[0].value
    second = _open_heading(at)
    assert second != first  # the next finding opened by itself
    _button(at, "Dismiss").click().run()  # D asks; nothing is dismissed yet
    reasons = [b.label for b in at.button if (b.key or "").startswith("reason-")]
    assert [r.split(":")[0] for r in reasons] == [
        "false_positive_rule", "data_error", "expected", "duplicate", "other"]  # fmt: skip
    assert not _events(engine, "dismiss")
    next(b for b in at.button if b.label.startswith("other:")).click().run()
    assert "needs a comment" in at.error[0].value  # 'other' without a comment is refused
    assert not _events(engine, "dismiss")
    next(b for b in at.button if b.label.startswith("expected:")).click().run()
    [dismissal] = _events(engine, "dismiss")
    assert dismissal.reason == "expected"
    assert len(_events(engine, "confirm")) == 1
    _button(at, "Undo").click().run()  # U: the dismissal, named by its finding
    assert at.info[0].value.startswith(f"#{dismissal.finding_id}: undone, new again.")
    assert _open_heading(at).startswith(f"#### #{dismissal.finding_id} ")
    [undone] = _events(engine, "undo")
    assert undone.undoes_event_id == dismissal.id


def test_instructor_reports_a_problem_and_sees_it(demo_site: tuple) -> None:
    engine, _ = demo_site
    at = _as(demo_site, Role.instructor, "learner_report.py")
    assert [s.label for s in at.selectbox][:2] == ["Course", "Learner"]
    learner = next(s for s in at.selectbox if s.label == "Learner")
    learner.select(learner.options[0])
    at.text_area[0].input("Cannot open the final quiz since Monday")
    _button(at, "Send report").click().run()
    assert shown(at.success[0].value).startswith("Report #")
    assert "learner" in at.dataframe[0].value.columns
    with Session(engine) as s:
        report = s.exec(select(Finding).where(col(Finding.category) == "learner_report")).one()
    assert report.status == "new" and report.severity == "medium"


@pytest.mark.parametrize("role", [Role.admin, Role.manager])
def test_feedback_log_reads_and_verifies(demo_site: tuple, role: Role) -> None:
    at = _as(demo_site, role, "feedback_log.py")
    assert len(at.dataframe[0].value) > 0
    _button(at, "Verify the chain").click().run()
    assert at.success[0].value.startswith("Intact:")


@pytest.fixture
def demo_roots(demo_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Data page may read the demo folder's parent (GAPDESK_INGEST_ROOTS)."""
    monkeypatch.setenv("GAPDESK_INGEST_ROOTS", str(demo_folder.parent))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_data_page_lists_snapshots_and_refuses_a_missing_folder(
    demo_site: tuple, demo_folder: Path, demo_roots: None
) -> None:
    at = _as(demo_site, Role.admin, "admin/data.py")
    assert len(at.dataframe[0].value) == 1
    at.text_input(key="folder_path").input(f"{demo_folder.parent}/nonexistent/folder")
    folder_submit = [b for b in at.button if b.label == "Validate"][-1]
    folder_submit.click().run()
    assert not at.exception
    assert any("does not exist" in c.value for c in at.code)


def test_data_page_validates_then_stores_on_acceptance(
    demo_site: tuple, demo_folder: Path, demo_roots: None
) -> None:
    at = _as(demo_site, Role.admin, "admin/data.py")
    at.text_input(key="folder_path").input(str(demo_folder))
    [b for b in at.button if b.label == "Validate"][-1].click().run()
    assert not at.exception
    assert at.info[0].value.startswith("Validated:")
    _button(at, "Accept and store this snapshot").click().run()
    # The demo site ingested this very folder already: recognised, not stored twice.
    assert at.success[0].value.startswith("Already stored as snapshot")


def test_detectors_page_shows_every_detector(demo_site: tuple) -> None:
    at = _as(demo_site, Role.admin, "admin/detectors.py")
    assert at.title[0].value == "Detectors"
    assert "Last run #1 (done)" in at.caption[0].value
    detector_picker = next(s for s in at.selectbox if s.label == "Detector")
    assert sorted(detector_picker.options) == sorted(REGISTRY)


def test_admin_suppresses_a_reviewed_finding_and_sees_it_listed(demo_site: tuple) -> None:
    engine, _ = demo_site
    at = _as(demo_site, Role.admin, "queue.py")
    _button(at, "Next").click().run()
    _button(at, "Confirm").click().run()  # the next one opens; go back to the confirmed one
    with Session(engine) as s:
        confirmed = s.exec(
            select(Finding).where(col(Finding.status) == "confirmed").order_by(col(Finding.id))
        ).first()
    assert confirmed is not None
    at.session_state["gapdesk_open_finding"] = confirmed.id
    at.run()
    assert not any(t.label == "Why (required)" for t in at.text_input)  # only the tab in view
    at.session_state[f"tabs-{confirmed.id}"] = "Suppress"
    at.run()
    form_reason = next(t for t in at.text_input if t.label == "Why (required)")
    _button(at, "Suppress").click().run()
    assert "needs a reason" in at.error[0].value
    form_reason.input("Known HR backlog until the migration").run()
    _button(at, "Suppress").click().run()
    assert not at.exception
    assert any("suppressed" in s.value for s in at.success)
    listed = next(d.value for d in at.dataframe if "absorbed" in d.value.columns)
    assert "Known HR backlog until the migration" in set(listed["reason"])
