"""Uploads staged under safe names and streamed through the byte and row caps (uploads.py):
gzip, zip and tar are unpacked on the fly, so a small bomb is refused without filling memory."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from app.core.errors import UserError
from app.sources.uploads import UploadLimits, check_upload_limits, safe_name, stage_uploads
from tests.app.sources.conftest import SHARED_LMS

ROWS = b"user_id,status\n" + b"u1,active\n" * 200_000  # 2 MB, 200,001 lines


class Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data = name, data

    def getvalue(self) -> bytes:
        return self.data


@pytest.mark.parametrize(
    ("given", "safe"),
    [("..", "upload"), (".", "upload"), ("../../etc/passwd", "passwd"), ("a\\b\\c.csv", "c.csv"),
     (".env", "env"), ("x y;z.csv.gz", "x_y_z.csv.gz"), ("", "upload"), ("a\x00.csv", "a.csv"),
     ("é.csv", "_.csv"), ("n" * 300 + ".csv", "n" * 116 + ".csv")],
)  # fmt: skip
def test_safe_names(given: str, safe: str) -> None:
    assert safe_name(given) == safe


def test_names_never_collide(tmp_path: Path) -> None:
    staged = stage_uploads(
        [Upload("a/log.csv", b"1"), Upload("b/log.csv", b"2"), Upload("..", b"3")], tmp_path / "s"
    )
    assert staged.names == {"log.csv": "a/log.csv", "log-2.csv": "b/log.csv", "upload": ".."}
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["log-2.csv", "log.csv", "upload"]
    assert staged.renamed == {"a/log.csv": "log.csv", "b/log.csv": "log-2.csv", "..": "upload"}


def test_an_empty_upload_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"'people\.csv' is empty"):
        stage_uploads([Upload("people.csv", b"")], tmp_path / "s")


def _check(tmp_path: Path, name: str, data: bytes, limits: UploadLimits) -> None:
    staged = stage_uploads([Upload(name, data)], tmp_path / name.replace(".", "_"))
    check_upload_limits(staged, limits)


def _zip(inner: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in inner.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tgz(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data"),
    [("people.csv", ROWS), ("people.csv.gz", gzip.compress(ROWS)),
     ("export.zip", _zip({"in/people.csv.gz": gzip.compress(ROWS)})),
     ("export.tar.gz", _tgz("people.csv", ROWS))],
)  # fmt: skip
def test_every_container_counts_what_it_unpacks_to(tmp_path: Path, name: str, data: bytes) -> None:
    _check(tmp_path, name, data, UploadLimits(max_bytes=len(ROWS), max_rows=200_001))
    with pytest.raises(UserError, match=r"unpacks to more than .* GAPDESK_UPLOAD_MAX_BYTES"):
        _check(tmp_path / "b", name, data, UploadLimits(max_bytes=len(ROWS) - 1, max_rows=10**9))
    with pytest.raises(UserError, match=r"more than 200,000 rows .* GAPDESK_UPLOAD_MAX_ROWS"):
        _check(tmp_path / "r", name, data, UploadLimits(max_bytes=10**12, max_rows=200_000))


def test_the_caps_count_all_uploads_together(tmp_path: Path) -> None:
    staged = stage_uploads([Upload("a.csv", ROWS), Upload("b.csv", ROWS)], tmp_path / "s")
    with pytest.raises(UserError, match=r"reached in b.csv"):
        check_upload_limits(staged, UploadLimits(max_bytes=len(ROWS) + 10, max_rows=10**9))


def test_parquet_rows_come_from_its_metadata(tmp_path: Path) -> None:
    path = tmp_path / "activity.parquet"
    pd.DataFrame({"event_id": [f"e{i}" for i in range(5000)]}).to_parquet(path)
    _check(tmp_path, "activity.parquet", path.read_bytes(), UploadLimits(10**9, 5000))
    with pytest.raises(UserError, match="more than 4,999 rows"):
        _check(tmp_path / "r", "activity.parquet", path.read_bytes(), UploadLimits(10**9, 4999))


def test_a_damaged_archive_is_a_clear_message(tmp_path: Path) -> None:
    packed = gzip.compress(ROWS)
    with pytest.raises(UserError, match=r"people\.csv\.gz is damaged"):
        _check(tmp_path, "people.csv.gz", packed[: len(packed) // 2], UploadLimits(10**9, 10**9))


def test_the_limits_are_said_in_words() -> None:
    words = UploadLimits(max_bytes=2 * 1024**3, max_rows=50_000_000).describe()
    assert words.startswith("at most 2 GiB unpacked and 50,000,000 rows in all")


XLSX = SHARED_LMS / "more" / "moodle_logs" / "ivansandev_Logs_Course_A_StudentsActivities.xlsx"


@pytest.mark.skipif(not XLSX.exists(), reason="../shared/data/lms is absent")
def test_an_excel_sheet_counts_its_rows(tmp_path: Path) -> None:
    # The real Moodle log saved from Excel: 28,090 rows (header included) in its one sheet; the
    # workbook's other XML parts add a line or so each.
    data = XLSX.read_bytes()
    _check(tmp_path, XLSX.name, data, UploadLimits(10**12, 28_100))
    with pytest.raises(UserError, match=r"more than 28,089 rows .*worksheets"):
        _check(tmp_path / "r", XLSX.name, data, UploadLimits(10**12, 28_089))
