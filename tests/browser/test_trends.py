"""In Chromium: a manager opens Trends after a simulated month of reviews; every chart draws."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session

from review_queue.tables import Role
from tests.helpers.browser import demo_accounts_app, sign_in
from tests.helpers.trends_history import simulate_reviews

pytestmark = pytest.mark.browser

# Counts what a chart drew from its data: items of Vega's mark groups (bars, lines, points,
# areas), leaving out axes, grid lines, legends and titles. An empty frame draws axes only,
# so it counts zero here.
MARKS = """
(el) => {
  const svg = el.querySelector('svg');
  if (!svg) return {width: 0, height: 0, marks: 0};
  const box = svg.getBoundingClientRect();
  let marks = 0;
  for (const group of svg.querySelectorAll('g.role-mark')) {
    if (group.closest('.role-axis, .role-legend, .role-title')) continue;
    for (const item of group.children) {
      const d = item.getAttribute('d');
      if (item.tagName === 'path' ? d && d !== 'Z' && d.length > 3 : true) marks++;
    }
  }
  return {width: box.width, height: box.height, marks};
}
"""


@pytest.fixture(scope="module")
def trends_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, tuple, Path]]:
    home = Path(tmp_path_factory.mktemp("home"))

    def reviews(engine: Engine) -> None:
        with Session(engine, expire_on_commit=False) as session:
            assert simulate_reviews(session, days=28) > 100

    with demo_accounts_app(home, reviews) as (base, accounts):
        yield base, accounts[Role.manager], home


def test_trends_page_draws_every_chart(page: Page, trends_app: tuple) -> None:
    base, (name, password), home = trends_app
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, base, name, password)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Trends", exact=True).click()
    expect(page.get_by_role("heading", name="Trends", exact=True)).to_be_visible(timeout=20_000)
    charts = page.locator(".vega-embed")
    expect(charts).to_have_count(6, timeout=30_000)
    expect(page.get_by_text("Detectors were right")).to_be_visible()
    for i in range(6):
        charts.nth(i).scroll_into_view_if_needed()
        expect(charts.nth(i).locator("canvas, svg").first).to_be_visible(timeout=15_000)
    # Streamlit scrolls inside its own container: a tall window puts the whole page on the shot.
    page.set_viewport_size({"width": 1400, "height": 5600})
    page.wait_for_timeout(1500)  # let the charts finish painting at the new size
    shot = home / "trends.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    for i in range(6):
        drawn = charts.nth(i).evaluate(MARKS)
        assert drawn["width"] > 100 and drawn["height"] > 100, (i, drawn)
        assert drawn["marks"] >= 4, (i, drawn)
    assert page.get_by_role("button", name="PDF report").is_visible()


# The colour of each category's legend symbol in the first chart (gaps opened and decided).
LEGEND_COLOURS = """
(el) => {
  const out = {};
  for (const entry of el.querySelectorAll('g.role-legend-symbol')) {
    const labels = entry.parentElement.parentElement.querySelectorAll('g.role-legend-label text');
    const symbols = entry.querySelectorAll('path');
    symbols.forEach((s, i) => {
      if (labels[i]) out[labels[i].textContent] = s.getAttribute('fill');
    });
  }
  return out;
}
"""


def test_a_category_keeps_its_colour_when_others_are_filtered_away(
    page: Page, trends_app: tuple
) -> None:
    base, (name, password), _ = trends_app
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, base, name, password)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Trends", exact=True).click()
    flow = page.locator(".vega-embed").first
    expect(flow.locator("svg")).to_be_visible(timeout=30_000)
    before = flow.evaluate(LEGEND_COLOURS)
    assert {"sync_failure", "access_failure", "compliance_overdue"} <= set(before), before
    assert len(set(before.values())) == len(before)  # no two categories share a colour
    picker = page.get_by_test_id("stMultiSelect").filter(has_text="Category")
    picker.locator("input").fill("sync_failure")
    picker.locator("input").press("Enter")
    expect(page.get_by_text("sync_failure gaps confirmed in the range")).to_be_visible(
        timeout=30_000
    )
    after = page.locator(".vega-embed").first.evaluate(LEGEND_COLOURS)
    assert after == {"sync_failure": before["sync_failure"]}
