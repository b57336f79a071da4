"""Real data in, one way for ``gapdesk ingest`` and the Data page: prepare, look, then store.

:func:`prepare_intake` recognises, converts and merges the sources (or, for one snapshot folder
in contract form or with a column mapping, reads it as it is) and validates the result without
storing anything; the :class:`Intake` it returns carries the conversion report per source, the
validation report, and, when nothing can be stored, why. :func:`store_intake` stores an accepted
intake whole. The CLI prints the intake and stores it at once; the Data page shows it and stores
it when the person accepts.

The page's two ways in wrap it: :func:`prepare_uploads` stages the uploads under safe names and
streams them through the upload limits first (``GAPDESK_UPLOAD_MAX_BYTES``, ``_MAX_ROWS``);
:func:`prepare_server_folder` reads a path on the server only inside ``GAPDESK_INGEST_ROOTS``
(after resolving ``..`` and symbolic links, including links inside the folder). Reports name
uploads by their own names and never quote the temporary folders they were staged in.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from app.core.errors import UserError
from app.core.settings import get_settings
from app.sources.convert import Conversion, IngestOptions
from app.sources.exports import convert_exports, is_contract_folder, validate_exports
from app.sources.load import LoadResult
from app.sources.store import IngestOutcome, store_snapshot, validate_snapshot
from app.sources.uploads import (
    Staged,
    Upload,
    UploadLimits,
    check_upload_limits,
    stage_uploads,
)
from app.sources.validate import ProgressCallback
from review_queue.permissions import ADMIN_ONLY, Actor, require_role

ROOTS_OFF = (
    "reading folders on the server is off: set GAPDESK_INGEST_ROOTS to the folders Gapdesk may "
    "read (e.g. GAPDESK_INGEST_ROOTS=/srv/lms-exports, several separated by ':') and restart "
    "Gapdesk; until then, upload the files"
)


@dataclass
class Intake:
    """What the sources became, validated but not stored: per-source conversion reports, the
    validation report, and ``problem`` (why nothing can be stored) when it cannot go in."""

    origin: str
    conversions: list[Conversion] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    # What the conversion assumed for the whole snapshot (e.g. where its as_of came from).
    notes: list[str] = field(default_factory=list)
    result: LoadResult | None = None
    report: str = ""
    problem: str | None = None
    renamed: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """Whether the intake can be stored."""
        return self.problem is None and self.result is not None and self.result.accepted

    def conversion_rows(self) -> list[dict[str, object]]:
        """One row per source and table: what the source is and how many rows it gave."""
        rows: list[dict[str, object]] = []
        for c in self.conversions:
            tables = {**{n: len(f) for n, f in c.tables.items()}, **{
                f"{n} (joined to other tables)": len(f) for n, f in c.extras.items()}}  # fmt: skip
            status = "FAILED" if c.problem else "converted"
            for name, n in tables.items() or {"": 0}.items():
                rows.append({"source": c.shown, "recognised as": c.label, "table": name,
                             "rows": n, "status": status})  # fmt: skip
        return rows

    def left_out_rows(self) -> list[dict[str, object]]:
        """One row per reason rows were left out (by design) or dropped (unreadable)."""
        rows: list[dict[str, object]] = []
        for c in self.conversions:
            rows += [{"source": c.shown, "what": "left out", "rows": n, "why": why}
                     for why, n in c.left_out.items()]  # fmt: skip
            rows += [{"source": c.shown, "what": "dropped", "rows": n, "why": why}
                     for why, n in c.dropped.items()]  # fmt: skip
            if c.problem:
                rows.append({"source": c.shown, "what": "failed", "rows": 0, "why": c.problem})
        rows += [{"source": s, "what": "skipped", "rows": 0, "why": why} for s, why in self.skipped]
        return rows


class _Scrub:
    """Replaces work-folder paths in what a person reads with what they stand for."""

    def __init__(self, pairs: Iterable[tuple[Path, str]]) -> None:
        self.pairs = sorted(((str(p), s) for p, s in pairs), key=lambda x: -len(x[0]))

    def __call__(self, text: str) -> str:
        for path, shown in self.pairs:
            text = text.replace(path, shown)
        return text

    def intake(self, intake: Intake) -> Intake:
        for c in intake.conversions:
            c.shown, c.label = self(c.shown), self(c.label)
            c.problem = None if c.problem is None else self(c.problem)
            c.notes = [self(n) for n in c.notes]
            c.warnings = [self(w) for w in c.warnings]
        intake.skipped = [(self(s), self(w)) for s, w in intake.skipped]
        intake.links = [self(n) for n in intake.links]
        intake.notes = [self(n) for n in intake.notes]
        intake.report = self(intake.report)
        intake.problem = None if intake.problem is None else self(intake.problem)
        return intake


def prepare_intake(
    *,
    actor: Actor,
    sources: list[Path],
    options: IngestOptions,
    workdir: Path,
    mapping: Path | None = None,
    quarantine: bool = False,
    shown_as: dict[Path, str] | None = None,
    progress: ProgressCallback | None = None,
    release_tables: bool = False,
) -> Intake:
    """Convert and validate ``sources`` into one snapshot without storing it (admins only).

    One snapshot folder in contract form (or any folder with a column ``mapping``) is read as
    it is; anything else is recognised file by file and converted. ``workdir`` (the caller's,
    removed after) holds unpacked archives and the merged tables.
    """
    require_role(actor, ADMIN_ONLY, "ingesting snapshots")
    shown_as = shown_as or {}
    scrub = _Scrub([(workdir / "snapshot", "what the sources gave"), (workdir, "the upload")])
    if mapping is not None and len(sources) != 1:
        raise UserError("--mapping applies to one snapshot folder; give that folder alone")
    if len(sources) == 1 and (
        mapping is not None or (options.format is None and is_contract_folder(sources[0]))
    ):
        source = sources[0]
        result = validate_snapshot(
            actor=actor, path=source, mapping=mapping, quarantine=quarantine, progress=progress
        )
        intake = Intake(origin=shown_as.get(source) or str(source.resolve()), result=result)
    else:
        converted = convert_exports(sources, options, workdir, shown_as=shown_as)
        intake = Intake(
            origin=converted.origin, conversions=converted.conversions,
            skipped=converted.skipped, links=converted.links, notes=converted.notes,
        )  # fmt: skip
        if converted.failed:
            try:
                converted.raise_if_failed()
            except UserError as exc:
                intake.problem = str(exc)
            return scrub.intake(intake)
        intake.result = validate_exports(
            actor=actor, converted=converted, workdir=workdir, quarantine=quarantine,
            progress=progress, release_tables=release_tables,
        )  # fmt: skip
    assert intake.result is not None
    intake.report = intake.result.report.render()
    if not intake.result.accepted:
        problems = len(intake.result.report.problems)
        intake.problem = f"the snapshot was rejected with {problems} problem(s); nothing was stored"
    return scrub.intake(intake)


def store_intake(*, engine: Engine, actor: Actor, intake: Intake) -> IngestOutcome:
    """Store a prepared intake whole (admins only); UserError saying why when it cannot go in
    (the failed sources, or the validation report of a rejected snapshot)."""
    require_role(actor, ADMIN_ONLY, "ingesting snapshots")
    if intake.result is None or not intake.result.accepted:
        raise UserError(intake.report if intake.result is not None else str(intake.problem))
    return store_snapshot(engine=engine, actor=actor, result=intake.result, origin=intake.origin)


# ------------------------------------------------------------------ the Data page's ways in


def upload_limits() -> UploadLimits:
    """The configured upload limits (GAPDESK_UPLOAD_MAX_BYTES, GAPDESK_UPLOAD_MAX_ROWS)."""
    settings = get_settings()
    return UploadLimits(max_bytes=settings.upload_max_bytes, max_rows=settings.upload_max_rows)


def prepare_uploads(
    *,
    actor: Actor,
    uploads: list[Upload],
    options: IngestOptions,
    workdir: Path,
    mapping: Upload | None = None,
    quarantine: bool = False,
    progress: ProgressCallback | None = None,
) -> Intake:
    """Stage ``uploads`` under ``workdir`` (safe names), refuse them past the upload limits,
    then :func:`prepare_intake` them, each named by its own name (admins only)."""
    require_role(actor, ADMIN_ONLY, "ingesting snapshots")
    staged = stage_uploads(uploads, workdir / "uploads")
    scrub = _Scrub([(staged.folder, "the upload"), (workdir, "the upload")])
    try:
        return scrub.intake(_prepare_staged(actor, staged, options, workdir, mapping,
                                            quarantine, progress))  # fmt: skip
    except UserError as exc:
        raise UserError(scrub(str(exc))) from None


def _prepare_staged(
    actor: Actor,
    staged: Staged,
    options: IngestOptions,
    workdir: Path,
    mapping: Upload | None,
    quarantine: bool,
    progress: ProgressCallback | None,
) -> Intake:
    check_upload_limits(staged, upload_limits())
    files = [staged.folder / name for name in staged.names]
    mapping_file = None
    if mapping is not None:
        mapping_file = workdir / "mapping.toml"
        mapping_file.write_bytes(mapping.getvalue())
    intake = prepare_intake(
        actor=actor,
        sources=[staged.folder] if mapping_file else files,
        options=options,
        workdir=workdir / "work",
        mapping=mapping_file,
        quarantine=quarantine,
        shown_as={staged.folder: "the upload", **{f: staged.names[f.name] for f in files}},
        progress=progress,
    )
    intake.origin = "upload: " + ", ".join(staged.names.values())
    intake.renamed = staged.renamed
    return intake


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def server_source(text: str, roots: list[Path] | None = None) -> Path:
    """The file or folder ``text`` names on the server, refused unless it lies inside one of
    ``roots`` (by default GAPDESK_INGEST_ROOTS) once ``..`` and symbolic links are resolved,
    with no link inside it leading out."""
    roots = [r.resolve() for r in (get_settings().ingest_roots if roots is None else roots)]
    if not roots:
        raise UserError(ROOTS_OFF)
    allowed = ", ".join(map(str, roots))
    text = text.strip()
    if not text:
        raise UserError(f"type the path of a folder or file inside {allowed} first")
    given = Path(text).expanduser()
    if not given.is_absolute():
        raise UserError(f"{text!r} is not an absolute path; give it in full, inside {allowed}")
    real = given.resolve()
    if not _inside(real, roots):
        raise UserError(
            f"{text} is outside the folders Gapdesk may read ({allowed}, GAPDESK_INGEST_ROOTS); "
            "nothing was read"
        )
    if not real.exists():
        raise UserError(f"{text} does not exist on the server")
    if real.is_dir():
        for folder, dirs, files in os.walk(real, followlinks=False):
            for name in [*dirs, *files]:
                item = Path(folder) / name
                if item.is_symlink() and not _inside(item.resolve(), roots):
                    raise UserError(
                        f"{text} holds a link ({item.relative_to(real)}) leading outside the "
                        f"folders Gapdesk may read ({allowed}); nothing was read"
                    )
    return real


def prepare_server_folder(
    *,
    actor: Actor,
    path: str,
    options: IngestOptions,
    workdir: Path,
    mapping: Path | None = None,
    quarantine: bool = False,
    progress: ProgressCallback | None = None,
) -> Intake:
    """:func:`prepare_intake` of a file or folder on the server inside GAPDESK_INGEST_ROOTS
    (admins only); a path outside them is refused before anything is read."""
    require_role(actor, ADMIN_ONLY, "ingesting snapshots")
    source = server_source(path)
    return prepare_intake(
        actor=actor, sources=[source], options=options, workdir=workdir, mapping=mapping,
        quarantine=quarantine, progress=progress,
    )  # fmt: skip


def intake_options(
    *,
    format: str | None = None,
    year: str = "",
    timezone: str = "UTC",
    encoding: str = "",
    day_first: bool | None = None,
    as_of: str = "",
) -> IngestOptions:
    """The reading options as the Data page's fields give them (text), checked as
    ``gapdesk ingest`` checks its own; UserError naming the field that is wrong."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    import pandas as pd

    from app.sources.recognise import FORMATS

    if format and format not in FORMATS:
        raise UserError(f"format {format!r} is not one Gapdesk reads ({', '.join(FORMATS)})")
    year_value = None
    if year.strip():
        if not year.strip().isdigit() or not 1970 <= int(year) <= 2100:
            raise UserError(f"year {year.strip()!r} is not a year such as 2021")
        year_value = int(year)
    zone = timezone.strip() or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"time zone {zone!r} is not a time zone name (Europe/Madrid)") from None
    codec = encoding.strip() or None
    if codec is not None:
        import codecs

        try:
            codecs.lookup(codec)
        except LookupError:
            raise UserError(f"encoding {codec!r} is not one Python knows (e.g. latin-1)") from None
    stamp = None
    if as_of.strip():
        try:
            stamp = pd.Timestamp(as_of.strip())
        except ValueError:
            stamp = pd.NaT
        if pd.isna(stamp):
            raise UserError(f"as of {as_of.strip()!r} is not an ISO 8601 time (2026-11-27T06:00)")
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return IngestOptions(
        format=format or None, year=year_value, timezone=zone, encoding=codec,
        day_first=day_first, as_of=stamp,
    )  # fmt: skip
