"""One masker for database URLs: no password is ever echoed, whatever the URL looks like."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.core.urls import ambiguous_password, mask_url_password, scrub
from tests.conftest import REPO

SECRET = "S3c/retPW"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://postgres:S3c/retPW@db.example.org:bad/db",
         "postgresql://postgres:***@db.example.org:bad/db"),
        ("postgresql://postgres:p@ssw0rdTail@db.example.org/db",
         "postgresql://postgres:***@db.example.org/db"),
        ("postgresql://postgres:S3c%2FretPW@db.example.org/db",
         "postgresql://postgres:***@db.example.org/db"),
        ("postgresql://reader@db.example.org/db?password=hunter2hunter",
         "postgresql://reader@db.example.org/db?password=***"),
        ("postgresql://db.example.org/db", "postgresql://db.example.org/db"),
        ("not a url at all: x:y@z", "***@z"),
    ],
)  # fmt: skip
def test_the_password_is_masked_in_every_shape(url: str, shown: str) -> None:
    assert mask_url_password(url) == shown


def test_a_parsed_url_is_masked_too() -> None:
    url = make_url("postgresql+psycopg://postgres:p%40ss@127.0.0.1/db")
    assert mask_url_password(url) == "postgresql+psycopg://postgres:***@127.0.0.1/db"


def test_an_unencoded_at_or_slash_in_the_password_is_ambiguous() -> None:
    assert ambiguous_password("postgresql://postgres:S3c/retPW@h:bad/db")
    assert ambiguous_password("postgresql://postgres:p@ssw0rdTail@h/db")
    assert not ambiguous_password("postgresql://postgres:S3c%2FretPW@h/db")
    assert not ambiguous_password("postgresql://postgres@h/db")


def test_scrub_takes_the_password_out_of_a_driver_message() -> None:
    url = "postgresql://postgres:S3c%2FretPW@h/db"
    assert scrub("auth failed for S3c/retPW\nmore", url) == "auth failed for ***"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:S3c/retPW@127.0.0.1:bad/db",
        "postgresql://postgres:p@S3c/retPWTail@127.0.0.1/db",
        "postgresql://postgres:S3c%2FretPW@127.0.0.1:5432/postgres?connect_timeout=x",
        "postgresql://postgres:S3c%2FretPW@127.0.0.1:1/postgres?connect_timeout=1",
    ],
)
def test_the_cli_never_echoes_the_password_nor_a_traceback(tmp_path: Path, url: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "GAPDESK_HOME": str(tmp_path), "GAPDESK_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", "from app.cli.main import main; main()", "users", "list"],
        capture_output=True, text=True, cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)},
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    out = done.stdout + done.stderr
    assert "Traceback" not in out and len(done.stderr.strip().splitlines()) == 1, out
    for piece in ("S3c", "retPW", "Tail"):
        assert piece not in out, out
