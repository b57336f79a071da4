"""In Chromium on a demo organisation: an admin works the queue from the keyboard, an instructor
reports a problem, a manager is kept out of the queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from app.core.db import build_engine, session_scope, upgrade
from app.demo.set_up import busiest_owner_email, ensure_demo_accounts
from app.detection.run import run_detection
from app.sources.store import ingest, load_stored
from review_queue.permissions import SYSTEM
from review_queue.tables import FeedbackEvent, Role
from tests.helpers.browser import select_first_row, sign_in, streamlit_server

pytestmark = pytest.mark.browser
SLOW = 30_000


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, demo_folder: Path
) -> Iterator[tuple[str, str, dict[Role, tuple[str, str]]]]:
    home = tmp_path_factory.mktemp("review-home")
    url = f"sqlite:///{home / 'gapdesk.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(home))
    from app.core.settings import get_settings

    get_settings.cache_clear()
    engine = build_engine(url)
    upgrade(engine)
    outcome = ingest(engine=engine, actor=SYSTEM, path=demo_folder)
    run_detection(engine=engine, actor=SYSTEM)
    email = busiest_owner_email(load_stored(outcome.record, ["courses", "lms_users"]))
    with session_scope(engine) as session:
        accounts = {
            a.role: (a.name, a.password or "")
            for a in ensure_demo_accounts(session=session, instructor_email=email)
        }
    engine.dispose()
    with streamlit_server({"GAPDESK_HOME": str(home), "GAPDESK_DATABASE_URL": url}) as base:
        yield base, url, accounts
    mp.undo()
    get_settings.cache_clear()


def _events(url: str, action: str) -> list[FeedbackEvent]:
    engine = build_engine(url)
    with Session(engine) as s:
        rows = list(s.exec(select(FeedbackEvent).where(col(FeedbackEvent.action) == action)))
    engine.dispose()
    return rows


def _press(page: Page, key: str, button: str) -> None:
    """Press a shortcut once its button is on screen (shortcuts bind when the button mounts)."""
    target = page.get_by_role("button", name=button).first
    expect(target).to_be_visible(timeout=SLOW)
    expect(target).to_be_enabled(timeout=SLOW)
    page.get_by_role("heading", name="Review queue").click()  # focus the page, not an input
    page.keyboard.press(key)


def _open_detail(page: Page) -> str:
    heading = page.locator("h3").filter(has_text="#").first
    expect(heading).to_be_visible(timeout=SLOW)
    return heading.inner_text()


def test_admin_works_the_queue_from_the_keyboard(page: Page, site: tuple) -> None:
    base, url, accounts = site
    sign_in(page, base, *accounts[Role.admin])
    page.goto(f"{base}/queue")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible(timeout=SLOW)
    _press(page, "n", "Next finding")  # next unclaimed finding
    first = _open_detail(page)
    _press(page, "y", "Confirm")
    expect(page.get_by_text(": confirm.")).to_be_visible(timeout=SLOW)
    assert _open_detail(page) != first  # the next finding opened by itself
    assert len(_events(url, "confirm")) == 1

    # Dismiss the open one with a reason.
    reason_box = page.get_by_test_id("stSelectbox").filter(has_text="Dismiss because").first
    reason_box.locator("input").click()
    page.keyboard.type("expected")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_text(": dismiss.")).to_be_visible(timeout=SLOW)
    [dismissal] = _events(url, "dismiss")
    assert dismissal.reason == "expected"

    # Filter to three findings and snooze them together after the preview.
    page.get_by_text("Filters").click()
    page.get_by_label("Search title or entity").fill("P0000")
    page.get_by_label("Search title or entity").press("Enter")
    page.get_by_text("Bulk action on every finding matching the filter").click()
    action_box = page.get_by_test_id("stSelectbox").filter(has_text="Action").first
    action_box.locator("input").click()
    page.keyboard.type("snooze")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Until", exact=True)).to_be_visible(timeout=SLOW)
    page.get_by_role("button", name="Apply…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("will change")
    dialog.get_by_role("button", name="Snooze").click()
    expect(page.get_by_text("Snooze:")).to_be_visible(timeout=SLOW)
    snoozed = _events(url, "snooze")
    assert len(snoozed) >= 1

    # Show only snoozed findings, open the first one, and undo its snooze from the keyboard.
    snoozed_ids = {e.finding_id for e in snoozed}
    page.get_by_label("Search title or entity").fill("")
    page.get_by_label("Search title or entity").press("Enter")
    page.get_by_text("Bulk action on every finding matching the filter").click()
    status_filter = page.get_by_test_id("stMultiSelect").filter(has_text="Status").first
    for chip in ("new", "in_review", "confirmed"):
        status_filter.get_by_role("button", name=f"Remove {chip}").click()
    status_filter.locator("input").click()
    page.keyboard.type("snoozed")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(page.get_by_text(f"{len(snoozed_ids)} findings match")).to_be_visible(timeout=SLOW)
    select_first_row(page, page.get_by_text("· snoozed ·").first, timeout=SLOW)
    heading = page.locator("h3").filter(has_text="#").first
    opened = int(heading.inner_text().split(" ")[0].lstrip("#"))
    assert opened in snoozed_ids
    _press(page, "u", "Undo my last decision")
    expect(page.get_by_text(": undone.")).to_be_visible(timeout=SLOW)
    [undone] = _events(url, "undo")
    assert undone.finding_id == opened and undone.from_status == "snoozed"


def test_instructor_reports_and_sees_the_report(page: Page, site: tuple) -> None:
    base, _, accounts = site
    sign_in(page, base, *accounts[Role.instructor])
    page.goto(f"{base}/report")
    page.get_by_label("What happened?").fill("<script>window.__pwned=1</script> quiz will not open")
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_text("is in the review queue")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("My reports")).to_be_visible()
    assert page.evaluate("window.__pwned") is None


def test_manager_typing_the_queue_url_gets_no_queue(page: Page, site: tuple) -> None:
    base, _, accounts = site
    sign_in(page, base, *accounts[Role.manager])
    page.goto(f"{base}/queue")
    page.wait_for_timeout(3000)
    expect(page.get_by_role("heading", name="Review queue")).to_have_count(0)
    expect(page.get_by_role("button", name="Next finding")).to_have_count(0)
