"""AppTest: an admin draws the week's audit sample from the Review queue's Audits view, audits an
item blind, and the Trends page shows the figures to a manager."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.settings import get_settings
from app.web.navigation import PAGES
from review_queue.tables import AuditItem, Finding, Role
from tests.helpers.apptest import open_app, shown, sign_in
from tests.helpers.audit_site import demo_site_with_a_dismissal


def _page(file: str) -> str:
    return str(next(p for p in PAGES if p.file == file).path)


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, demo_folder: Path
) -> Iterator[tuple[Engine, dict[Role, tuple[str, str]]]]:
    home = tmp_path_factory.mktemp("audit-pages-home")
    url = f"sqlite:///{home / 'gapdesk.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(home))
    mp.setenv("GAPDESK_DATABASE_URL", url)
    get_settings.cache_clear()
    from app.web import units

    units._engine.clear()
    engine, accounts = demo_site_with_a_dismissal(url, demo_folder, reason="expected")
    yield engine, accounts
    units._engine.clear()
    engine.dispose()
    mp.undo()
    get_settings.cache_clear()


def test_the_audits_view_draws_a_sample_and_hides_the_first_decision(site: tuple) -> None:
    engine, accounts = site
    at = sign_in(open_app(), *accounts[Role.admin])
    at.switch_page(_page("queue.py")).run()
    assert not at.exception, at.exception
    at.button_group[0].set_value("Audits").run()
    assert not at.exception, at.exception
    assert "No audit item waits for you." in [i.value for i in at.info]
    draw = next(b for b in at.button if b.label == "Draw this week's audit sample")
    draw.click().run()
    assert not at.exception, at.exception
    [success] = at.success
    assert shown(success.value).startswith("audit sample #1: 1 dismissals and ")
    texts = [shown(m.value) for m in at.markdown]
    assert any(t.startswith("**AUDIT** · item #1 of sample #1") for t in texts), texts
    assert "A finding from the queue, decided before: is it a real gap?" in texts
    # The auditor is not told what the first decision was, nor by whom.
    page_text = " ".join(texts + [s.value for s in at.subheader] + [c.value for c in at.caption])
    assert "dismissed by" not in page_text and "expected" not in page_text
    next(b for b in at.button if b.label == "Real gap").click().run()
    assert not at.exception, at.exception
    assert shown(at.success[0].value) == (
        f"Audit item #1: you said confirmed. The first decision was: dismissed by "
        f"{accounts[Role.admin][0]} (expected)."
    )
    with Session(engine) as s:
        item = s.get(AuditItem, 1)
        assert item is not None and item.verdict == "confirmed"
        finding = s.get(Finding, item.finding_id)
        assert finding is not None and finding.status == "confirmed"


def test_trends_shows_the_audit_figures_to_a_manager(site: tuple) -> None:
    _, accounts = site
    at = sign_in(open_app(), *accounts[Role.manager])
    at.switch_page(_page("trends.py")).run()
    assert not at.exception, at.exception
    assert "Audits: what the queue hides" in [s.value for s in at.subheader]
    tables = [d.value for d in at.dataframe]
    audit = next(t for t in tables if "wrong dismissals" in t.columns)
    assert "enrollment_missing" in set(audit["category"])
    assert "Reviewer agreement" in " ".join(m.value for m in at.markdown)
