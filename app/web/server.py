"""The server entry: Streamlit's app (app/main.py) plus the HTTP route that sets its session
cookie HttpOnly. Start it with ``streamlit run app/web/server.py`` (``gapdesk serve`` does)."""

from __future__ import annotations

import ast
import importlib
import threading
from pathlib import Path

import streamlit as st
from starlette.routing import Route

from app.web.navigation import PAGES, SIGN_IN
from app.web.session_cookie import ROUTE, set_session_cookie

MAIN = Path(__file__).resolve().parents[1] / "main.py"


def page_imports() -> list[str]:
    """The modules the pages import (read from their source, not run)."""
    names: list[str] = []
    for spec in (SIGN_IN, *PAGES):
        for node in ast.walk(ast.parse(Path(spec.path).read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.append(node.module)
            elif isinstance(node, ast.Import):
                names.extend(alias.name for alias in node.names)
    return list(dict.fromkeys(names))


def _warm() -> None:
    for name in page_imports():
        try:
            importlib.import_module(name)
        except Exception:  # noqa: S112  (the page's own run reports a module that cannot load)
            continue


# Load what the pages need while the server waits for its first visitor, so the first sign-in
# does not wait seconds for scikit-learn and the detectors (imported once per process).
threading.Thread(target=_warm, name="gapdesk-warm-imports", daemon=True).start()

app = st.App(str(MAIN), routes=[Route(ROUTE, set_session_cookie, methods=["POST"])])
