"""Helpers for AppTest page tests: point the app at a test database and sign in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from app.core.settings import get_settings
from tests.conftest import REPO

MAIN = str(REPO / "app" / "main.py")


@contextmanager
def app_on(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the app's settings and cached engine use ``engine``'s database."""
    from app.web import units

    monkeypatch.setenv("GAPDESK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    units._engine.clear()
    try:
        yield
    finally:
        units._engine.clear()
        get_settings.cache_clear()


def open_app() -> AppTest:
    """The entry script, run once (signed out)."""
    return AppTest.from_file(MAIN, default_timeout=30).run()


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    """Fill the sign-in form and submit it."""
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click().run()
    return at


def registered_pages(at: AppTest) -> set[Path]:
    """The page scripts the navigation registered for this session."""
    pages = getattr(at, "_registered_pages", {})
    return {
        Path(str(info["script_path"])).resolve()
        for info in pages.values()
        if info.get("script_path")
    }


def shown(markdown: str) -> str:
    """What a person reads from a Markdown string built with ``md_escape``: the escapes and the
    word joiners that keep data from becoming links are invisible."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")
