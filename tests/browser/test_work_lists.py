"""In Chromium on the demo organisation: dismissing a finding as data_error (D, then 2) puts a
data-quality ticket on the Work lists page, with the snapshot's rows and a CSV download."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.core.db import build_engine, session_scope, upgrade
from app.demo.set_up import ensure_demo_accounts
from app.detection.run import run_detection
from app.sources.store import ingest
from review_queue.permissions import SYSTEM
from review_queue.tables import Role
from tests.browser.test_review import SLOW, _button, _open_id, _press
from tests.helpers.browser import sign_in, streamlit_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, demo_folder: Path
) -> Iterator[tuple[str, dict[Role, tuple[str, str]]]]:
    home = tmp_path_factory.mktemp("work-lists-home")
    url = f"sqlite:///{home / 'gapdesk.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(home))
    from app.core.settings import get_settings

    get_settings.cache_clear()
    engine = build_engine(url)
    upgrade(engine)
    ingest(engine=engine, actor=SYSTEM, path=demo_folder)
    run_detection(engine=engine, actor=SYSTEM)
    with session_scope(engine) as session:
        accounts = {
            a.role: (a.name, a.password or "") for a in ensure_demo_accounts(session=session)
        }
    engine.dispose()
    with streamlit_server({"GAPDESK_HOME": str(home), "GAPDESK_DATABASE_URL": url}) as base:
        yield base, accounts
    mp.undo()
    get_settings.cache_clear()


def test_a_data_error_becomes_a_ticket_with_its_rows_and_csv(page: Page, site: tuple) -> None:
    base, accounts = site
    page.set_viewport_size({"width": 1280, "height": 720})
    sign_in(page, base, *accounts[Role.admin])
    page.goto(f"{base}/queue")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible(timeout=SLOW)
    _press(page, "n", "Next")
    opened = _open_id(page)
    _press(page, "d", "Dismiss")
    expect(page.get_by_text(f"Why dismiss #{opened}?")).to_be_visible(timeout=SLOW)
    expect(_button(page, "data_error: the source data is wrong, not the process")).to_be_visible()
    page.get_by_role("heading", name="Review queue").click()
    page.keyboard.press("2")  # data_error
    expect(
        page.get_by_test_id("stAlertContentSuccess").filter(has_text=f"#{opened}: dismiss.")
    ).to_be_visible(timeout=SLOW)

    page.goto(f"{base}/work-lists")
    expect(page.get_by_role("heading", name="Work lists")).to_be_visible(timeout=SLOW)
    page.get_by_role("tab", name="Data-quality tickets (1)").click()
    ticket = page.get_by_text(re.compile(rf"^Ticket #\d+: finding #{opened}, "))
    expect(ticket).to_be_visible(timeout=SLOW)
    label = ticket.inner_text()
    match = re.search(r"\(snapshot [0-9a-f]+\), (\d+) rows? in (.+)$", label)
    assert match, label
    rows, tables = int(match.group(1)), match.group(2).split(", ")
    assert rows >= 1
    ticket.click()  # the rows, table by table
    panel = page.get_by_test_id("stExpander").filter(has_text=f"finding #{opened}")
    for table in tables:
        expect(panel.get_by_text(table, exact=True)).to_be_visible(timeout=SLOW)
    expect(panel.get_by_test_id("stDataFrame")).to_have_count(len(tables), timeout=SLOW)

    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile(r"Download CSV")).click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    lines = list(csv.DictReader(io.StringIO(text)))
    assert len(lines) == rows
    assert {line["finding"] for line in lines} == {str(opened)}
    assert sorted({line["table"] for line in lines}) == sorted(tables)
    assert all(line["key"] for line in lines)
