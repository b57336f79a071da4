"""The ``gapdesk`` command as a script would use it: exit codes and one-line messages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKENDS

GAPDESK = shutil.which("gapdesk", path=str(Path(sys.executable).parent)) or "gapdesk"


def run(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GAPDESK, *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {"GAPDESK_HOME": str(tmp_path / "home"), "GAPDESK_DATABASE_URL": ""}


def test_db_upgrade_creates_the_default_sqlite_database(cli_env: dict[str, str]) -> None:
    first = run("db", "upgrade", env=cli_env)
    assert first.returncode == 0, first.stderr
    assert "migrated from empty to" in first.stdout
    assert (Path(cli_env["GAPDESK_HOME"]) / "gapdesk.db").is_file()
    again = run("db", "upgrade", env=cli_env)
    assert again.returncode == 0 and "already at" in again.stdout
    assert "(current)" in run("db", "current", env=cli_env).stdout


@pytest.mark.parametrize("fresh_db_url", BACKENDS, indirect=True)
def test_users_add_and_list_on_each_backend(fresh_db_url: str, tmp_path: Path) -> None:
    env = {"GAPDESK_HOME": str(tmp_path), "GAPDESK_DATABASE_URL": fresh_db_url}
    secret = "s3cret-password-123"
    added = run(
        "users", "add", "alice", "--email", "Alice@Example.org", "--role", "admin",
        env=env, stdin=secret + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added alice <alice@example.org> as admin"
    run("users", "add", "ivan", "--email", "ivan@example.org", "--role", "instructor",
        env=env, stdin=secret + "\n")  # fmt: skip
    listed = run("users", "list", env=env)
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["alice", "admin"], ["ivan", "instructor"]]
    assert secret not in listed.stdout + added.stdout + added.stderr
    assert "argon2" not in listed.stdout


def test_users_add_refuses_bad_input_in_one_line(cli_env: dict[str, str]) -> None:
    dup = "s3cret-password-123\n"
    assert run("users", "add", "bob", "--email", "b@example.org", "--role", "manager",
               env=cli_env, stdin=dup).returncode == 0  # fmt: skip
    again = run("users", "add", "bob", "--email", "c@example.org", "--role", "manager",
                env=cli_env, stdin=dup)  # fmt: skip
    assert again.returncode == 1
    assert again.stderr.strip() == "Error: a user with that name already exists (bob)"
    short = run("users", "add", "eve", "--email", "e@example.org", "--role", "admin",
                env=cli_env, stdin="short\n")  # fmt: skip
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    bad_role = run("users", "add", "eve", "--email", "e@example.org", "--role", "root",
                   env=cli_env, stdin=dup)  # fmt: skip
    assert bad_role.returncode == 2 and "'root' is not one of" in bad_role.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "GAPDESK_DATABASE_URL is not a database URL"),
        ("mysql://root@127.0.0.1/x", "supports sqlite and postgresql"),
        ("postgresql://postgres@127.0.0.1:1/nothing", "cannot reach the database"),
    ],
)
def test_a_bad_database_url_gives_one_clear_line(
    cli_env: dict[str, str], url: str, message: str
) -> None:
    result = run("users", "list", env={**cli_env, "GAPDESK_DATABASE_URL": url})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_an_empty_database_is_migrated_when_the_cli_meets_it(cli_env: dict[str, str]) -> None:
    # `users list` on a database that has never been migrated brings it to head first.
    result = run("users", "list", env=cli_env)
    assert result.returncode == 0 and "no users yet" in result.stdout
    assert "(current)" in run("db", "current", env=cli_env).stdout


def test_a_malformed_url_never_echoes_its_password(cli_env: dict[str, str]) -> None:
    url = "postgresql://gapdesk:s3cret-pw@db.internal:notaport/gapdesk"
    result = run("users", "list", env={**cli_env, "GAPDESK_DATABASE_URL": url})
    assert result.returncode == 1 and "not a database URL" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
