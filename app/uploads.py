"""Uploaded files staged as a snapshot folder, so uploads and folders take the same path in."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from app.errors import UserError

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
            if not _SAFE_NAME.match(name):
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
