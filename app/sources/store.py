"""Accepted snapshots: stored once per content, listed, and loaded back for detection.

Where and why: the typed tables go to Parquet files under ``$GAPDESK_HOME/snapshots/<id>/``
(columnar, typed — string ids, UTC timestamps and nullable integers survive the round trip —
and ten million activity rows load in seconds), while the database keeps one small row per
snapshot (id, as_of, source, row counts, content hash). Each table is stored with the columns
its source carried, so a column left out (absent, not empty) is still absent when the snapshot is
loaded back; snapshots stored under contract version 1 load as version 2 snapshots whose new
columns are absent. The id is the first 16 hex digits of the content hash, so the same content
ingested twice is recognised and stored once. Files are written to a temporary folder and
renamed into place before the row is committed: a crash leaves either nothing, an unreferenced
folder that the next ingest of that content reuses, or a hidden temporary folder (``.<id>-…``)
that the next ingest removes once it is an hour old (a younger one may be another ingest at
work).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.db import session_scope
from app.core.errors import UserError
from app.core.files import private_dir, private_file
from app.core.records import SnapshotRecord
from app.core.settings import get_settings
from app.sources.load import LoadResult, load_snapshot
from app.sources.mapping import SnapshotMapping
from app.sources.validate import ProgressCallback
from models.snapshot import Snapshot
from review_queue.permissions import ADMIN_ONLY, Actor, require_role


@dataclass
class IngestOutcome:
    """An accepted snapshot's record, whether it was already known, and the load report."""

    record: SnapshotRecord
    already_known: bool
    result: LoadResult


def snapshots_dir() -> Path:
    """Where stored snapshots live."""
    return get_settings().home.resolve() / "snapshots"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# A temporary folder this old is a killed ingest's leftover, not one at work.
STALE_TEMPORARY_SECONDS = 3600


def sweep_leftovers(now: float | None = None) -> list[str]:
    """Remove the hidden temporary folders of killed ingests (older than an hour); returns
    their names."""
    folder = snapshots_dir()
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for item in folder.iterdir():
        stale = now - item.stat().st_mtime > STALE_TEMPORARY_SECONDS
        if item.name.startswith(".") and item.is_dir() and stale:
            shutil.rmtree(item, ignore_errors=True)
            removed.append(item.name)
    return removed


