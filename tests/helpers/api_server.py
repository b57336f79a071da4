"""The REST API served by a real uvicorn on a free loopback port, in a thread of the test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from sqlalchemy.engine import Engine

from app.api.app import create_app
from tests.helpers.browser import free_port


@contextmanager
def serving(engine: Engine, *, rate_per_minute: int = 10_000) -> Iterator[str]:
    """uvicorn serving the API over ``engine`` on 127.0.0.1; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(engine, rate_per_minute=rate_per_minute), host="127.0.0.1", port=port,
        log_level="warning",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
