"""Real exports in, one snapshot out: recognise every file, convert, merge, validate, store.

This is what ``gapdesk ingest SOURCE [SOURCE ...]`` runs when its sources are exports rather
than one snapshot folder in contract form::

    converted = convert_exports([Path("moodle_logs/"), Path("users.csv")], IngestOptions(), work)
    print("\\n".join(c.render() for c in converted.conversions))
    converted.raise_if_failed()
    outcome = store_exports(engine=engine, actor=actor, converted=converted, workdir=work)

Parts are merged table by table with user and course lists first, so that a user list's rows
(with e-mail addresses) win over the bare users a log reveals. A failed conversion fails the
whole ingest: a snapshot is stored whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy.engine import Engine

from app.core.errors import UserError
from app.sources.containers import Expanded, Part, expand_sources
from app.sources.contract import TABLES
from app.sources.convert import GROUPED, Conversion, IngestOptions, convert
from app.sources.files import table_file_name
from app.sources.links import join_extras, link_email_addresses, link_moodle_names
from app.sources.load import LoadResult, read_snapshot_meta, write_snapshot
from app.sources.recognise import FORMATS, mismatch, recognise
from app.sources.result import merge_tables
from app.sources.store import IngestOutcome, store_snapshot, validate_snapshot
from app.sources.validate import ProgressCallback
from review_queue.permissions import ADMIN_ONLY, Actor, require_role

# Lower merges first, and so wins on equal ids.
_MERGE_RANK = {"contract": 0, "canvas-sis": 1, "moodle-users": 2}


@dataclass
class ConvertedExports:
    """Every conversion, the files skipped and why, the merged tables, the snapshot's meta."""

    conversions: list[Conversion]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    origin: str = ""
    links: list[str] = field(default_factory=list)
    # What the conversion assumed for the whole snapshot (e.g. where its as_of came from).
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Conversion]:
        """The conversions that cannot go in."""
        return [c for c in self.conversions if c.problem is not None]

    def raise_if_failed(self) -> None:
        """A one-line UserError naming each failed source and why."""
        failed = self.failed
        if not failed:
            return
        listed = "; ".join(f"{c.shown}: {c.problem}" for c in failed)
        raise UserError(
            f"{len(failed)} of {len(self.conversions)} source(s) cannot go in, so nothing was "
            f"stored: {listed}"
        )


def is_contract_folder(path: Path) -> bool:
    """Whether ``path`` is one snapshot folder in contract form (``<table>.csv`` files only).

    Other files may sit beside the tables (the demo's ground truth); an export Gapdesk knows
    or a subfolder makes it a folder of exports instead.
    """
    if not path.is_dir():
        return False
    items = [p for p in path.iterdir() if not p.name.startswith(".")]
    tables = [p for p in items if p.is_file() and (t := table_file_name(p)) and t[0] in TABLES]
    if not tables or any(p.is_dir() for p in items):
        return False
    others = [p for p in items if p.is_file() and p not in tables and p.name != "snapshot.toml"]
    return not any(recognise(p).format in FORMATS for p in others)


def _force(part: Part, forced: str) -> Part:
    """``part`` read as ``forced``: refused when its content is plainly another format."""
    found = part.recognition
    message = mismatch(forced, found)
    if message:
        message += "; leave out --format to read it as it is"
        return replace(part, recognition=replace(found, problem=message))
    kind = found.kind
    if forced == "contract" and not kind:
        kind = part.path.name.split(".", 1)[0]
        if kind not in TABLES:
            message = f"is not named after a contract table ({', '.join(TABLES)})"
            return replace(part, recognition=replace(found, problem=message))
    label = found.label if found.format == forced else FORMATS[forced] + " (as --format says)"
    problem = found.problem if found.format == forced else None
    return replace(
        part, recognition=replace(found, format=forced, kind=kind, label=label, problem=problem)
    )


def _groups(expanded: Expanded, sources: list[str]) -> list[list[Part]]:
    """Parts to convert together: a source's files of a grouped format, else one by one
    (``sources`` as the reports name them)."""
    groups: dict[tuple[str, str], list[Part]] = {}
    singles: list[list[Part]] = []
    for part in expanded.parts:
        fmt = part.recognition.format or ""
        if fmt in GROUPED and part.recognition.problem is None:
            root = next((s for s in sources if part.shown.startswith(s)), part.shown)
            groups.setdefault((root, fmt), []).append(part)
        else:
            singles.append([part])
    return [*groups.values(), *singles]


