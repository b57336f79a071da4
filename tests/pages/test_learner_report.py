"""AppTest: the instructor's report page picks no learner for them, and "My reports" and Home
speak the reporter's language."""

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
from app.sources.store import ingest, load_stored
from app.web.navigation import PAGES
from review_queue.decisions import decide
from review_queue.permissions import SYSTEM, Actor
from review_queue.tables import Finding, Role, User
from tests.helpers.apptest import open_app, shown, sign_in


def _page(file: str) -> str:
    return str(next(p for p in PAGES if p.file == file).path)


@pytest.fixture
def site(tmp_path: Path, demo_folder: Path) -> Iterator[tuple[Engine, dict[Role, tuple]]]:
    url = f"sqlite:///{tmp_path / 'gapdesk.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(tmp_path))
    mp.setenv("GAPDESK_DATABASE_URL", url)
    get_settings.cache_clear()
    from app.web import units

    units._engine.clear()
    engine = build_engine(url)
    upgrade(engine)
    outcome = ingest(engine=engine, actor=SYSTEM, path=demo_folder)
    email = busiest_owner_email(load_stored(outcome.record, ["courses", "lms_users"]))
    with session_scope(engine) as session:
        accounts = ensure_demo_accounts(session=session, instructor_email=email)
    yield engine, {a.role: (a.name, a.password or "") for a in accounts}
    units._engine.clear()
    engine.dispose()
    mp.undo()
    get_settings.cache_clear()


def _as(site: tuple, role: Role, page: str) -> AppTest:
    at = sign_in(open_app(), *site[1][role])
    at.switch_page(_page(page)).run()
    assert not at.exception, at.exception
    return at


def _learner(at: AppTest):  # type: ignore[no-untyped-def]
    return next(s for s in at.selectbox if s.label == "Learner")


def test_no_learner_is_chosen_for_the_instructor_before_or_after_a_send(site: tuple) -> None:
    engine, _ = site
    at = _as(site, Role.instructor, "learner_report.py")
    assert _learner(at).value is None  # a placeholder, not the first learner
    at.text_area[0].input("Cannot open the final quiz since Monday")
    next(b for b in at.button if b.label == "Send report").click().run()
    assert "name the learner" in shown(at.error[0].value)  # nothing sent about nobody
    assert at.text_area[0].value == "Cannot open the final quiz since Monday"  # kept
    chosen = _learner(at).options[2]
    _learner(at).select(chosen)
    next(b for b in at.button if b.label == "Send report").click().run()
    assert not at.exception
    sent = shown(at.success[0].value)
    assert sent.startswith("Report #") and chosen in sent
    assert _learner(at).value is None  # the form forgets the learner after sending
    assert at.text_area[0].value == ""
    table = at.dataframe[0].value
    assert list(table["learner"]) == [chosen]  # the name, not the user id alone
    assert list(table["what you wrote"]) == ["Cannot open the final quiz since Monday"]
    assert list(table["where it stands"]) == ["Waiting for an admin"]
    with Session(engine) as s:
        report = s.exec(select(Finding).where(col(Finding.category) == "learner_report")).one()
        admin = s.exec(select(User).where(col(User.role) == Role.admin)).one()
        decide(session=s, actor=Actor.of(admin), finding_id=report.id or 0, action="confirm")
        s.commit()
    home = _as(site, Role.instructor, "home.py")
    metrics = {m.label: m.value for m in home.metric}
    assert metrics["Open reports"] == "0" and metrics["Admins confirmed the problem"] == "1"
    again = _as(site, Role.instructor, "learner_report.py")
    assert list(again.dataframe[0].value["where it stands"]) == ["Admins confirmed the problem"]
