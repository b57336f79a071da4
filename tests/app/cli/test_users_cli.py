"""``gapdesk users`` deactivate, activate, set-role, revoke-tokens: one line, exit 0 or 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.cli.test_cli import run
from tests.conftest import BACKENDS

SECRET = "s3cret-password-123"


@pytest.mark.parametrize("fresh_db_url", BACKENDS, indirect=True)
def test_deactivate_activate_and_set_role(fresh_db_url: str, tmp_path: Path) -> None:
    env = {"GAPDESK_HOME": str(tmp_path), "GAPDESK_DATABASE_URL": fresh_db_url}
    for name, role in (("alice", "admin"), ("ivan", "instructor")):
        added = run("users", "add", name, "--email", f"{name}@example.org", "--role", role,
                    env=env, stdin=SECRET + "\n")  # fmt: skip
        assert added.returncode == 0, added.stderr

    def listed() -> dict[str, list[str]]:
        out = run("users", "list", env=env).stdout.splitlines()
        return {line.split()[0]: line.split()[1:] for line in out}

    assert listed()["ivan"][:3] == ["instructor", "ivan@example.org", "active"]
    assert listed()["ivan"][-4:] == ["never", "API", "tokens", "0"]
    for script in ("moodle sync", "report"):
        made = run("tokens", "create", "--user", "ivan", "--name", script, env=env)
        assert made.returncode == 0, made.stderr
    assert listed()["ivan"][-1] == "2"
    revoked = run("users", "revoke-tokens", "ivan", env=env)
    assert (revoked.returncode, revoked.stdout.strip()) == (0, "ivan: 2 live API token(s) revoked")
    assert listed()["ivan"][-1] == "0"
    done = run("users", "deactivate", "ivan", env=env)
    assert (done.returncode, done.stdout.strip()) == (
        0, "ivan deactivated: signed out everywhere, API tokens revoked, cannot sign in"
    )  # fmt: skip
    assert listed()["ivan"][2] == "deactivated"
    assert run("users", "activate", "ivan", env=env).returncode == 0
    assert listed()["ivan"][2] == "active"
    role = run("users", "set-role", "ivan", "manager", env=env)
    assert (role.returncode, role.stdout.strip()) == (0, "ivan is now manager")
    assert listed()["ivan"][0] == "manager"

    for args, message in (
        (("deactivate", "alice"), "last active admin"),
        (("set-role", "alice", "manager"), "last active admin"),
        (("deactivate", "nobody"), "no user named 'nobody'"),
    ):
        refused = run("users", *args, env=env)
        assert refused.returncode == 1, refused.stdout
        assert message in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    bad_role = run("users", "set-role", "ivan", "root", env=env)
    assert bad_role.returncode != 0 and "Traceback" not in bad_role.stderr