def _store_tables(result: LoadResult, snapshot_id: str) -> Path:
    final = snapshots_dir() / snapshot_id
    if (final / "COMPLETE").exists():
        return final
    private_dir(snapshots_dir())
    sweep_leftovers()
    tmp = Path(tempfile.mkdtemp(prefix=f".{snapshot_id}-", dir=snapshots_dir()))
    try:
        assert result.snapshot is not None
        # Stored as the source carried it: the Parquet schema is the record of what is absent.
        for name, frame in result.snapshot.tables.items():
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
        for name, frame in result.quarantined.items():
            if len(frame):
                frame.to_parquet(tmp / f"quarantine_{name}.parquet", index=False)
        (tmp / "report.txt").write_text(result.report.render(limit=200), encoding="utf-8")
        (tmp / "COMPLETE").write_text(result.content_hash or "", encoding="utf-8")
        for item in tmp.iterdir():
            private_file(item)  # mkdtemp made the folder 0700; its files 0600
            with open(item, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():  # an earlier ingest died half way: replace its leftovers
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(snapshots_dir())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def validate_snapshot(
    *,
    actor: Actor,
    path: Path | str,
    mapping: SnapshotMapping | Path | str | None = None,
    quarantine: bool = False,
    progress: ProgressCallback | None = None,
) -> LoadResult:
    """Read and validate a snapshot folder without storing anything (admins only)."""
    require_role(actor, ADMIN_ONLY, "ingesting snapshots")
    return load_snapshot(path, mapping=mapping, quarantine=quarantine, progress=progress)


def store_snapshot(
    *, engine: Engine, actor: Actor, result: LoadResult, origin: str
) -> IngestOutcome:
    """Store a validated snapshot whole (admins only); the same content is stored once.

    Raises UserError with the validation report when the snapshot was rejected.
    """
    require_role(actor, ADMIN_ONLY, "ingesting snapshots")
    snapshot = result.raise_if_rejected()
    assert result.content_hash is not None
    snapshot_id = result.content_hash[:16]
    with session_scope(engine) as session:
        known = session.get(SnapshotRecord, snapshot_id)
        if known is not None:
            return IngestOutcome(known, True, result)
    _store_tables(result, snapshot_id)
    record = SnapshotRecord(
        id=snapshot_id,
        content_hash=result.content_hash,
        as_of=snapshot.as_of,
        source=snapshot.source[:500],
        origin=origin[:1000],
        ingested_by=actor.name,
        row_counts={name: len(frame) for name, frame in snapshot.tables.items()},
        quarantined_counts={n: len(f) for n, f in result.quarantined.items() if len(f)},
        # Warnings quote the data; PostgreSQL's JSON cannot hold a NUL, so it is spelled out.
        notes=[str(w).replace("\x00", "\\x00") for w in result.report.warnings][:50],
    )
    with session_scope(engine) as session:
        if session.get(SnapshotRecord, snapshot_id) is None:  # a concurrent twin may have won
            session.add(record)
    return IngestOutcome(record, False, result)


def ingest(
    *,
    engine: Engine,
    actor: Actor,
    path: Path | str,
    mapping: SnapshotMapping | Path | str | None = None,
    quarantine: bool = False,
    progress: ProgressCallback | None = None,
) -> IngestOutcome:
    """Validate a snapshot folder and store it whole (admins only); a rejected one changes nothing.

    Raises UserError with the validation report when the snapshot is rejected.
    """
    result = validate_snapshot(
        actor=actor, path=path, mapping=mapping, quarantine=quarantine, progress=progress
    )
    return store_snapshot(
        engine=engine, actor=actor, result=result, origin=str(Path(path).resolve())
    )


def list_snapshots(*, session: Session, actor: Actor) -> list[SnapshotRecord]:
    """Every stored snapshot, newest ingest first (admins only)."""
    require_role(actor, ADMIN_ONLY, "listing snapshots")
    return list(
        session.exec(select(SnapshotRecord).order_by(col(SnapshotRecord.ingested_at).desc()))
    )


def find_snapshot(*, session: Session, snapshot_id: str | None) -> SnapshotRecord:
    """The snapshot with this id (or unique id prefix); the latest ingested when None."""
    if snapshot_id is None:
        record = session.exec(
            select(SnapshotRecord).order_by(col(SnapshotRecord.ingested_at).desc())
        ).first()
        if record is None:
            raise UserError("no snapshot has been ingested yet: run `gapdesk ingest PATH` first")
        return record
    matches = session.exec(
        select(SnapshotRecord).where(col(SnapshotRecord.id).startswith(snapshot_id.strip()))
    ).all()
    if not matches:
        raise UserError(f"no snapshot with id {snapshot_id!r} (see `gapdesk snapshots`)")
    if len(matches) > 1:
        raise UserError(f"snapshot id {snapshot_id!r} is ambiguous: {len(matches)} match")
    return matches[0]


def load_stored(record: SnapshotRecord, tables: Iterable[str] | None = None) -> Snapshot:
    """The typed tables of a stored snapshot (all, or only ``tables``) read from Parquet."""
    folder = snapshots_dir() / record.id
    if not (folder / "COMPLETE").exists():
        raise UserError(
            f"snapshot {record.id}'s files are missing from {folder}; ingest its source again"
        )
    wanted = sorted(record.row_counts) if tables is None else sorted(tables)
    frames = {
        name: pd.read_parquet(folder / f"{name}.parquet")
        for name in wanted
        if name in record.row_counts
    }
    # The rows quarantine set aside, so that detectors do not take a reference to one of them
    # for a reference to nobody (only the tables asked for).
    held = {
        name: pd.read_parquet(folder / f"quarantine_{name}.parquet")
        for name in wanted
        if (folder / f"quarantine_{name}.parquet").exists()
    }
    return Snapshot(
        tables=frames,
        as_of=record.as_of,
        source=record.source,
        snapshot_id=record.id,
        meta={"content_hash": record.content_hash},
        set_aside=held,
    )


def stored_columns(record: SnapshotRecord) -> dict[str, frozenset[str]]:
    """Table → the columns a stored snapshot carries, read from its Parquet schemas alone (no
    rows are loaded, so this is cheap on ten million events)."""
    folder = snapshots_dir() / record.id
    if not (folder / "COMPLETE").exists():
        raise UserError(
            f"snapshot {record.id}'s files are missing from {folder}; ingest its source again"
        )
    return {
        name: frozenset(pq.read_schema(folder / f"{name}.parquet").names)
        for name in sorted(record.row_counts)
    }