def convert_exports(
    sources: list[Path],
    options: IngestOptions,
    workdir: Path,
    *,
    shown_as: dict[Path, str] | None = None,
) -> ConvertedExports:
    """Recognise and convert every file in ``sources`` and merge what converted (reports name
    a source in ``shown_as`` by the name given there, see ``expand_sources``)."""
    shown_as = shown_as or {}
    expanded = expand_sources(sources, workdir, encoding=options.encoding, shown_as=shown_as)
    labels = [shown_as.get(s, str(s)) for s in sources]
    if options.format:
        expanded.parts = [_force(p, options.format) for p in expanded.parts]
    if not expanded.parts:
        why = "; ".join(f"{shown}: {reason}" for shown, reason in expanded.skipped[:3])
        raise UserError(f"no export Gapdesk knows was found in {', '.join(labels) or 'the upload'}"
                        + (f" ({why})" if why else ""))  # fmt: skip
    conversions = [convert(group, options, workdir) for group in _groups(expanded, labels)]
    out = ConvertedExports(conversions=conversions, skipped=expanded.skipped)
    out.origin = " ".join(shown_as[s] if s in shown_as else str(s.resolve()) for s in sources)[
        :1000
    ]
    for path in expanded.meta:
        meta, problem = read_snapshot_meta(path.parent)
        if problem is not None:
            raise UserError(f"{path}: {problem.message}")
        out.meta = {**meta, **out.meta}
    if options.as_of is not None:
        out.meta["as_of"] = pd.Timestamp(options.as_of)
    out.meta.setdefault("source", "; ".join(shown_as.get(s) or s.name for s in sources)[:500])
    out.links = link_moodle_names(conversions) + link_email_addresses(conversions)
    if out.failed:
        return out
    # sorted() is stable: conversions of equal rank keep the order they were given in.
    ranked = sorted(conversions, key=lambda c: _MERGE_RANK.get(c.format, 9))
    parts = [{n: f for n, f in c.tables.items() if n in TABLES} for c in ranked]
    out.tables = merge_tables(*parts) if parts else {}
    out.links.extend(join_extras(out.tables, conversions))
    if "as_of" not in out.meta and not _holds_a_time(out.tables):
        # A state dump (Canvas SIS users and courses) has no time in it: the moment it describes
        # is when it was exported, and the files' own time is the best record of that. It is
        # the same on every ingest of the same files, so a repeat is still "already ingested".
        taken = _exported_at(sources)
        out.meta["as_of"] = taken
        out.notes.append(
            f"as_of {taken.isoformat()}: these exports carry no time, so the newest file's "
            "modification time was taken (pass --as-of to set it)"
        )
    return out


def _holds_a_time(tables: dict[str, pd.DataFrame]) -> bool:
    """Whether any timestamp column of the contract tables holds a value (typed or still text)."""
    for name, frame in tables.items():
        for col in TABLES[name].columns if name in TABLES else ():
            if col.type == "timestamp" and col.name in frame:
                values = frame[col.name].dropna()
                if (values.astype(str).str.strip() != "").any():
                    return True
    return False


def _exported_at(sources: list[Path]) -> pd.Timestamp:
    """The newest modification time of the files in ``sources`` (folders searched), in UTC."""
    times: list[float] = []
    for source in sources:
        files = [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
        times.extend(p.stat().st_mtime for p in files)
    return pd.Timestamp(max(times), unit="s", tz="UTC").floor("s")


def store_exports(
    *,
    engine: Engine,
    actor: Actor,
    converted: ConvertedExports,
    workdir: Path,
    quarantine: bool = False,
    progress: ProgressCallback | None = None,
    release_tables: bool = False,
) -> IngestOutcome:
    """Validate the merged tables as one snapshot and store it whole (admins only).

    ``release_tables`` empties ``converted``'s tables once they are written for validation, so
    a large log is not held twice (the validated snapshot is read back from what was written).
    """
    require_role(actor, ADMIN_ONLY, "storing snapshots")
    result = validate_exports(
        actor=actor, converted=converted, workdir=workdir, quarantine=quarantine,
        progress=progress, release_tables=release_tables,
    )  # fmt: skip
    folder = workdir / "snapshot"
    try:
        return store_snapshot(engine=engine, actor=actor, result=result, origin=converted.origin)
    except UserError as exc:
        # The report names the work folder the merged tables were written to; say what it is.
        raise UserError(str(exc).replace(f" in {folder}", " in what the sources gave")) from None


def validate_exports(
    *,
    actor: Actor,
    converted: ConvertedExports,
    workdir: Path,
    quarantine: bool = False,
    progress: ProgressCallback | None = None,
    release_tables: bool = False,
) -> LoadResult:
    """Validate the merged tables as one snapshot, storing nothing (admins only): the tables are
    written to ``workdir/snapshot`` first, as a snapshot folder; see :func:`store_exports` for
    ``release_tables``."""
    require_role(actor, ADMIN_ONLY, "ingesting snapshots")
    converted.raise_if_failed()
    folder = workdir / "snapshot"
    for name, frame in converted.tables.items():
        # Parquet keeps the importers' types and is several times faster to write and read;
        # a column mixing types across merged parts falls back to text.
        try:
            write_snapshot({name: frame}, folder, file_format="parquet")
        except (pa.ArrowException, ValueError, TypeError):
            (folder / f"{name}.parquet").unlink(missing_ok=True)
            write_snapshot({name: frame}, folder)
    write_snapshot(
        {}, folder, as_of=converted.meta.get("as_of"), source=str(converted.meta.get("source", ""))
    )
    if release_tables:
        converted.tables = {}
        for conversion in converted.conversions:
            # Only the row counts are read after this (the conversion reports): a frame with no
            # columns over a RangeIndex keeps the count and holds no data.
            conversion.tables = {
                name: pd.DataFrame(index=pd.RangeIndex(len(frame)))
                for name, frame in conversion.tables.items()
            }
        pa.default_memory_pool().release_unused()  # give the freed columns back to the system
    return validate_snapshot(actor=actor, path=folder, quarantine=quarantine, progress=progress)
