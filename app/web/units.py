"""The page's engine and units of work: ``reading()`` for what only looks, ``writing()`` for
what changes something. Pages never build database sessions themselves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import DatabaseUnavailable, open_engine, session_scope
from app.core.settings import ConfigError


@st.cache_resource(show_spinner=False)
def _engine() -> Engine:
    return open_engine()


def engine() -> Engine:
    """The process's one engine; a page stops with one clear line if the database is unusable."""
    try:
        return _engine()
    except (ConfigError, DatabaseUnavailable) as exc:
        st.error(f"Gapdesk cannot start: {exc}")
        st.stop()
        raise  # unreachable: st.stop() raises


@contextmanager
def reading() -> Iterator[Session]:
    """A unit of work that only reads: on SQLite it neither waits for nor blocks writers."""
    with session_scope(engine(), read_only=True) as session:
        yield session


@contextmanager
def writing() -> Iterator[Session]:
    """A unit of work for one change a person made: committed on success, rolled back on error
    (on SQLite it takes the write lock up front)."""
    with session_scope(engine()) as session:
        yield session
