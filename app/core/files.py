"""Gapdesk's own folders and files are private: GAPDESK_HOME and the folders in it are created
0700, the database, snapshot, model and key files are 0600 (readable by the account that runs
Gapdesk only), whatever the umask."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700; an existing folder is left as it is."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is cut by the umask
    return path


def private_file(path: Path) -> Path:
    """Make an existing file 0600 (a no-op where it already is)."""
    if path.exists() and (path.stat().st_mode & 0o777) != PRIVATE_FILE:
        os.chmod(path, PRIVATE_FILE)
    return path


def touch_private(path: Path) -> Path:
    """Create ``path`` empty as 0600 if it does not exist (before another library opens it,
    so it is never readable by others, not even for a moment); tighten it if it does."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    return private_file(path)
