"""AppTest: a signed-in person creates a token on the API tokens page, sees it once, and
revokes it; the API then refuses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from app.auth.api_tokens import check_api_token
from app.auth.sessions import start_session
from app.core.db import build_engine
from app.core.settings import get_settings
from app.web.navigation import PAGES
from review_queue.tables import Role, User
from tests.helpers.queue_fixtures import add_people

PAGE = next(p for p in PAGES if p.file == "api_tokens.py")


@pytest.fixture
def site(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Engine, str]]:
    """A SQLite database with people; a session token of max (a manager)."""
    target = tmp_path / "gapdesk.db"
    target.write_bytes(sqlite_template.read_bytes())
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(tmp_path))
    mp.setenv("GAPDESK_DATABASE_URL", f"sqlite:///{target}")
    get_settings.cache_clear()
    from app.web import units

    units._engine.clear()
    engine = build_engine(f"sqlite:///{target}")
    with Session(engine) as s:
        people = add_people(s)
        max_user = s.get(User, people["max"].id)
        assert max_user is not None and max_user.role == Role.manager
        token = start_session(session=s, user=max_user, days=1)
        s.commit()
    yield engine, token
    units._engine.clear()
    engine.dispose()
    mp.undo()
    get_settings.cache_clear()


def _page(session_token: str) -> AppTest:
    at = AppTest.from_string(
        f"import runpy\nrunpy.run_path({str(PAGE.path)!r}, run_name='__main__')\n",
        default_timeout=30,
    )
    at.session_state["gapdesk_token"] = session_token
    return at.run()


def test_a_manager_creates_sees_once_and_revokes_a_token(site: tuple[Engine, str]) -> None:
    engine, session_token = site
    at = _page(session_token)
    assert not at.exception
    assert [i.value for i in at.info] == ["You have no API tokens yet."]
    at.text_input[0].input("weekly report script")
    at.radio[0].set_value("read")
    at.button[0].click().run()
    assert not at.exception and not at.error
    shown = [c.value for c in at.code]
    assert len(shown) == 1 and shown[0].startswith("gdk_")
    token = shown[0]
    with Session(engine) as s:
        check = check_api_token(session=s, token=token)
    assert check is not None and check.user.name == "max" and check.scope == "read"
    table = at.dataframe[0].value
    assert list(table["for"]) == ["weekly report script"] and list(table["scope"]) == ["read"]
    at.run()  # the next rerun no longer shows the token
    assert not at.code
    at.button[1].click().run()
    assert not at.exception
    assert at.dataframe[0].value["revoked"].iloc[0] != ""
    with Session(engine) as s:
        assert check_api_token(session=s, token=token) is None
    # A name that is only spaces is refused with a message, and nothing is made.
    at.text_input[0].input("   ")
    at.button[0].click().run()
    assert [e.value for e in at.error] == [
        "a token needs a name of 1 to 80 characters, saying what it is for"
    ]
    assert len(at.dataframe[0].value) == 1
