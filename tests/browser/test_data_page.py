"""In Chromium on a real server: an admin uploads a real Moodle log on the Data page, sees what it
became, what it lets Gapdesk check, stores it (the Accept button goes) and is offered to run
detection on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from review_queue.tables import Role
from tests.app.sources.conftest import SHARED_LMS
from tests.helpers.browser import demo_accounts_app, sign_in

pytestmark = pytest.mark.browser

MOODLE_LOG = SHARED_LMS / "moodle_course_activity_log.csv"
TIMEOUT = 120_000  # validation of the 3 MB log shares 2 cores with the other tests


@pytest.fixture(scope="module")
def data_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, tuple]]:
    home = Path(tmp_path_factory.mktemp("data-browser"))
    with demo_accounts_app(home) as (base, accounts):
        yield base, accounts[Role.admin]


@pytest.mark.skipif(not MOODLE_LOG.exists(), reason="../shared/data/lms is absent")
def test_a_real_moodle_log_uploaded_shows_its_report_coverage_and_the_detection_offer(
    page: Page, data_app: tuple[str, tuple]
) -> None:
    base, (name, password) = data_app
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, base, name, password)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Data", exact=True).click()
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("at most 2 GiB unpacked and 50,000,000 rows")).to_be_visible()

    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(MOODLE_LOG))
    # The chip shows the name shortened in the middle, and the size.
    expect(page.get_by_text("3.2MB")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="Validate").first.click()

    expect(page.get_by_text("What each source became")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Rows left out or dropped, and why")).to_be_visible()
    expect(page.get_by_text("What this snapshot would let Gapdesk check")).to_be_visible()
    expect(page.get_by_text("Validated: 19,010 rows in 3 tables")).to_be_visible()
    assert page.get_by_text("/tmp/").count() == 0

    accept = page.get_by_role("button", name="Accept and store this snapshot")
    accept.click()
    expect(page.get_by_text("it is now the current snapshot")).to_be_visible(timeout=TIMEOUT)
    expect(accept).to_have_count(0)
    expect(page.get_by_text("113 users, 1 courses")).to_be_visible()
    expect(page.get_by_role("button", name="Run detection on snapshot")).to_be_visible()
