"""The files inside what an admin hands over: folders (walked), zip and tar archives (unpacked).

:func:`expand_sources` turns the paths given to ``gapdesk ingest`` into the list of files to
convert, each with its :class:`~app.sources.recognise.Recognition`. Archives are unpacked into a
work folder the caller owns (and removes); gzip stays on disk as it is, since every reader opens
it itself. A file named on the command line that cannot be used is an error; one found while
walking a folder or an archive is listed as skipped with the reason, so that a folder holding a
README beside its exports still goes in.
"""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from app.core.errors import UserError
from app.sources.recognise import FORMATS, NOT_UTF8, Recognition, recognise

SNAPSHOT_TOML = "snapshot.toml"
MAX_UNPACKED_BYTES = 64 * 1024**3  # a larger declared size is a zip bomb or a mistake
MAX_DEPTH = 4


@dataclass(frozen=True)
class Part:
    """One file to convert: where it is on disk, how the report names it, what it is."""

    path: Path
    shown: str
    recognition: Recognition
    named: bool  # given on the command line itself, not found inside a folder or archive


@dataclass
class Expanded:
    """The files found in the sources, the snapshot.toml files beside them, what was skipped."""

    parts: list[Part] = field(default_factory=list)
    meta: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _walk(folder: Path) -> Iterator[Path]:
    for item in sorted(folder.iterdir()):
        if item.name.startswith(".") or item.name == "__MACOSX":
            continue  # .DS_Store, ._resource forks, editors' swap files
        if item.is_dir():
            yield from _walk(item)
        elif item.is_file():
            yield item


def _unpack(archive: Path, kind: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=False)
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                declared = sum(info.file_size for info in zf.infolist())
                if declared > MAX_UNPACKED_BYTES:
                    raise UserError(
                        f"{archive.name} would unpack to {declared / 1024**3:.0f} GiB; "
                        "unpack it yourself and ingest the folder"
                    )
                zf.extractall(into)  # noqa: S202 (zipfile drops absolute paths and '..' itself)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(into, filter="data")  # refuses links and paths leaving `into`
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(f"{archive.name} is a damaged {kind} archive: {exc}") from None
    return into


def expand_sources(
    sources: list[Path],
    workdir: Path,
    *,
    encoding: str | None = None,
    shown_as: dict[Path, str] | None = None,
) -> Expanded:
    """Every file in ``sources`` (recursively, archives unpacked under ``workdir``), recognised.

    Reports name each file by its path, or, for a source in ``shown_as``, by the name given
    there (a folder's files by their path inside it when the name is empty): the Data page
    names uploads by their own names, never by the temporary folder they were staged in."""
    shown_as = shown_as or {}
    out = Expanded()
    counter = iter(range(1_000_000))

    def visit(path: Path, shown: str, named: bool, depth: int) -> None:
        if path.name == SNAPSHOT_TOML:
            out.meta.append(path)
            return
        found = recognise(path, encoding=encoding)
        if found.format in ("zip", "tar"):
            if depth >= MAX_DEPTH:
                out.skipped.append((shown, f"an archive nested more than {MAX_DEPTH} deep"))
                return
            folder = _unpack(path, found.format, workdir / f"unpacked-{next(counter)}")
            for inner in _walk(folder):
                visit(inner, f"{shown}!{inner.relative_to(folder).as_posix()}", False, depth + 1)
            return
        # An export Gapdesk knows but cannot read as it is (a latin-1 Moodle log) must fail
        # loudly; a file of no known format inside a folder (a README) is only skipped.
        if found.format in FORMATS or named or found.label == NOT_UTF8:
            out.parts.append(Part(path=path, shown=shown, recognition=found, named=named))
        else:
            out.skipped.append((shown, f"{found.label}: {found.problem}"))

    for source in sources:
        if not source.exists():
            raise UserError(f"{source} does not exist")
        if source.is_dir():
            files = list(_walk(source))
            if not files:
                raise UserError(f"{source} is an empty folder")
            base = shown_as.get(source)
            for item in files:
                inside = item.relative_to(source).as_posix()
                shown = str(item) if base is None else f"{base}/{inside}" if base else inside
                visit(item, shown, False, 0)
        else:
            visit(source, shown_as.get(source, str(source)), True, 0)
    return out
