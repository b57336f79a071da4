"""xAPI statements → activity: files (gzipped or not), verb and actor normalisation, a live LRS.

The live path runs against a real ralph LRS (openfun/ralph), installed by scripts/install-ralph.sh
into .venv-ralph and started here on a free loopback port. Error answers that ralph cannot be made
to give (HTTP 500, garbage, a hang) come from a tiny local HTTP server.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from app.core.errors import UserError
from app.sources.xapi import (
    MAX_DEPTH,
    actor_id,
    import_xapi_file,
    normalise_verb,
    statements_to_activity,
)
from app.sources.xapi_lrs import import_xapi_lrs
from tests.app.sources.conftest import REPO, SHARED_LMS, TEST_DATA

SAMPLE = TEST_DATA / "xapi_statements_sample.jsonl.gz"
REAL = SHARED_LMS / "xapi_statements.jsonl.gz"
RALPH = REPO / ".venv-ralph" / "bin" / "ralph"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
LRS_USER, LRS_PASSWORD = "gapdesk", "not-a-real-secret"


def sample_statements(n: int) -> list[dict[str, Any]]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh, strict=False)]


def statement(verb: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": extra.pop("id", f"s-{verb.rsplit('/', 1)[-1]}"),
        "actor": {"objectType": "Agent", "mbox": "mailto:Ann@Example.org"},
        "verb": {"id": verb},
        "object": {"id": "http://example.org/activity/1", "objectType": "Activity"},
        "timestamp": "2026-11-20T10:00:00+01:00",
    }
    base.update(extra)
    return base


# --------------------------------------------------------------------------- files


def test_real_statements_file() -> None:
    if not REAL.exists():
        pytest.skip(f"{REAL} is absent")
    result = import_xapi_file(REAL)
    counts = result.report.counts
    assert counts["statements read"] == 22_000
    assert counts["unmapped verb: http://adlnet.gov/expapi/verbs/interacted"] == 3_546
    activity = result.tables["activity"]
    assert len(activity) == 22_000 - 3_546
    assert activity["verb"].value_counts().to_dict() == {
        "progressed": 9_813,
        "viewed": 6_657,
        "launched": 1_348,
        "completed": 636,
    }
    assert activity["event_id"].is_unique
    assert activity["value"].dropna().between(0, 100).all()
    assert str(activity["timestamp"].dtype) == "datetime64[us, UTC]"


def test_sample_file_gzipped_and_plain_give_the_same_activity(tmp_path: Path) -> None:
    plain = tmp_path / "statements.jsonl"
    plain.write_bytes(gzip.decompress(SAMPLE.read_bytes()))
    from_gz = import_xapi_file(SAMPLE).tables["activity"]
    from_plain = import_xapi_file(plain).tables["activity"]
    assert len(from_gz) > 1000
    pd.testing.assert_frame_equal(from_gz, from_plain)
    row = from_gz.iloc[0]
    assert row["course_id"] == "course-v1:FUN-MOOC+00002+session01"
    assert row["user_id"] == "f6c5ca7f-9daa-4830-a6a7-887af156e9ce"
    assert row["verb"] == "progressed" and row["value"] == pytest.approx(47.2)


def test_json_array_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "statements.json"
    path.write_text(json.dumps(sample_statements(20)), encoding="utf-8")
    assert import_xapi_file(path).report.counts["statements read"] == 20


def test_gz_that_is_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "statements.jsonl.gz"
    path.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"statements.jsonl.gz ends in .gz but is not gzip"):
        import_xapi_file(path)


def test_truncated_gzip_statements(tmp_path: Path) -> None:
    path = tmp_path / "statements.jsonl.gz"
    data = SAMPLE.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="damaged gzip"):
        import_xapi_file(path)


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "statements.jsonl"
    path.write_text("this is not json\nnor this\n", encoding="utf-8")
    with pytest.raises(UserError, match="holds no xAPI statements"):
        import_xapi_file(path)


def test_some_bad_lines_are_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "statements.jsonl"
    lines = [json.dumps(s) for s in sample_statements(3)]
    path.write_text("\n".join([lines[0], "{oops", lines[1], lines[2]]) + "\n", encoding="utf-8")
    result = import_xapi_file(path)
    assert result.report.counts["statements read"] == 3
    assert any("line 2" in w for w in result.report.warnings)


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("iri", "verb"),
    [
        ("http://adlnet.gov/expapi/verbs/completed", "completed"),
        ("http://adlnet.gov/expapi/verbs/passed", "passed"),
        ("http://adlnet.gov/expapi/verbs/failed", "failed"),
        ("http://adlnet.gov/expapi/verbs/launched", "launched"),
        ("http://adlnet.gov/expapi/verbs/initialized", "launched"),
        ("http://adlnet.gov/expapi/verbs/experienced", "viewed"),
        ("http://adlnet.gov/expapi/verbs/answered", "submitted"),
        ("https://w3id.org/xapi/adl/verbs/logged-in", "login"),
        ("https://w3id.org/xapi/adl/verbs/satisfied", "completed"),
        ("http://id.tincanapi.com/verb/viewed", "viewed"),
        ("http://activitystrea.ms/schema/1.0/complete", "completed"),
        ("https://w3id.org/xapi/video/verbs/played", "viewed"),
        ("https://w3id.org/xapi/video/verbs/paused", "progressed"),
        ("https://example.org/my-lms/verbs/completed", "completed"),
        ("http://adlnet.gov/expapi/verbs/interacted", None),
        ("http://adlnet.gov/expapi/verbs/voided", None),
    ],
)
def test_verb_iris_are_normalised(iri: str, verb: str | None) -> None:
    assert normalise_verb(iri) == verb


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ({"account": {"homePage": "https://lms.example.org", "name": "u7"}}, ("u7", "account")),
        ({"mbox": "mailto:Ann@Example.org"}, ("ann@example.org", "mbox")),
        ({"mbox_sha1sum": "ABC123"}, ("sha1:abc123", "mbox_sha1sum")),
        ({"openid": "https://id.example.org/ann"}, ("https://id.example.org/ann", "openid")),
        ({"objectType": "Group", "member": []}, (None, "anonymous group")),
        ({}, (None, "no identifier")),
    ],
)
def test_actors_by_account_or_mbox(actor: dict[str, Any], expected: tuple[Any, str]) -> None:
    assert actor_id(actor) == expected


def test_account_with_home_page_option() -> None:
    actor = {"account": {"homePage": "https://lms.example.org/", "name": "u7"}}
    assert actor_id(actor, how="home_page_and_name") == ("https://lms.example.org/u7", "account")


def test_scores_course_voiding_and_skips() -> None:
    course = {
        "contextActivities": {
            "grouping": [
                {"id": "C9", "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}
            ]
        }
    }
    statements = [
        statement(
            "http://adlnet.gov/expapi/verbs/passed",
            id="p1",
            result={"score": {"scaled": 0.85}},
            context=course,
        ),
        statement("http://adlnet.gov/expapi/verbs/failed", id="f1", result={"score": {"raw": 12}}),
        statement(
            "http://adlnet.gov/expapi/verbs/voided",
            id="v1",
            object={"objectType": "StatementRef", "id": "f1"},
        ),
        statement("http://adlnet.gov/expapi/verbs/completed", id="c1", timestamp="yesterday"),
        statement("http://adlnet.gov/expapi/verbs/completed", id="c2", actor={}),
        statement("https://w3id.org/xapi/video/verbs/seeked", id="s1"),
    ]
    result = statements_to_activity(statements, source="literal")
    activity = result.tables["activity"]
    assert activity["event_id"].tolist() == ["p1"]
    row = activity.iloc[0]
    assert row["value"] == pytest.approx(85.0) and row["course_id"] == "C9"
    assert row["user_id"] == "ann@example.org"
    assert row["timestamp"] == pd.Timestamp("2026-11-20T09:00:00Z")
    counts = result.report.counts
    assert counts["voided statements removed"] == 1
    assert counts["skipped: timestamp not ISO 8601"] == 1
    assert counts["skipped: actor: no identifier"] == 1
    assert counts["skipped: seeked without a progress share"] == 1


# --------------------------------------------------------------------------- a real LRS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def ralph_lrs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A running ralph LRS on a free loopback port holding 250 sample statements."""
    if not RALPH.exists():
        message = f"ralph is not installed at {RALPH}; run scripts/install-ralph.sh"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    home = tmp_path_factory.mktemp("ralph")
    env = {
        **os.environ,
        "RALPH_APP_DIR": str(home / "app"),
        "RALPH_RUNSERVER_BACKEND": "fs",
    }
    subprocess.run(
        [
            str(RALPH),
            "auth",
            "-u",
            LRS_USER,
            "-p",
            LRS_PASSWORD,
            "-s",
            "all",
            "-M",
            "mailto:gapdesk@example.org",
            "-w",
        ],
        env=env,
        cwd=home,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    log = (home / "ralph.log").open("wb")
    server = subprocess.Popen(
        [str(RALPH), "runserver", "-b", "fs", "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/__heartbeat__", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("ralph did not start:\n" + (home / "ralph.log").read_text()[-2000:])
            time.sleep(0.3)
        body = json.dumps(sample_statements(250)).encode()
        request = urllib.request.Request(  # noqa: S310 (loopback http)
            base + "/xAPI/statements",
            data=body,
            method="POST",
            headers={
                "Authorization": basic(LRS_USER, LRS_PASSWORD),
                "Content-Type": "application/json",
                "X-Experience-API-Version": "1.0.3",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            assert len(json.loads(answer.read())) == 250
        yield base, 250
    finally:
        # ralph's runserver starts uvicorn as a child: end the whole group we started.
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def test_live_lrs_pages_through_more_links(ralph_lrs: tuple[str, int]) -> None:
    base, loaded = ralph_lrs
    result = import_xapi_lrs(base, username=LRS_USER, password=LRS_PASSWORD, limit=40)
    assert result.report.counts["statements read"] == loaded  # 7 pages of at most 40
    expected = statements_to_activity(sample_statements(250), source="file").tables["activity"]
    got = result.tables["activity"].sort_values("event_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.sort_values("event_id").reset_index(drop=True))


def test_live_lrs_since(ralph_lrs: tuple[str, int]) -> None:
    base, loaded = ralph_lrs
    future = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)
    later = import_xapi_lrs(base, username=LRS_USER, password=LRS_PASSWORD, since=future)
    assert later.report.counts["statements read"] == 0
    earlier = import_xapi_lrs(
        base, username=LRS_USER, password=LRS_PASSWORD, since="2000-01-01T00:00:00"
    )
    assert earlier.report.counts["statements read"] == loaded


def test_live_lrs_wrong_password_is_a_clear_401(ralph_lrs: tuple[str, int]) -> None:
    base, _ = ralph_lrs
    with pytest.raises(UserError, match=r"refused the credentials \(HTTP 401\)"):
        import_xapi_lrs(base, username=LRS_USER, password="wrong")


# --------------------------------------------------------------------------- misbehaving LRS


@pytest.fixture
def bad_lrs() -> Iterator[Any]:
    """A local HTTP server whose answer each test chooses: status, body and delay."""
    behaviour: dict[str, Any] = {"status": 200, "body": b"{}", "delay": 0.0, "headers": {},
                                 "seen": []}  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            behaviour["seen"].append((self.path, self.headers.get("Authorization")))
            time.sleep(behaviour["delay"])
            self.send_response(behaviour["status"])
            self.send_header("Content-Type", "application/json")
            for name, value in behaviour["headers"].items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(OSError):  # the client may have given up already
                self.wfile.write(behaviour["body"])

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    behaviour["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield behaviour
    server.shutdown()
    server.server_close()


def test_lrs_answering_500(bad_lrs: dict[str, Any]) -> None:
    bad_lrs.update(status=500, body=b"database exploded")
    with pytest.raises(UserError, match="answered HTTP 500: database exploded"):
        import_xapi_lrs(bad_lrs["url"], username="u", password="p")


def test_lrs_answering_garbage(bad_lrs: dict[str, Any]) -> None:
    bad_lrs.update(body=b"<html>hello</html>")
    with pytest.raises(UserError, match="not JSON: '<html>hello</html>'"):
        import_xapi_lrs(bad_lrs["url"], username="u", password="p")


def test_lrs_answering_json_that_is_not_a_statement_result(bad_lrs: dict[str, Any]) -> None:
    bad_lrs.update(body=b'{"hello": "world"}')
    with pytest.raises(UserError, match="not an xAPI StatementResult"):
        import_xapi_lrs(bad_lrs["url"], username="u", password="p")


def test_lrs_timing_out(bad_lrs: dict[str, Any]) -> None:
    bad_lrs.update(delay=2.0)
    with pytest.raises(UserError, match=r"did not answer within 0.3 s"):
        import_xapi_lrs(bad_lrs["url"], username="u", password="p", timeout=0.3)


def test_lrs_more_link_that_leaves_the_lrs(bad_lrs: dict[str, Any]) -> None:
    bad_lrs.update(body=b'{"statements": [], "more": "http://elsewhere.example/x"}')
    with pytest.raises(UserError, match="leaves the LRS"):
        import_xapi_lrs(bad_lrs["url"], username="u", password="p")


@pytest.fixture
def other_lrs() -> Iterator[Any]:
    """A second server (another origin), to see what reaches it."""
    yield from _second_server()


def _second_server() -> Iterator[dict[str, Any]]:
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"statements": []}')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}", "seen": seen}
    server.shutdown()
    server.server_close()


def test_lrs_more_link_keeps_scheme_and_origin(
    bad_lrs: dict[str, Any], other_lrs: dict[str, Any]
) -> None:
    port = bad_lrs["url"].rsplit(":", 1)[1]
    for more in [f"https://127.0.0.1:{port}/xAPI/statements?page=2",  # same host, other scheme
                 f"{other_lrs['url']}/xAPI/statements?page=2",  # same host, other port
                 f"//localhost:{port}/xAPI/statements"]:  # fmt: skip
        bad_lrs.update(body=json.dumps({"statements": [], "more": more}).encode())
        with pytest.raises(UserError, match="leaves the LRS"):
            import_xapi_lrs(bad_lrs["url"], username="u", password="p")
    assert other_lrs["seen"] == []


def test_lrs_redirects_are_not_followed_with_credentials(
    bad_lrs: dict[str, Any], other_lrs: dict[str, Any]
) -> None:
    for status in (301, 302, 307, 308):
        bad_lrs.update(status=status, headers={"Location": f"{other_lrs['url']}/steal"})
        with pytest.raises(UserError, match=f"redirected \\(HTTP {status}\\) to "):
            import_xapi_lrs(bad_lrs["url"], username="u", password="secret")
    assert other_lrs["seen"] == []  # the credentials never left the LRS's origin
    assert all(auth and auth.startswith("Basic ") for _, auth in bad_lrs["seen"])


def test_deeply_nested_json_is_a_clear_error(bad_lrs: dict[str, Any], tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    bad_lrs.update(body=('{"statements": [' + deep + "]}").encode())
    with pytest.raises(UserError, match=f"nested more than {MAX_DEPTH} levels"):
        import_xapi_lrs(bad_lrs["url"], username="u", password="p")
    lines = tmp_path / "deep.jsonl"
    lines.write_text('{"id": "ok"}\n{"a": ' + deep + "}\n")
    with pytest.raises(UserError, match=r"line 2 of deep\.jsonl is nested more than"):
        import_xapi_file(lines)
    array = tmp_path / "deep.json"
    array.write_text("[" + '{"x": ' * 500 + "1" + "}" * 500 + "]")  # parses, yet too deep
    with pytest.raises(UserError, match=r"deep\.json is nested more than"):
        import_xapi_file(array)


def test_lrs_not_listening() -> None:
    with pytest.raises(UserError, match="cannot reach the LRS"):
        import_xapi_lrs(f"http://127.0.0.1:{free_port()}", username="u", password="p")


def test_lrs_address_must_be_http() -> None:
    with pytest.raises(UserError, match="must be an http"):
        import_xapi_lrs("file:///etc/passwd", username="u", password="p")
