"""AppTest of the coverage on the admin Home page and the Data page: the current snapshot is an
LMS log alone, so most categories cannot be checked and the pages say why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from app.core.db import build_engine, session_scope, upgrade
from app.core.settings import get_settings
from app.demo.set_up import ensure_demo_accounts
from app.sources.load import LoadResult
from app.sources.store import store_snapshot
from app.sources.validation_report import ValidationReport
from app.web.navigation import PAGES
from review_queue.permissions import SYSTEM
from review_queue.tables import Role
from tests.app.detection.test_coverage import lms_log_snapshot
from tests.helpers.apptest import open_app, sign_in

Site = tuple[Engine, dict[Role, tuple[str, str]]]


@pytest.fixture(scope="module")
def log_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("pages-coverage")
    url = f"sqlite:///{home / 'gapdesk.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(home))
    mp.setenv("GAPDESK_DATABASE_URL", url)
    get_settings.cache_clear()
    from app.web import units

    units._engine.clear()
    engine = build_engine(url)
    upgrade(engine)
    result = LoadResult(
        report=ValidationReport(accepted=True), snapshot=lms_log_snapshot(), content_hash="e" * 64
    )
    store_snapshot(engine=engine, actor=SYSTEM, result=result, origin="a Moodle log")
    with session_scope(engine) as session:
        accounts = ensure_demo_accounts(session=session)
    yield engine, {a.role: (a.name, a.password or "") for a in accounts}
    units._engine.clear()
    engine.dispose()
    mp.undo()
    get_settings.cache_clear()


def _open(site: Site, role: Role, page: str) -> AppTest:
    name, password = site[1][role]
    at = sign_in(open_app(), name, password)
    at.switch_page(str(next(p for p in PAGES if p.file == page).path)).run()
    assert not at.exception, at.exception
    return at


def _coverage(at: AppTest) -> pd.DataFrame:
    tables = [d.value for d in at.dataframe if "what is missing" in d.value.columns]
    assert len(tables) == 1
    return tables[0].set_index("detector")


def _check_rows(table: pd.DataFrame) -> None:
    assert table.loc["unowned_course", "checked"] == "no"
    assert table.loc["unowned_course", "what is missing"] == (
        "courses carry no owner: unowned courses cannot be checked"
    )
    assert table.loc["orphan_account", "what is missing"].startswith("HR roster missing")
    assert table.loc["access_failure", "checked"] == "yes"
    assert table.loc["access_failure", "what is missing"] == ""
    assert table.loc["engagement_course_week", "checked"] == "partly"
    assert len(table) == 16


def test_the_admin_home_page_shows_what_the_current_snapshot_lets_gapdesk_check(
    log_site: Site,
) -> None:
    at = _open(log_site, Role.admin, "home.py")
    assert "What the current snapshot lets Gapdesk check" in [s.value for s in at.subheader]
    assert any("3 of 15 gap categories checked" in c.value for c in at.caption)
    _check_rows(_coverage(at))


def test_the_data_page_shows_the_current_snapshot_s_coverage(log_site: Site) -> None:
    at = _open(log_site, Role.admin, "admin/data.py")
    assert any("3 of 15 gap categories checked" in c.value for c in at.caption)
    _check_rows(_coverage(at))


def test_a_manager_s_home_page_shows_no_coverage(log_site: Site) -> None:
    at = _open(log_site, Role.manager, "home.py")
    assert not [d for d in at.dataframe if "what is missing" in d.value.columns]


def test_the_data_page_shows_what_a_validated_snapshot_would_let_gapdesk_check(
    log_site: Site, demo_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAPDESK_INGEST_ROOTS", str(demo_folder.parent))
    get_settings.cache_clear()
    at = _open(log_site, Role.admin, "admin/data.py")
    at.text_input(key="folder_path").input(str(demo_folder))
    [b for b in at.button if b.label == "Validate"][-1].click().run()
    assert not at.exception
    assert at.info[0].value.startswith("Validated:")
    pending, current = [d.value for d in at.dataframe if "what is missing" in d.value.columns]
    # The demo organisation carries every table and column; the stored log does not.
    assert set(pending["checked"]) == {"yes"}
    assert "no" in set(current["checked"])
