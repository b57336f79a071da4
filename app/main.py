"""Streamlit entry: decides who is signed in and which pages they may see. Nothing else."""

from __future__ import annotations

import streamlit as st

from app.web.navigation import PAGES, SIGN_IN, PageSpec, pages_for
from app.web.signin import current_actor, flush_cookie, sign_out

st.set_page_config(page_title="Gapdesk", page_icon=":material/troubleshoot:", layout="wide")


def _page(spec: PageSpec, *, default: bool = False) -> st.Page:
    return st.Page(
        spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=default
    )


def sign_in_at(url_path: str) -> st.Page:
    """The sign-in form, served at a page's own address for a visitor not signed in yet."""
    return st.Page(SIGN_IN.path, title=SIGN_IN.title, icon=SIGN_IN.icon, url_path=url_path)


actor = current_actor()
flush_cookie()  # after the re-check, which may have rotated the token or ended the session
if actor is None:
    # Every page's address shows the sign-in form (no "Page not found"); once signed in, the
    # rerun finds the real page at the same address, so a deep link lands where it pointed.
    navigation = st.navigation(
        [_page(SIGN_IN, default=True)] + [sign_in_at(spec.url_path) for spec in PAGES],
        position="hidden",
    )
else:
    sections: dict[str, list[st.Page]] = {}
    for i, spec in enumerate(pages_for(actor.role)):
        sections.setdefault(spec.section, []).append(_page(spec, default=i == 0))
    navigation = st.navigation(sections)
    with st.sidebar:
        st.caption(f"Signed in as **{actor.name}** · {actor.role.value}")
        if st.button("Sign out", icon=":material/logout:"):
            sign_out()
            st.rerun()
navigation.run()
