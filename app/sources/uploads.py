"""Uploaded files staged as a folder, so uploads and server folders take the same path in.

The Data page stages uploads under safe names (:func:`safe_name`: an upload called ``..`` or
``a/b.csv`` is written as ``upload`` or ``b.csv``) and streams each through
:func:`check_upload_limits` before anything reads it as a table: gzip, zip and tar are unpacked
on the fly, bytes and rows counted, and the first chunk past ``GAPDESK_UPLOAD_MAX_BYTES`` or
``GAPDESK_UPLOAD_MAX_ROWS`` refuses the upload, so a small compressed bomb never fills memory.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import pandas as pd

from app.core.errors import UserError


class Upload(Protocol):
    """What an uploaded file offers (Streamlit's UploadedFile fits)."""

    name: str

    def getvalue(self) -> bytes: ...


def read_sample(data: bytes, *, rows: int = 5000) -> pd.DataFrame:
    """The first rows of an uploaded CSV, as text, for building a mapping."""
    if not data:
        raise UserError("the uploaded file is empty (0 bytes)")
    try:
        return pd.read_csv(io.BytesIO(data), dtype=str, nrows=rows, keep_default_na=False)
    except UnicodeDecodeError:
        raise UserError("the file is not UTF-8 text; save it as UTF-8 CSV and try again") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise UserError(f"the file cannot be read as CSV: {exc}") from None


# ----------------------------------------------------------------- the Data page's uploads

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_NAME = 120


def safe_name(name: str, *, taken: Iterable[str] = ()) -> str:
    """A file name to stage an upload under: the last part of ``name`` (``/`` and ``\\`` both
    count), characters other than letters, digits, ``_ . -`` as ``_``, no leading dot (so ``..``
    and ``.env`` cannot mean anything), at most 120 characters keeping the end (the suffixes
    say what the file is), and unlike every name in ``taken``."""
    last = re.split(r"[/\\]", name.replace("\x00", ""))[-1].strip()
    cleaned = _UNSAFE.sub("_", last).lstrip(".")[-MAX_NAME:].lstrip(".") or "upload"
    used = set(taken)
    stem, dot, rest = cleaned.partition(".")
    candidate, n = cleaned, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}{dot}{rest}"
    return candidate


@dataclass(frozen=True)
class Staged:
    """Uploads written to a folder: the folder, and each staged name → the upload's own name."""

    folder: Path
    names: dict[str, str]

    @property
    def renamed(self) -> dict[str, str]:
        """The uploads whose names had to change: their own name → the staged one."""
        return {given: staged for staged, given in self.names.items() if given != staged}


def stage_uploads(files: Iterable[Upload], folder: Path) -> Staged:
    """Write ``files`` into ``folder`` (created) under safe names; an empty upload is refused."""
    folder.mkdir(parents=True, exist_ok=False)
    names: dict[str, str] = {}
    for upload in files:
        data = upload.getvalue()
        name = safe_name(upload.name, taken=names)
        if not data:
            raise UserError(f"{upload.name!r} is empty (0 bytes)")
        (folder / name).write_bytes(data)
        names[name] = upload.name
    if not names:
        raise UserError("choose the files to upload first")
    return Staged(folder, names)


@dataclass(frozen=True)
class UploadLimits:
    """What the uploads together may unpack to (GAPDESK_UPLOAD_MAX_BYTES, _MAX_ROWS)."""

    max_bytes: int
    max_rows: int

    def describe(self) -> str:
        """The limits in words, for the page."""
        return (
            f"at most {_size(self.max_bytes)} unpacked and {self.max_rows:,} rows in all "
            "(GAPDESK_UPLOAD_MAX_BYTES, GAPDESK_UPLOAD_MAX_ROWS)"
        )


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


_CHUNK = 1024 * 1024
_MAX_NESTING = 4


class _Budget:
    """Bytes and rows read so far across every upload; refuses the first chunk past a cap."""

    def __init__(self, limits: UploadLimits) -> None:
        self.limits, self.bytes, self.rows = limits, 0, 0

    def take(self, chunk: bytes, shown: str, *, rows: int) -> None:
        self.bytes += len(chunk)
        self.rows += rows
        if self.bytes > self.limits.max_bytes:
            raise UserError(
                f"the upload unpacks to more than {_size(self.limits.max_bytes)} (reached in "
                f"{shown}), the limit GAPDESK_UPLOAD_MAX_BYTES sets; nothing was stored. Put "
                "the export in a server folder Gapdesk may read, or split it"
            )
        if self.rows > self.limits.max_rows:
            raise UserError(
                f"the upload holds more than {self.limits.max_rows:,} rows (reached in {shown}), "
                "the limit GAPDESK_UPLOAD_MAX_ROWS sets; nothing was stored. Put the export in a "
                "server folder Gapdesk may read, or split it"
            )


def _measure(stream: IO[bytes], shown: str, budget: _Budget, depth: int, sheet: bool) -> None:
    """Read ``stream`` through (never whole into memory), unpacking gzip, zip and tar inside,
    and count its bytes and rows (lines; an Excel sheet's ``<row`` elements) into ``budget``."""
    head = stream.read(512)
    if depth < _MAX_NESTING and head[:2] == b"\x1f\x8b":
        rest = _Prefixed(head, stream)
        with gzip.GzipFile(fileobj=rest) as inner:
            _measure(inner, shown, budget, depth + 1, False)  # type: ignore[arg-type]
        return
    if depth < _MAX_NESTING and head[:4] == b"PK\x03\x04" and stream.seekable():
        stream.seek(0)
        try:
            with zipfile.ZipFile(stream) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    member = info.filename
                    with zf.open(info) as inner:
                        in_sheet = member.startswith("xl/worksheets/")
                        _measure(inner, f"{shown}!{member}", budget, depth + 1, in_sheet)
        except zipfile.BadZipFile as exc:
            raise UserError(f"{shown} is a damaged zip archive: {exc}") from None
        return
    if depth < _MAX_NESTING and head[257:262] == b"ustar":
        with tarfile.open(fileobj=_Prefixed(head, stream), mode="r|") as tf:
            for entry in tf:
                extracted = tf.extractfile(entry) if entry.isfile() else None
                if extracted is not None:
                    _measure(extracted, f"{shown}!{entry.name}", budget, depth + 1, False)
        return
    if head[:4] == b"PAR1" and isinstance(getattr(stream, "name", None), str):
        import pyarrow.parquet as pq

        budget.take(b"", shown, rows=pq.read_metadata(stream.name).num_rows)
        chunk = head
        while chunk:  # the file's bytes count, its binary content holds no lines
            budget.take(chunk, shown, rows=0)
            chunk = stream.read(_CHUNK)
        return
    marker = b"<row " if sheet else b"\n"
    chunk, carry = head, b""
    while chunk:
        budget.take(chunk, shown, rows=(carry + chunk).count(marker))
        carry = chunk[-(len(marker) - 1) :] if len(marker) > 1 else b""
        chunk = stream.read(_CHUNK)


class _Prefixed(io.RawIOBase):
    """``head`` (already read) followed by the rest of ``stream``, as one readable stream."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head, self._stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def check_upload_limits(staged: Staged, limits: UploadLimits) -> None:
    """Refuse (UserError naming the upload) when the uploads together unpack to more bytes or
    rows than ``limits`` allow; each file is streamed, so a small bomb cannot fill memory."""
    budget = _Budget(limits)
    for name, given in staged.names.items():
        try:
            with open(staged.folder / name, "rb") as fh:
                _measure(fh, given, budget, 0, False)
        except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
            raise UserError(f"{given} is damaged and cannot be unpacked: {exc}") from None
