"""AppTest of the Data page's flow: upload real exports, see what each became and what it lets
Gapdesk check, store it (the Accept button goes), run detection on it; a rejection shows its
problems at once and no temporary path; an upload named `..`, a gzip bomb, another
organisation's snapshot, and server folders inside GAPDESK_INGEST_ROOTS only."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from app.core.db import build_engine, session_scope, upgrade
from app.core.records import SnapshotRecord
from app.core.settings import get_settings
from app.demo.set_up import ensure_demo_accounts
from app.web.navigation import PAGES
from review_queue.tables import Role
from tests.app.sources.conftest import SHARED_LMS, VALID_CSV
from tests.helpers.apptest import open_app, shown, sign_in

MOODLE_LOG = SHARED_LMS / "moodle_course_activity_log.csv"
needs_shared = pytest.mark.skipif(not MOODLE_LOG.exists(), reason="../shared/data/lms is absent")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, str, str]]:
    home = tmp_path / "home"
    url = f"sqlite:///{tmp_path / 'gapdesk.db'}"
    monkeypatch.setenv("GAPDESK_HOME", str(home))
    monkeypatch.setenv("GAPDESK_DATABASE_URL", url)
    monkeypatch.delenv("GAPDESK_INGEST_ROOTS", raising=False)
    get_settings.cache_clear()
    from app.web import units

    units._engine.clear()
    engine = build_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        admin = next(a for a in ensure_demo_accounts(session=session) if a.role == Role.admin)
    yield engine, admin.name, admin.password or ""
    units._engine.clear()
    engine.dispose()
    get_settings.cache_clear()


def _data_page(site: tuple[Engine, str, str]) -> AppTest:
    at = sign_in(open_app(), site[1], site[2])
    at.switch_page(str(next(p for p in PAGES if p.file == "admin/data.py").path)).run()
    assert not at.exception, at.exception
    return at


def _upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.file_uploader[0].set_value(
        [(name, data, "application/octet-stream") for name, data in files]
    )
    next(b for b in at.button if b.label == "Validate").click().run(timeout=120)
    assert not at.exception, at.exception
    return at


def _contract(*names: str) -> list[tuple[str, bytes]]:
    return [(f"{n}.csv", VALID_CSV[n].encode()) for n in names]


def _everything_shown(at: AppTest) -> str:
    kinds = ("error", "info", "warning", "success", "caption", "markdown", "code")
    parts = [e.value for kind in kinds for e in getattr(at, kind)]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(str(p) for p in parts)


def _plain(at: AppTest) -> str:
    """The Markdown and captions as a person reads them (escapes taken out)."""
    return " ".join(e.value.replace("\\", "") for e in [*at.markdown, *at.caption])


def _stored(engine: Engine) -> list[SnapshotRecord]:
    with Session(engine) as session:
        return list(session.exec(select(SnapshotRecord)))


def _frame(at: AppTest, column: str) -> pd.DataFrame:
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert frames, f"no table with a {column!r} column"
    return frames[0]


@needs_shared
def test_a_real_moodle_log_goes_in_and_detection_runs_on_it(site: tuple[Engine, str, str]) -> None:
    at = _data_page(site)
    assert any("None yet" in c.value for c in at.caption)
    assert any("at most 2 GiB unpacked and 50,000,000 rows" in c.value for c in at.caption)
    at.text_input(key="opt_year").input("2021")
    _upload(at, [(MOODLE_LOG.name, MOODLE_LOG.read_bytes())])
    validated = "Validated: 19,010 rows in 3 tables, as of 2021-"  # the Year option was used
    assert any(i.value.startswith(validated) for i in at.info)
    became = _frame(at, "recognised as").set_index("table")
    assert became.loc["activity", "rows"] == 18_896 and became.loc["lms_users", "rows"] == 113
    assert set(became["source"]) == {MOODLE_LOG.name}
    left_out = _frame(at, "why")
    assert "not learner activity" in left_out.iloc[0]["why"]
    coverage = _frame(at, "what is missing").set_index("detector")
    assert coverage.loc["access_failure", "checked"] == "yes"
    assert coverage.loc["unowned_course", "checked"] == "no"
    assert "/tmp" not in _everything_shown(at)

    next(b for b in at.button if b.label == "Accept and store this snapshot").click().run()
    assert not at.exception, at.exception
    (record,) = _stored(site[0])
    assert at.success[0].value.startswith(f"Stored as snapshot {record.id}")
    assert "Accept and store this snapshot" not in [b.label for b in at.button]
    current = _plain(at)
    assert f"Snapshot {record.id}, stored " in current and "113 users, 1 courses" in current
    assert "18,896 activity events" in current

    next(b for b in at.button if b.label == f"Run detection on snapshot {record.id}").click().run(
        timeout=300
    )
    assert not at.exception, at.exception
    assert any(i.value.startswith(f"Detection run #1 on snapshot {record.id}") for i in at.info)
    assert "What this run checked" in [c.value for c in at.caption]


def test_a_rejection_shows_its_problems_at_once_and_no_temporary_path(
    site: tuple[Engine, str, str],
) -> None:
    at = _upload(_data_page(site), _contract("lms_users"))
    refusal = shown(at.error[0].value)
    assert refusal.startswith("Rejected, nothing was stored: the snapshot was rejected")
    report = at.code[0].value
    assert "courses" in report and "Snapshot rejected" in report
    on_page = _everything_shown(at)
    assert "/tmp" not in on_page and "gapdesk-page-" not in on_page
    assert "Accept and store this snapshot" not in [b.label for b in at.button]
    assert _stored(site[0]) == []


def test_an_upload_named_dot_dot_does_not_crash(site: tuple[Engine, str, str]) -> None:
    at = _upload(_data_page(site), [("..", VALID_CSV["lms_users"].encode()), *_contract("courses")])
    assert "The upload named '..' was read as 'upload' (a safe file name)." in _plain(at)
    assert at.info[-1].value.startswith("Validated:")


def test_a_gzip_bomb_is_refused_and_nothing_is_stored(
    site: tuple[Engine, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAPDESK_UPLOAD_MAX_BYTES", str(8 * 1024**2))
    get_settings.cache_clear()
    bomb = gzip.compress(b"user_id,status\n" + b"u1,active\n" * 3_000_000, compresslevel=9)
    at = _data_page(site)
    assert any("at most 8 MiB unpacked" in c.value for c in at.caption)
    _upload(at, [("lms_users.csv.gz", bomb), *_contract("courses")])
    assert shown(at.error[0].value) == "Rejected, nothing was stored:"
    assert "GAPDESK_UPLOAD_MAX_BYTES" in at.code[0].value
    assert "lms_users.csv.gz" in at.code[0].value
    assert _stored(site[0]) == []


def test_another_organisation_asks_before_it_becomes_current(
    site: tuple[Engine, str, str],
) -> None:
    at = _upload(_data_page(site), _contract("lms_users", "courses"))
    assert not at.warning
    next(b for b in at.button if b.label == "Accept and store this snapshot").click().run()
    other = [
        ("lms_users.csv", b"user_id,status\nx1,active\nx2,active\n"),
        ("courses.csv", b"course_id,title,is_compliance,status\nK1,Other,no,active\n"),
        ("snapshot.toml", b'as_of = "2026-11-27T00:00:00Z"\n'),
    ]
    _upload(at, other)
    assert at.warning, _everything_shown(at)
    warning = at.warning[0].value
    assert "shares few users or courses with the current one" in warning
    assert "shares 0 of 2 user ids (0%) and 0 of 1 course ids (0%)" in warning
    accept = next(b for b in at.button if b.label == "Accept and store this snapshot")
    assert accept.disabled
    at.checkbox(key="confirm_new").check().run()
    accept = next(b for b in at.button if b.label == "Accept and store this snapshot")
    assert not accept.disabled
    accept.click().run()
    assert not at.exception, at.exception
    assert len(_stored(site[0])) == 2
    assert "2 users, 1 courses" in _plain(at)


def test_server_folders_only_inside_the_configured_roots(
    site: tuple[Engine, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _data_page(site)
    assert any("GAPDESK_INGEST_ROOTS" in i.value for i in at.info)
    root = tmp_path / "exports"
    (root / "week1").mkdir(parents=True)
    for name, data in _contract("lms_users", "courses"):
        (root / "week1" / name).write_bytes(data)
    monkeypatch.setenv("GAPDESK_INGEST_ROOTS", str(root))
    get_settings.cache_clear()
    at = _data_page(site)
    at.text_input(key="folder_path").input(f"{root}/week1/../../home")
    [b for b in at.button if b.label == "Validate"][-1].click().run()
    assert "outside the folders Gapdesk may read" in at.code[0].value
    at.text_input(key="folder_path").input(str(root / "week1"))
    [b for b in at.button if b.label == "Validate"][-1].click().run()
    assert not at.exception, at.exception
    assert at.info[-1].value.startswith("Validated:")


def test_a_file_that_is_no_export_fails_at_once_naming_it(site: tuple[Engine, str, str]) -> None:
    at = _upload(_data_page(site), [("notes.txt", b"remember to export the grades\n"),
                                    *_contract("lms_users", "courses")])  # fmt: skip
    error = shown(at.error[0].value)
    assert error.startswith("Rejected, nothing was stored: 1 of 3 source(s) cannot go in")
    assert "notes.txt:" in error and "/tmp" not in error
    failed = _frame(at, "why")
    assert list(failed["what"]) == ["failed"] and list(failed["source"]) == ["notes.txt"]
    assert "Accept and store this snapshot" not in [b.label for b in at.button]
