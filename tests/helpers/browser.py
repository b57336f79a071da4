"""Browser-test support: a real ``streamlit run`` on a free loopback port, and Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy.engine import Engine

from app.core.db import build_engine, session_scope, upgrade
from app.demo.set_up import ensure_demo_accounts
from review_queue.tables import Role
from tests.conftest import IN_CI, REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# The process id of each running server, by its base URL (benchmarks read its CPU time).
SERVER_PIDS: dict[str, int] = {}


def server_cpu_seconds(base: str) -> float:
    """CPU seconds (user + system, all threads) the server at ``base`` has used so far."""
    fields = Path(f"/proc/{SERVER_PIDS[base]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def require_chromium() -> None:
    """Skip (or, in CI, fail) when Debian's Chromium is not installed."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"CI=true but {CHROMIUM} is missing (scripts/setup.sh --dev installs it)")
        pytest.skip(f"{CHROMIUM} is not installed (scripts/setup.sh --dev installs it)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def streamlit_server(
    env: dict[str, str],
    *,
    timeout: float = 60.0,
    port: int | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[str]:
    """Run the app with ``env`` on ``port`` (default: a free one), with ``extra_args`` for
    ``streamlit run``; yields its base URL once healthy."""
    port = port or free_port()
    log = open(Path(env["GAPDESK_HOME"]) / f"streamlit-{port}.log", "w")  # noqa: SIM115
    args = [
        sys.executable, "-m", "streamlit", "run", str(REPO / "app" / "web" / "server.py"),
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false", *extra_args,
    ]  # fmt: skip
    proc = subprocess.Popen(
        args,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early; see {log.name}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not become healthy in {timeout}s")
            time.sleep(0.3)
        SERVER_PIDS[base] = proc.pid
        yield base
    finally:
        SERVER_PIDS.pop(base, None)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def demo_accounts_app(
    home: Path, prepare: Callable[[Engine], object] | None = None
) -> Iterator[tuple[str, dict[Role, tuple[str, str | None]]]]:
    """A server on a SQLite database in ``home`` with the demo admin, instructor and manager
    (and whatever ``prepare`` adds); yields its address and each role's (name, password)."""
    url = f"sqlite:///{home / 'gapdesk.db'}"
    engine = build_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        accounts = {a.role: (a.name, a.password) for a in ensure_demo_accounts(session=session)}
    if prepare is not None:
        prepare(engine)
    engine.dispose()
    with streamlit_server({"GAPDESK_HOME": str(home), "GAPDESK_DATABASE_URL": url}) as base:
        yield base, accounts


def sign_in(page: Page, base: str, name: str, password: str, *, timeout: float = 30_000) -> None:
    """Sign in through the form and wait for the home page and the session cookie (which is
    what carries the sign-in to a URL typed in the address bar)."""
    page.goto(base)
    page.get_by_label("User name or email").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Hello, {name}")).to_be_visible(timeout=timeout)
    wait_for_session_cookie(page, timeout=timeout)


def wait_for_session_cookie(page: Page, *, timeout: float = 30_000) -> None:
    """Wait until the server has set the (HttpOnly, so unseen by page scripts) session cookie."""
    deadline = time.monotonic() + timeout / 1000
    while not any(c["name"] == "gapdesk_session" and c["value"] for c in page.context.cookies()):
        if time.monotonic() > deadline:
            raise AssertionError("the session cookie was not set")
        page.wait_for_timeout(100)


def select_first_row(page: Page, opened: Locator, *, timeout: float = 30_000) -> None:
    """Click the first row's selection box in the page's first table until ``opened`` shows.

    The grid is drawn on a canvas and redrawn after every rerun: a click that lands while it is
    being redrawn is lost, so the click is repeated (a late second click only deselects, which
    leaves the opened finding open).
    """
    grid = page.get_by_test_id("stDataFrame").first
    attempts = 4
    for attempt in range(attempts):
        expect(grid).to_be_visible(timeout=timeout)
        box = grid.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
        try:
            expect(opened).to_be_visible(timeout=timeout / attempts)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise
