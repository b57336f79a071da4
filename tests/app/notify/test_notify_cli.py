"""``gapdesk notify add-webhook|deliver|digest`` as real processes, to a real receiver and a
real SMTP server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.cli.test_cli import run
from tests.conftest import BACKENDS
from tests.helpers.receivers import smtp_server, webhook_receiver


@pytest.mark.parametrize("fresh_db_url", BACKENDS, indirect=True)
def test_the_cli_registers_a_webhook_delivers_and_sends_the_digest(
    fresh_db_url: str, tmp_path: Path
) -> None:
    env = {"GAPDESK_HOME": str(tmp_path), "GAPDESK_DATABASE_URL": fresh_db_url}
    refused = run("notify", "add-webhook", "gopher://example.org/", "--event", "ping", env=env)
    assert refused.returncode == 2  # ping is no event one subscribes to: a usage error
    refused = run("notify", "add-webhook", "gopher://example.org/", "--event",
                  "finding.decided", env=env)  # fmt: skip
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "only http:// and https://" in refused.stderr
    inside = run("notify", "add-webhook", "http://127.0.0.1:9/x", "--event", "finding.decided",
                 env=env)  # fmt: skip
    assert inside.returncode == 1 and "GAPDESK_WEBHOOK_ALLOW_PRIVATE=true" in inside.stderr

    assert run("users", "add", "max", "--email", "max@example.org", "--role", "manager",
               "--no-password", env=env).returncode == 0  # fmt: skip
    with webhook_receiver() as receiver, smtp_server() as mail:
        env |= {"GAPDESK_WEBHOOK_ALLOW_PRIVATE": "true", "GAPDESK_SMTP_HOST": mail.host,
                "GAPDESK_SMTP_PORT": str(mail.port), "GAPDESK_SMTP_TLS": "none"}  # fmt: skip
        added = run("notify", "add-webhook", receiver.url, "--event", "detection_run.failed",
                    env=env)  # fmt: skip
        assert added.returncode == 0, added.stderr
        receiver.secret = added.stdout.strip().rsplit(" ", 1)[1]
        assert receiver.secret.startswith("whsec_")
        # A detection run with no snapshot fails before it starts: nothing to tell.
        assert run("notify", "deliver", "--once", env=env).stdout.strip() == (
            "delivered 0, retrying later 0, failed 0"
        )
        digest = run("notify", "digest", env=env)
        assert digest.returncode == 0, digest.stderr
        assert "queued to max" in digest.stdout and "delivered 1" in digest.stdout
        assert [m["To"] for m in mail.messages] == ["max@example.org"]
    assert receiver.requests == []
