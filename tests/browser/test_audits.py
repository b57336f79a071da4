"""In Chromium: an auditor opens the Review queue's Audits view, draws the week's sample, and
sees an audit item marked as one, without the first decision until they give their verdict."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from app.core.db import build_engine
from review_queue.tables import AuditItem, Role
from tests.helpers.audit_site import demo_site_with_a_dismissal
from tests.helpers.browser import sign_in, streamlit_server

pytestmark = pytest.mark.browser
SLOW = 60_000


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, demo_folder: Path
) -> Iterator[tuple[str, str, dict[Role, tuple[str, str]]]]:
    home = tmp_path_factory.mktemp("audit-browser-home")
    url = f"sqlite:///{home / 'gapdesk.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(home))
    from app.core.settings import get_settings

    get_settings.cache_clear()
    engine, accounts = demo_site_with_a_dismissal(url, demo_folder, reason="false_positive_rule")
    engine.dispose()
    with streamlit_server({"GAPDESK_HOME": str(home), "GAPDESK_DATABASE_URL": url}) as base:
        yield base, url, accounts
    mp.undo()
    get_settings.cache_clear()


def test_an_auditor_sees_the_item_marked_as_an_audit_and_not_the_first_decision(
    page: Page, site: tuple
) -> None:
    base, url, accounts = site
    name, password = accounts[Role.admin]
    page.set_viewport_size({"width": 1280, "height": 720})
    sign_in(page, base, name, password)
    page.goto(f"{base}/queue")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible(timeout=SLOW)
    page.get_by_test_id("stButtonGroup").get_by_text("Audits", exact=True).click(timeout=SLOW)
    page.get_by_role("button", name="Draw this week's audit sample").click(timeout=SLOW)
    expect(page.get_by_text("audit sample #1: 1 dismissals and")).to_be_visible(timeout=SLOW)
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text("AUDIT · item #1 of sample #1")).to_be_visible(timeout=SLOW)
    expect(main.get_by_text("A finding from the queue, decided before")).to_be_visible()
    # Not the first decision, nor who made it, nor its reason.
    expect(main).not_to_contain_text("dismissed by")
    expect(main).not_to_contain_text("false_positive_rule")
    page.get_by_role("button", name="Not a gap").click(timeout=SLOW)
    expect(
        main.get_by_text(f"The first decision was: dismissed by {name} (false_positive_rule).")
    ).to_be_visible(timeout=SLOW)
    engine = build_engine(url)
    with Session(engine) as s:
        item = s.get(AuditItem, 1)
        assert item is not None and item.verdict == "dismissed" and item.decided_by == name
    engine.dispose()
