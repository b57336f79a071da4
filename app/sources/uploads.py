"""Uploaded files staged as a snapshot folder, so uploads and folders take the same path in."""

from __future__ import annotations

import io
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import pandas as pd

from app.core.errors import UserError

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")


class Upload(Protocol):
    """What an uploaded file offers (Streamlit's UploadedFile fits)."""

    name: str

    def getvalue(self) -> bytes: ...


@contextmanager
def staged_upload(files: Iterable[Upload], *, mapping: Upload | None = None) -> Iterator[Path]:
    """A temporary folder holding the uploads under their own (checked) names; removed after."""
    folder = Path(tempfile.mkdtemp(prefix="gapdesk-upload-"))
    try:
        for upload in files:
            name = Path(upload.name).name
            if not _SAFE_NAME.fullmatch(name):
                raise UserError(f"file name {upload.name!r} has characters Gapdesk does not accept")
            data = upload.getvalue()
            if not data:
                raise UserError(f"{name} is empty (0 bytes)")
            (folder / name).write_bytes(data)
        if mapping is not None:
            (folder.parent / f"{folder.name}-mapping.toml").write_bytes(mapping.getvalue())
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        (folder.parent / f"{folder.name}-mapping.toml").unlink(missing_ok=True)


def mapping_path(folder: Path) -> Path:
    """Where staged_upload put the mapping file for ``folder``."""
    return folder.parent / f"{folder.name}-mapping.toml"


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
