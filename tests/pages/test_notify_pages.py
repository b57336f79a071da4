"""AppTest: an admin registers a webhook on the Webhooks page (a bad URL refused in words, the
secret shown once), queues a test delivery that reaches a real receiver, sees its answer and
re-sends it; a person turns an e-mail off on the Notifications page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from app.auth.sessions import start_session
from app.core.db import build_engine
from app.core.settings import get_settings
from app.notify.deliver import deliver_due
from app.web.navigation import PAGES
from review_queue.outbox import mail_enabled
from review_queue.tables import User
from tests.helpers.apptest import shown
from tests.helpers.queue_fixtures import add_people
from tests.helpers.receivers import webhook_receiver


@pytest.fixture
def site(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Engine, dict[str, str]]]:
    """A SQLite database with people and a browser session for each; loopback webhooks on."""
    target = tmp_path / "gapdesk.db"
    target.write_bytes(sqlite_template.read_bytes())
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(tmp_path))
    mp.setenv("GAPDESK_DATABASE_URL", f"sqlite:///{target}")
    mp.setenv("GAPDESK_WEBHOOK_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    from app.web import units

    units._engine.clear()
    engine = build_engine(f"sqlite:///{target}")
    tokens = {}
    with Session(engine) as s:
        for name, actor in add_people(s).items():
            user = s.get(User, actor.id)
            assert user is not None
            tokens[name] = start_session(session=s, user=user, days=1)
        s.commit()
    yield engine, tokens
    units._engine.clear()
    engine.dispose()
    mp.undo()
    get_settings.cache_clear()


def _page(file: str, session_token: str) -> AppTest:
    page = next(p for p in PAGES if p.file == file)
    at = AppTest.from_string(
        f"import runpy\nrunpy.run_path({str(page.path)!r}, run_name='__main__')\n",
        default_timeout=30,
    )
    at.session_state["gapdesk_token"] = session_token
    return at.run()


def test_an_admin_registers_tests_and_resends_a_webhook(
    site: tuple[Engine, dict[str, str]],
) -> None:
    engine, tokens = site
    at = _page("admin/webhooks.py", tokens["ada"])
    assert not at.exception
    assert [i.value for i in at.info] == ["No webhooks yet.", "Nothing delivered yet."]
    at.text_input[0].input("ftp://tickets.example.org/hook")
    at.multiselect[0].set_value(["finding.decided"])
    at.button[0].click().run()
    assert [shown(e.value) for e in at.error] == [
        "webhook URL 'ftp://tickets.example.org/hook': only http:// and https:// URLs can "
        "receive webhooks"
    ]
    with webhook_receiver() as receiver:
        at.text_input[0].input(receiver.url)
        at.multiselect[0].set_value(["finding.decided"])
        at.button[0].click().run()
        assert not at.exception and not at.error
        [secret] = [c.value for c in at.code]
        assert secret.startswith("whsec_")
        receiver.secret = secret
        at.run()
        assert [c.value for c in at.code] == []  # shown once
        test_button = next(b for b in at.button if b.label == "Send a test delivery")
        test_button.click().run()
        assert any("Test delivery #1 queued" in s.value for s in at.success)
        assert deliver_due(engine=engine).delivered == 1
        assert json.loads(receiver.accepted()[0].body)["type"] == "ping"
        at.run()
        table = at.dataframe[1].value
        assert list(table["status"]) == ["delivered"] and list(table["answer"]) == [200]
        assert list(table["response"]) == ["ok, ticket created"]
        next(b for b in at.button if b.label == "Re-send").click().run()
        assert any("Queued again as delivery #2" in s.value for s in at.success)
        assert deliver_due(engine=engine).delivered == 1
        assert len(receiver.accepted()) == 2


def test_a_person_turns_an_email_off(site: tuple[Engine, dict[str, str]]) -> None:
    engine, tokens = site
    at = _page("notifications.py", tokens["max"])
    assert not at.exception
    [toggle] = at.toggle
    assert toggle.label == "E-mail me when the weekly Trends digest (managers)"
    assert toggle.value is True
    toggle.set_value(False)
    at.button[0].click().run()
    assert [s.value for s in at.success] == ["Saved."]
    with Session(engine) as s:
        max_id = s.exec(select(User.id).where(User.name == "max")).one()
        assert max_id is not None
        assert mail_enabled(session=s, user_id=max_id, kind="weekly_digest") is False
    assert _page("notifications.py", tokens["max"]).toggle[0].value is False
