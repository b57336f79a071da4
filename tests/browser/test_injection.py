"""In Chromium: HTML, script and Markdown tricks in any text a person or a data file supplies are
shown as text on every page and never run; the server's log keeps no password or token.

The data file brings payloads in course titles, departments and learner names (they flow through
ingest and detection into findings' titles and evidence); people add them as comments, dismissal
comments, suppression reasons, a learner report and a detector configuration note. A trap set
before any page script counts every write to ``window.__xss`` and every dialog.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from app.core.db import build_engine, session_scope, upgrade
from app.demo.set_up import ensure_demo_accounts
from app.detection.configuration import configure_detector
from app.detection.run import run_detection
from app.sources.store import ingest
from review_queue.comments import add_comment
from review_queue.decisions import decide
from review_queue.learner_reports import file_learner_report
from review_queue.permissions import SYSTEM, Actor
from review_queue.suppressions import create_suppression
from review_queue.tables import Finding, Role, User
from tests.helpers.browser import select_first_row, sign_in, streamlit_server

pytestmark = pytest.mark.browser
SLOW = 30_000
PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1;alert(1)">',
    "<svg onload=window.__xss=1>",
    "[click me](javascript:window.__xss=1)",
    "![pic](x onerror=window.__xss=1)",
    "</div></span><iframe src=javascript:window.__xss=1>",
    "<a href=javascript:alert(1)>link</a>",
    # Live links and images from data (issue 15.2): a fake sign-in link, a tracking image.
    "[Your session expired - sign in again](http://evil.example/login)",
    "![t](http://evil.example/track.png)",
]
LINKS = PAYLOADS[-2:]
TRAP = """
window.__xssHits = 0;
Object.defineProperty(window, '__xss', {
  configurable: false,
  get() { return undefined; },
  set(v) { window.__xssHits += 1; },
});
"""


def _poison(folder: Path) -> None:
    """Payloads in course titles, departments (people and courses) and people's names."""
    courses = pd.read_csv(folder / "courses.csv", dtype=str, keep_default_na=False)
    courses["title"] = [f"{PAYLOADS[i % len(PAYLOADS)]} {t}" for i, t in
                        enumerate(courses["title"])]  # fmt: skip
    people = pd.read_csv(folder / "people.csv", dtype=str, keep_default_na=False)
    names = sorted({d for d in [*people["department"], *courses["department"]] if d})
    # Every department carries a link or an image: the Trends takeaways and the ledger's
    # exception suggestions name departments.
    renamed = {d: f"{LINKS[i % 2]} {PAYLOADS[i % len(PAYLOADS)]} {d}" for i, d in enumerate(names)}
    people["department"] = people["department"].map(lambda d: renamed.get(d, d))
    courses["department"] = courses["department"].map(lambda d: renamed.get(d, d))
    people["full_name"] = [f"{PAYLOADS[i % len(PAYLOADS)]} {n}" if i % 5 == 0 else n
                           for i, n in enumerate(people["full_name"])]  # fmt: skip
    courses.to_csv(folder / "courses.csv", index=False)
    people.to_csv(folder / "people.csv", index=False)


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, demo_folder: Path
) -> Iterator[tuple[str, Path, dict[Role, tuple[str, str]], int]]:
    home = tmp_path_factory.mktemp("injection-home")
    folder = home / "org"
    shutil.copytree(demo_folder, folder)
    _poison(folder)
    url = f"sqlite:///{home / 'gapdesk.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(home))
    from app.core.settings import get_settings

    get_settings.cache_clear()
    engine = build_engine(url)
    upgrade(engine)
    ingest(engine=engine, actor=SYSTEM, path=folder)
    run_detection(engine=engine, actor=SYSTEM)
    with session_scope(engine) as session:
        accounts = {
            a.role: (a.name, a.password or "") for a in ensure_demo_accounts(session=session)
        }
    with Session(engine, expire_on_commit=False) as session:
        admin = Actor.of(session.exec(select(User).where(col(User.role) == "admin")).first())
        ids = list(session.exec(select(Finding.id).order_by(col(Finding.priority).desc())))
        report = file_learner_report(
            session=session, actor=admin, learner_user_id=PAYLOADS[0], course_id=PAYLOADS[3],
            what_happened=" ".join(PAYLOADS), urgency="critical", allowed_courses=None,
        )  # fmt: skip
        for text in PAYLOADS:
            add_comment(session=session, actor=admin, finding_id=report.id or 0, body=text)
        decide(session=session, actor=admin, finding_id=ids[0] or 0, action="dismiss",
               reason="other", comment=" ".join(PAYLOADS))  # fmt: skip
        decide(session=session, actor=admin, finding_id=ids[1] or 0, action="confirm",
               comment=PAYLOADS[1])  # fmt: skip
        from datetime import UTC, datetime, timedelta

        create_suppression(session=session, actor=admin, finding_id=ids[1] or 0,
                           reason=" ".join(PAYLOADS),
                           until=datetime.now(UTC) + timedelta(days=30))  # fmt: skip
        _dismiss_as_expected_in_one_department(session, admin)
        configure_detector(session=session, actor=admin, name="compliance_overdue",
                           enabled=True, note=" ".join(PAYLOADS))  # fmt: skip
        session.commit()
        report_id = report.id or 0
    engine.dispose()
    with streamlit_server({"GAPDESK_HOME": str(home), "GAPDESK_DATABASE_URL": url}) as base:
        yield base, home, accounts, report_id
    mp.undo()
    get_settings.cache_clear()


