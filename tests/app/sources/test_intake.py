"""The Data page's intake (app/sources/intake.py): server paths only inside GAPDESK_INGEST_ROOTS,
uploads named by their own names (never a temporary path), streamed upload limits, the reading
options checked, and the same pipeline as `gapdesk ingest`."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.errors import UserError
from app.core.records import SnapshotRecord
from app.core.settings import get_settings
from app.sources.convert import IngestOptions
from app.sources.intake import (
    ROOTS_OFF,
    intake_options,
    prepare_intake,
    prepare_server_folder,
    prepare_uploads,
    server_source,
    store_intake,
)
from review_queue.permissions import SYSTEM
from tests.app.sources.conftest import SHARED_LMS, VALID_CSV

MOODLE_LOG = SHARED_LMS / "moodle_course_activity_log.csv"


class Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data = name, data

    def getvalue(self) -> bytes:
        return self.data


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "exports"
    (root / "week1").mkdir(parents=True)
    for name in ("lms_users", "courses"):
        (root / "week1" / f"{name}.csv").write_text(VALID_CSV[name], encoding="utf-8")
    monkeypatch.setenv("GAPDESK_INGEST_ROOTS", str(root))
    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


def _contract_uploads(*names: str) -> list[Upload]:
    return [Upload(f"{n}.csv", VALID_CSV[n].encode()) for n in names]


# ------------------------------------------------------------------ server folders


def test_server_folders_are_off_until_roots_are_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GAPDESK_INGEST_ROOTS", raising=False)
    get_settings.cache_clear()
    with pytest.raises(UserError) as refused:
        server_source(str(tmp_path))
    assert str(refused.value) == ROOTS_OFF
    assert "GAPDESK_INGEST_ROOTS" in ROOTS_OFF
    get_settings.cache_clear()


def test_a_path_inside_a_root_is_read(roots: Path, tmp_path: Path) -> None:
    assert server_source(str(roots / "week1")) == (roots / "week1").resolve()
    intake = prepare_server_folder(
        actor=SYSTEM, path=str(roots / "week1"), options=IngestOptions(), workdir=tmp_path / "w"
    )
    assert intake.accepted, intake.report


@pytest.mark.parametrize("escape", ["/etc", "{root}/../..", "{root}/week1/../../outside"])
def test_a_path_outside_the_roots_is_refused(roots: Path, escape: str) -> None:
    (roots.parent / "outside").mkdir(exist_ok=True)
    path = escape.format(root=roots)
    with pytest.raises(UserError, match="outside the folders Gapdesk may read") as refused:
        server_source(path)
    assert "nothing was read" in str(refused.value)


def test_a_link_leading_out_of_the_roots_is_refused(roots: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "lms_users.csv").write_text(VALID_CSV["lms_users"], encoding="utf-8")
    (roots / "link").symlink_to(secret)
    with pytest.raises(UserError, match="outside the folders"):
        server_source(str(roots / "link"))
    # A link inside a folder that is itself inside the roots is found too.
    (roots / "week1" / "people.csv").symlink_to(secret / "lms_users.csv")
    with pytest.raises(UserError, match=r"holds a link \(people.csv\) leading outside"):
        server_source(str(roots / "week1"))


def test_a_link_staying_inside_the_roots_is_fine(roots: Path) -> None:
    (roots / "again").symlink_to(roots / "week1")
    assert server_source(str(roots / "again")) == (roots / "week1").resolve()


def test_a_relative_or_missing_path_is_a_clear_message(roots: Path) -> None:
    with pytest.raises(UserError, match="not an absolute path"):
        server_source("week1")
    with pytest.raises(UserError, match="does not exist"):
        server_source(str(roots / "nope"))
    with pytest.raises(UserError, match="type the path"):
        server_source("  ")


# ------------------------------------------------------------------ uploads


def test_uploads_go_in_named_by_their_own_names(
    db: Engine, gapdesk_home: Path, tmp_path: Path
) -> None:
    intake = prepare_uploads(
        actor=SYSTEM, uploads=_contract_uploads("lms_users", "courses", "enrollments"),
        options=IngestOptions(), workdir=tmp_path / "w",
    )  # fmt: skip
    assert intake.accepted, intake.report
    assert {c.shown for c in intake.conversions} == {
        "lms_users.csv", "courses.csv", "enrollments.csv"
    }  # fmt: skip
    assert intake.origin == "upload: lms_users.csv, courses.csv, enrollments.csv"
    outcome = store_intake(engine=db, actor=SYSTEM, intake=intake)
    assert outcome.record.row_counts["enrollments"] == 3
    assert str(tmp_path) not in outcome.record.origin + outcome.record.source


def test_a_rejection_names_the_problems_and_never_a_temporary_path(
    db: Engine, gapdesk_home: Path, tmp_path: Path
) -> None:
    # An enrolment naming a course that is not in the snapshot: rejected by validation.
    intake = prepare_uploads(
        actor=SYSTEM,
        uploads=[*_contract_uploads("lms_users"), Upload("courses.csv", b"course_id,title\n")],
        options=IngestOptions(), workdir=tmp_path / "w",
    )  # fmt: skip
    assert not intake.accepted
    assert intake.problem and "nothing was stored" in intake.problem
    shown = intake.problem + intake.report + repr(intake.conversion_rows())
    assert str(tmp_path) not in shown and "gapdesk-" not in shown and "/tmp" not in shown
    with pytest.raises(UserError):
        store_intake(engine=db, actor=SYSTEM, intake=intake)
    with Session(db) as session:
        assert session.exec(select(SnapshotRecord)).first() is None


def test_a_missing_table_is_reported_without_the_work_folder(tmp_path: Path) -> None:
    intake = prepare_uploads(
        actor=SYSTEM, uploads=_contract_uploads("lms_users"), options=IngestOptions(),
        workdir=tmp_path / "w",
    )  # fmt: skip
    assert not intake.accepted and "courses" in intake.report
    assert str(tmp_path) not in intake.report + (intake.problem or "")


def test_an_upload_named_dot_dot_is_read_under_a_safe_name(tmp_path: Path) -> None:
    intake = prepare_uploads(
        actor=SYSTEM,
        uploads=[Upload("..", VALID_CSV["lms_users"].encode()), *_contract_uploads("courses")],
        options=IngestOptions(), workdir=tmp_path / "w",
    )  # fmt: skip
    assert intake.renamed == {"..": "upload"}
    assert intake.accepted, intake.report
    assert not (tmp_path / "lms_users.csv").exists() and not (tmp_path / "upload").exists()


def test_a_gzip_bomb_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAPDESK_UPLOAD_MAX_BYTES", str(8 * 1024**2))
    get_settings.cache_clear()
    bomb = gzip.compress(b"user_id,status\n" + b"u1,active\n" * 3_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    try:
        with pytest.raises(UserError, match="GAPDESK_UPLOAD_MAX_BYTES") as refused:
            prepare_uploads(
                actor=SYSTEM, uploads=[Upload("lms_users.csv.gz", bomb)],
                options=IngestOptions(), workdir=tmp_path / "w",
            )  # fmt: skip
        assert "lms_users.csv.gz" in str(refused.value) and "nothing was stored" in str(
            refused.value
        )
        assert str(tmp_path) not in str(refused.value)
    finally:
        get_settings.cache_clear()


def test_too_many_rows_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAPDESK_UPLOAD_MAX_ROWS", "2")
    get_settings.cache_clear()
    try:
        with pytest.raises(UserError, match=r"more than 2 rows.*GAPDESK_UPLOAD_MAX_ROWS"):
            prepare_uploads(
                actor=SYSTEM, uploads=_contract_uploads("lms_users", "courses"),
                options=IngestOptions(), workdir=tmp_path / "w",
            )  # fmt: skip
    finally:
        get_settings.cache_clear()


@pytest.mark.skipif(not MOODLE_LOG.exists(), reason="../shared/data/lms is absent")
def test_a_real_moodle_log_upload_reports_each_table_and_what_was_left_out(
    tmp_path: Path,
) -> None:
    intake = prepare_uploads(
        actor=SYSTEM, uploads=[Upload(MOODLE_LOG.name, MOODLE_LOG.read_bytes())],
        options=intake_options(year="2021"), workdir=tmp_path / "w",
    )  # fmt: skip
    assert intake.accepted, intake.report
    rows = {r["table"]: r["rows"] for r in intake.conversion_rows()}
    assert rows == {"activity": 18_896, "lms_users": 113, "courses": 1}
    left = intake.left_out_rows()
    assert left and left[0]["what"] == "left out" and "not learner activity" in left[0]["why"]
    assert intake.result is not None and intake.result.snapshot is not None
    assert intake.result.snapshot.as_of.year == 2021


# ------------------------------------------------------------------ the same pipeline as the CLI


def test_prepare_intake_reads_a_contract_folder_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "snap"
    folder.mkdir()
    for name in ("lms_users", "courses"):
        (folder / f"{name}.csv").write_text(VALID_CSV[name], encoding="utf-8")
    intake = prepare_intake(
        actor=SYSTEM, sources=[folder], options=IngestOptions(), workdir=tmp_path / "w"
    )
    assert intake.accepted and intake.conversions == []
    assert intake.origin == str(folder.resolve())


def test_a_failed_conversion_keeps_its_report_and_stores_nothing(tmp_path: Path) -> None:
    odd = tmp_path / "notes.csv"
    odd.write_text("a,b\n1,2\n", encoding="utf-8")
    intake = prepare_intake(
        actor=SYSTEM, sources=[odd], options=IngestOptions(), workdir=tmp_path / "w"
    )
    assert not intake.accepted and intake.result is None
    assert intake.problem and "cannot go in, so nothing was stored" in intake.problem
    assert [r["status"] for r in intake.conversion_rows()] == ["FAILED"]


# ------------------------------------------------------------------ reading options


def test_reading_options_are_checked_like_the_cli_s() -> None:
    options = intake_options(
        format="moodle-log", year="2021", timezone="Europe/Madrid", encoding="latin-1",
        day_first=True, as_of="2021-06-01T06:00",
    )  # fmt: skip
    assert options.format == "moodle-log" and options.year == 2021
    assert options.timezone == "Europe/Madrid" and options.encoding == "latin-1"
    assert options.day_first is True and options.as_of is not None
    assert options.as_of.isoformat() == "2021-06-01T06:00:00+00:00"
    assert intake_options() == IngestOptions()
    for kwargs, message in [
        ({"year": "21st"}, "is not a year"),
        ({"timezone": "Mars/Olympus"}, "not a time zone"),
        ({"encoding": "klingon"}, "encoding 'klingon'"),
        ({"as_of": "yesterday-ish"}, "not an ISO 8601 time"),
        ({"format": "word"}, "is not one Gapdesk reads"),
    ]:
        with pytest.raises(UserError, match=message):
            intake_options(**kwargs)  # type: ignore[arg-type]


def test_the_cli_and_the_page_share_the_intake() -> None:
    from app.cli import data as cli

    source = Path(cli.__file__).read_text(encoding="utf-8")
    assert "prepare_intake(" in source and "store_intake(" in source
    assert "convert_exports" not in source


XAPI = SHARED_LMS / "xapi_statements.jsonl.gz"


@pytest.mark.skipif(not XAPI.exists(), reason="../shared/data/lms is absent")
def test_several_uploads_compressed_or_not_merge_into_one_snapshot(tmp_path: Path) -> None:
    import io
    import zipfile

    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(MOODLE_LOG, f"logs/{MOODLE_LOG.name}")
    intake = prepare_uploads(
        actor=SYSTEM,
        uploads=[Upload("logs.zip", packed.getvalue()), Upload(XAPI.name, XAPI.read_bytes())],
        options=IngestOptions(), workdir=tmp_path / "w",
    )  # fmt: skip
    assert intake.accepted, intake.report
    shown = {c.shown: c.format for c in intake.conversions}
    assert shown == {f"logs.zip!logs/{MOODLE_LOG.name}": "moodle-log", XAPI.name: "xapi"}
    assert intake.result is not None and intake.result.snapshot is not None
    activity = intake.result.snapshot.tables["activity"]
    assert len(activity) > 18_896  # both sources' events in one table
