"""AppTest of the Data page's mapping builder: templates, filters, null tokens, a headerless
file's column list and day offsets, previewed and saved (issue 13, item 5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from app.core.db import build_engine, session_scope, upgrade
from app.core.settings import get_settings
from app.demo.set_up import ensure_demo_accounts
from app.sources.mapping import load_mapping
from app.sources.mapping_store import saved_mappings
from app.web.navigation import PAGES
from review_queue.tables import Role
from tests.conftest import REPO
from tests.helpers.apptest import open_app, shown, sign_in

EXAMPLES = REPO / "tests" / "data" / "mapping_examples"
Site = tuple[Engine, tuple[str, str]]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("pages-mapping-builder")
    url = f"sqlite:///{home / 'gapdesk.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(home))
    mp.setenv("GAPDESK_DATABASE_URL", url)
    get_settings.cache_clear()
    from app.web import units

    units._engine.clear()
    engine = build_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        admin = next(a for a in ensure_demo_accounts(session=session) if a.role == Role.admin)
    yield engine, (admin.name, admin.password or "")
    units._engine.clear()
    engine.dispose()
    mp.undo()
    get_settings.cache_clear()


def _builder(site: Site, sample: str, table: str, delimiter: str) -> AppTest:
    at = sign_in(open_app(), *site[1])
    at.switch_page(str(next(p for p in PAGES if p.file == "admin/data.py").path)).run()
    path = EXAMPLES / sample
    at.file_uploader(key="mapping_sample").upload(path.name, path.read_bytes(), "text/csv")
    at.selectbox(key="mapping_table").select(table)
    at.selectbox(key="mapping_delimiter").select(delimiter)
    return at.run()


def _report(at: AppTest) -> str:
    return "\n".join(c.value for c in at.code)


def test_an_hr_roster_built_with_templates_filters_and_null_tokens(site: Site) -> None:
    at = _builder(site, "hr_roster/hr_roster.csv", "people", ";")
    assert not at.exception, at.exception
    at.text_input(key="mapping_nulls").input("-, n/a")
    at.text_area(key="mapping_templates").input(
        "full_name = {First name} {Last name}\nemail = {Login}@example.org"
    )
    at.text_area(key="mapping_filters").input("Worker type | not_in | Contractor")
    at.text_area(key="mapping_constants").input("job_title = Staff")  # the roster has Position
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    preview = at.dataframe[-1].value
    assert preview["full_name"].tolist() == ["Ann Lee", "Bob Roe", "Cy Poe"]
    assert preview["email"].tolist()[0] == "alee@example.org"
    assert preview["manager_person_id"].isna().tolist() == [True, False, True]
    report = _report(at)
    assert "kept 3 of 4 row(s)" in report
    at.text_input(key="mapping_name").input("hr-roster").run()
    next(b for b in at.button if b.label == "Save mapping").click().run()
    assert at.success and "hr-roster.toml" in at.success[0].value
    saved = load_mapping(saved_mappings()["hr-roster"]).tables["people"]
    assert saved.file == "hr_roster.csv" and saved.nulls == ("-", "n/a")
    assert saved.templates["email"].text == "{Login}@example.org"
    assert saved.filters[0].describe() == "Worker type not in 'Contractor'"


def test_a_headerless_file_with_day_offsets(site: Site) -> None:
    at = _builder(site, "headerless_users/users.txt", "lms_users", "\t")
    at.checkbox(key="mapping_headerless").check().run()
    at.text_input(key="mapping_column_names").input("id, login, name, created, state").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.text_input(key="mapping_nulls").input("\\N")
    at.text_area(key="mapping_day_offsets").input("last_login_at | id | 2020-01-01")
    at.run()
    assert not at.error, [e.value for e in at.error]
    preview = at.dataframe[-1].value
    assert preview["last_login_at"].tolist()[0] == "2022-09-28T00:00:00Z"  # 1001 days on
    assert preview["user_id"].tolist()[0] == "alee"  # suggested from "login"; line 1 is data


def test_what_the_builder_cannot_use_is_said_by_line(site: Site) -> None:
    at = _builder(site, "hr_roster/hr_roster.csv", "people", ";")
    at.text_area(key="mapping_filters").input("Worker type | like | Contractor").run()
    assert "filters, line 1: write it as 'column | operator | values'" in shown(at.error[0].value)
    at.text_area(key="mapping_filters").input("").run()
    at.text_area(key="mapping_templates").input("email = {Login@example.org").run()
    assert "[people.templates] email" in shown(at.error[0].value)
    at.checkbox(key="mapping_headerless").check().run()
    at.text_input(key="mapping_column_names").input("a, b").run()
    assert "the column list names 2" in shown(at.error[0].value)
