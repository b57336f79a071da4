"""AppTest: the Models page shows versions, the queue diff before promotion, and promotes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from app.core.db import session_scope
from app.demo.set_up import ensure_demo_accounts
from app.learning.model_store import promoted_version
from app.learning.retraining import retrain
from app.web.navigation import PAGES
from review_queue.permissions import Actor
from review_queue.tables import Role, User
from tests.app.learning.test_learning import _decided_queue
from tests.helpers.apptest import app_on, open_app, shown, sign_in

MODELS_PAGE = str(next(p for p in PAGES if p.file == "admin/models.py").path)


@pytest.fixture
def admin_login(
    db: Engine, monkeypatch: pytest.MonkeyPatch, gapdesk_home: Path
) -> Iterator[tuple[str, str]]:
    with session_scope(db) as session:
        accounts = ensure_demo_accounts(session=session)
        admin = next(a for a in accounts if a.role is Role.admin)
        user = session.exec(select(User).where(User.name == admin.name)).one()
        _decided_queue(session, Actor.of(user), decided=40, waiting=15)
        retrain(session=session, actor=Actor.of(user), k=10)
        retrain(session=session, actor=Actor.of(user), k=10)  # the second stays a candidate
    with app_on(db, monkeypatch):
        yield admin.name, admin.password or ""


def test_admin_sees_versions_and_the_queue_diff_then_promotes(
    admin_login: tuple[str, str], db: Engine
) -> None:
    at = sign_in(open_app(), *admin_login)
    at.switch_page(MODELS_PAGE).run()
    assert not at.exception
    assert at.title[0].value == "Models"
    table = at.dataframe[0].value
    assert sorted(table["status"]) == ["candidate", "promoted"]
    # The diff is computed when asked for, and stays on screen over later reruns.
    assert not any("would enter" in m.value for m in at.markdown)
    next(b for b in at.button if b.label.startswith("What would change")).click().run()
    assert any("would enter" in m.value for m in at.markdown)
    at.run()
    assert any("would enter" in m.value for m in at.markdown)
    candidate = at.selectbox[0].value
    next(b for b in at.button if b.label.startswith("Promote")).click().run()
    assert not at.exception
    assert [shown(s.value) for s in at.success] == [
        f"{candidate} promoted; 15 open findings rescored."
    ]
    with session_scope(db) as session:
        row = promoted_version(session=session)
        assert row is not None and row.version == candidate
