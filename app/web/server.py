"""The server entry: Streamlit's app (app/main.py) plus the HTTP route that sets its session
cookie HttpOnly. Start it with ``streamlit run app/web/server.py`` (``gapdesk serve`` does)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.routing import Route

from app.web.session_cookie import ROUTE, set_session_cookie

MAIN = Path(__file__).resolve().parents[1] / "main.py"

app = st.App(str(MAIN), routes=[Route(ROUTE, set_session_cookie, methods=["POST"])])