def _dismiss_as_expected_in_one_department(session: Session, admin: Actor) -> None:
    """Enough dismissals as expected in one department for the rule ledger to suggest making
    it an exception: the suggestion on the Models page names the department."""
    department = next(
        d for d in session.exec(select(Finding.department).distinct()) if d and "](http" in d
    )
    for n in range(6):
        finding = Finding(category="compliance_overdue", entity_key=f"enrollment=X{n}",
                          title=f"Enrolment X{n} is past its due date",
                          detector="compliance_overdue", detector_version="1", score=0.6,
                          priority=0.5, severity="high", department=department)  # fmt: skip
        session.add(finding)
        session.flush()
        decide(session=session, actor=admin, finding_id=finding.id or 0, action="dismiss",
               reason="expected")  # fmt: skip


def _settle(page: Page) -> None:
    """Wait until Streamlit has finished running the page script."""
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=SLOW)
    page.wait_for_timeout(500)


def _assert_nothing_ran(page: Page, dialogs: list[str], where: str) -> None:
    hits = page.evaluate("window.__xssHits")
    assert hits == 0, f"injected script ran on {where} ({hits} times)"
    assert dialogs == [], f"injected script opened a dialog on {where}: {dialogs}"
    # No element the payloads would create made it into the page as HTML.
    for selector in ("img[src='x']", "[onerror]", "[onload]", "iframe[src^='javascript']",
                     "a[href^='javascript']", "a[href*='evil.example']",
                     "img[src*='evil.example']"):  # fmt: skip
        found = page.locator(selector).count()
        assert found == 0, f"{selector} rendered on {where}"
    scripts = page.evaluate(
        "[...document.scripts].filter(s => s.textContent.includes('__xss')).length"
    )
    assert scripts == 0, f"an injected <script> element is in the page on {where}"


def test_payloads_show_as_text_and_never_run(page: Page, site: tuple) -> None:
    base, home, accounts, report_id = site
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "evil.example" in r.url else None)
    page.add_init_script(TRAP)
    name, password = accounts[Role.admin]
    sign_in(page, base, name, password)
    _assert_nothing_ran(page, dialogs, "home")

    # The learner report: its title and comments, shown through escaped Markdown.
    page.goto(f"{base}/queue")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible(timeout=SLOW)
    page.get_by_label("Search title or entity").fill("reports about")
    page.get_by_label("Search title or entity").press("Enter")
    expect(page.get_by_text("1 finding matches")).to_be_visible(timeout=SLOW)
    heading = page.locator("h4").filter(has_text=f"#{report_id}").first
    select_first_row(page, heading, timeout=SLOW)
    assert PAYLOADS[0] in heading.inner_text()  # the learner id, literally
    _settle(page)
    main = page.get_by_test_id("stMain")
    plain = PAYLOADS[: -len(LINKS)]
    seen: set[str] = set()
    text = ""
    for tab in ("Evidence", "History", "Comments"):  # the detail's tabs
        main.get_by_role("tab", name=tab).click()
        _settle(page)
        seen |= {p for p in plain if main.get_by_text(p).filter(visible=True).count()}
        # A bare address is kept from becoming a link by an invisible word joiner after "http".
        text += main.inner_text().replace("\u2060", "")
    assert seen == set(plain), set(plain) - seen
    for payload in LINKS:
        assert payload in text, f"{payload} is not shown literally"
    _assert_nothing_ran(page, dialogs, "the queue's finding detail")
    page.get_by_text("Suppressions").click()
    _settle(page)
    _assert_nothing_ran(page, dialogs, "the queue's suppressions")

    for path in ("trends", "feedback_log", "models", "detectors", "data", "users", "report"):
        page.goto(f"{base}/{path}")
        _settle(page)
        _assert_nothing_ran(page, dialogs, path)

    # The Trends page's takeaways name departments: they come from the data file.
    page.goto(f"{base}/trends")
    _settle(page)
    _assert_nothing_ran(page, dialogs, "trends")
    main = page.get_by_test_id("stMain")
    # The takeaways come after the report is computed; wait for the one that names places.
    expect(main.get_by_text(re.compile("first seen in the range")).first).to_be_visible(
        timeout=SLOW
    )
    shown = main.inner_text().replace("\u2060", "")
    assert any(link in shown for link in LINKS), "no takeaway names a department"
    # The rule ledger suggests making a department an exception, naming it, as text.
    page.goto(f"{base}/models")
    _settle(page)
    expect(main.get_by_text("an exception").first).to_be_visible(timeout=SLOW)
    shown = main.inner_text().replace("\u2060", "")
    assert any(link in shown for link in LINKS), "no suggestion names a department"
    _assert_nothing_ran(page, dialogs, "models")
    assert fetched == [], f"the browser fetched what data pointed at: {fetched[:3]}"

    # The server's own log of this session holds no password, hash or session token.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "gapdesk_session")
    logs = "".join(p.read_text(errors="replace") for p in home.glob("streamlit-*.log"))
    for secret in (password, token, "$argon2"):
        assert secret not in logs, f"{secret[:8]}... is in the streamlit log"
