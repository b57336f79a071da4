"""Streamlit entry: decides who is signed in and which pages they may see. Nothing else."""

from __future__ import annotations

import streamlit as st

from app.web.navigation import SIGN_IN, PageSpec, pages_for
from app.web.signin import current_actor, flush_cookie, sign_out

st.set_page_config(page_title="Gapdesk", page_icon=":material/troubleshoot:", layout="wide")


def _page(spec: PageSpec, *, default: bool = False) -> st.Page:
    return st.Page(
        spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=default
    )


flush_cookie()
actor = current_actor()
if actor is None:
    navigation = st.navigation([_page(SIGN_IN, default=True)], position="hidden")
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
