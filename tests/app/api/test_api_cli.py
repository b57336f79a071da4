"""``gapdesk tokens create|list|revoke`` and ``gapdesk api`` as a real process on each backend."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.app.cli.test_cli import GAPDESK, run
from tests.conftest import BACKENDS
from tests.helpers.browser import free_port


@pytest.mark.parametrize("fresh_db_url", BACKENDS, indirect=True)
def test_tokens_from_the_cli_work_against_gapdesk_api(fresh_db_url: str, tmp_path: Path) -> None:
    env = {"GAPDESK_HOME": str(tmp_path), "GAPDESK_DATABASE_URL": fresh_db_url}
    added = run("users", "add", "max", "--email", "max@example.org", "--role", "manager",
                "--no-password", env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    made = run("tokens", "create", "--user", "max", "--name", "reporting", env=env)
    assert made.returncode == 0, made.stderr
    first = made.stdout.splitlines()[0]
    assert first.startswith("token #1 for max (read): gdk_")
    token = first.rsplit(" ", 1)[1]
    listed = run("tokens", "list", "--user", "max", env=env).stdout
    assert "#1  read   live" in listed and token not in listed
    for args, message in (
        (("tokens", "create", "--user", "nobody", "--name", "x"), "no active user named 'nobody'"),
        (("tokens", "create", "--user", "max", "--name", " "), "a token needs a name"),
        (("tokens", "revoke", "7", "--user", "max"), "max has no API token #7"),
    ):
        refused = run(*args, env=env)
        assert refused.returncode == 1 and message in refused.stderr + refused.stdout
        assert "Traceback" not in refused.stderr

    port = free_port()
    server = subprocess.Popen(
        [GAPDESK, "api", "--port", str(port)], env={**os.environ, **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "gapdesk api did not answer"
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}"}
        log = httpx.get(f"{url}/api/feedback-log", headers=headers)
        assert (log.status_code, log.json()["total"]) == (200, 0)
        queue = httpx.get(f"{url}/api/findings", headers=headers)
        assert queue.status_code == 403 and "max is manager" in queue.json()["detail"]
        revoked = run("tokens", "revoke", "1", "--user", "max", env=env)
        assert revoked.stdout.strip() == "revoked token #1 (reporting) of max"
        assert httpx.get(f"{url}/api/feedback-log", headers=headers).status_code == 401
        assert "revoked" in run("tokens", "list", "--user", "max", env=env).stdout
    finally:
        server.terminate()
        server.wait(timeout=20)
