"""Each page script, run for a role it is not for, shows only its refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from app.auth.sessions import start_session
from app.core.db import build_engine
from app.core.settings import get_settings
from app.web.navigation import PAGES, PageSpec
from review_queue.permissions import Actor
from review_queue.tables import Role, User
from tests.app.auth.permission_policy import _label
from tests.helpers.queue_fixtures import add_people


# ---------------------------------------------------------------- page scripts (AppTest)
def _page_as(page: PageSpec, actor: Actor | None) -> AppTest:
    """Run one page script by itself (no navigation to filter it) with ``actor`` signed in."""
    # runpy keeps pages/ off sys.path (there, pages/admin/models.py would shadow the models package)
    # and runs the script under its own file name, as st.navigation does.
    at = AppTest.from_string(
        f"import runpy\nrunpy.run_path({str(page.path)!r}, run_name='__main__')\n",
        default_timeout=30,
    )
    if actor is not None:
        # A real session of that user: the tab's state holds only a token, asked about per rerun.
        at.session_state["gapdesk_token"] = _tokens[actor.name]
    return at.run()


_tokens: dict[str, str] = {}


def _shown(at: AppTest) -> list[str]:
    """Everything of a page's own content that rendered (titles, tables, inputs, buttons...)."""
    kinds = ("title", "header", "subheader", "dataframe", "table", "metric", "button",
             "text_input", "text_area", "selectbox", "multiselect", "number_input", "markdown",
             "caption", "success", "info", "error", "exception", "tabs", "expander")  # fmt: skip
    return [f"{kind}: {getattr(e, 'value', e)}" for kind in kinds for e in getattr(at, kind)]


@pytest.fixture(scope="module")
def page_site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[dict[Role, Actor]]:
    """A SQLite database with an admin, an instructor and a manager, for the page scripts."""
    home = tmp_path_factory.mktemp("perm-pages")
    target = home / "gapdesk.db"
    target.write_bytes(sqlite_template.read_bytes())
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(home))
    mp.setenv("GAPDESK_DATABASE_URL", f"sqlite:///{target}")
    from app.web import units

    get_settings.cache_clear()
    units._engine.clear()
    engine = build_engine(f"sqlite:///{target}")
    with Session(engine) as s:
        people = add_people(s)
        for actor in people.values():
            user = s.get(User, actor.id)
            assert user is not None
            _tokens[actor.name] = start_session(session=s, user=user, days=1)
        s.commit()
    engine.dispose()
    yield {Role.admin: people["ada"], Role.instructor: people["ivy"], Role.manager: people["max"]}
    units._engine.clear()
    mp.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize("page", PAGES, ids=[p.url_path for p in PAGES])
def test_a_page_script_shows_nothing_to_a_role_it_is_not_for(
    page: PageSpec, page_site: dict[Role, Actor]
) -> None:
    opener = page_site[page.roles[0]]
    at = _page_as(page, opener)
    assert not at.exception, at.exception
    # The Review queue heads its page with a smaller header, to keep the finding above the fold.
    assert at.title or at.header, (
        f"{page.file} showed no title to {opener.role.value}, who may open it"
    )
    for role in (None, *Role):
        if role is not None and role in page.roles:
            continue
        at = _page_as(page, None if role is None else page_site[role])
        expected = "Please sign in." if role is None else f"not open to the {role.value} role"
        assert [w.value for w in at.warning if expected in str(w.value)], (
            f"{page.file} as {_label(role)}: no refusal; warnings {[w.value for w in at.warning]}"
        )
        assert _shown(at) == [], f"{page.file} showed {_label(role)}: {_shown(at)}"
