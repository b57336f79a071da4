"""What a snapshot lets Gapdesk check: the coverage of the enabled detectors on a stored (or just
validated) snapshot, for the Home and Data pages, ``gapdesk ingest`` and each detection run.

The coverage is worked out when it is asked for, never stored with the snapshot: it depends on
which detectors are switched on, which changes after the ingest. Only the tables' columns are
read (the Parquet schemas), never their rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.db import session_scope
from app.core.records import SnapshotRecord
from app.detection.configuration import detector_settings, enabled_detectors
from app.sources.store import find_snapshot, stored_columns
from models.detectors.base import carried_columns
from models.detectors.coverage import CoverageRow, coverage
from models.detectors.coverage import coverage_lines as sentences
from models.snapshot import Snapshot
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.tables import DetectionRun


@dataclass(frozen=True)
class SnapshotCoverage:
    """The coverage rows of one stored snapshot, with what identifies the snapshot."""

    snapshot_id: str
    as_of: datetime
    source: str
    rows: list[CoverageRow]

    @property
    def lines(self) -> list[str]:
        """The rows as sentences (``models.detectors.coverage.coverage_lines``)."""
        return sentences(self.rows)


def coverage_rows(*, session: Session, snapshot: Snapshot) -> list[CoverageRow]:
    """Coverage of ``snapshot`` under the detector configuration in force (no role check:
    callers check it; the detection run calls this with the detectors it ran instead)."""
    return coverage(
        carried_columns(snapshot), enabled_detectors(detector_settings(session=session))
    )


def snapshot_coverage(
    *, session: Session, actor: Actor, snapshot_id: str | None = None
) -> SnapshotCoverage | None:
    """Coverage of a stored snapshot (by default the current one, the latest ingested) under
    the detector configuration in force (admins only); None when nothing is stored yet."""
    require_role(actor, ADMIN_ONLY, "seeing what a snapshot lets Gapdesk check")
    if snapshot_id is None and not _any_snapshot(session):
        return None
    record = find_snapshot(session=session, snapshot_id=snapshot_id)
    detectors = enabled_detectors(detector_settings(session=session))
    rows = coverage(stored_columns(record), detectors)
    return SnapshotCoverage(record.id, record.as_of, record.source, rows)


def validated_coverage(*, session: Session, actor: Actor, snapshot: Snapshot) -> list[CoverageRow]:
    """Coverage of a snapshot validated but not stored yet (admins only): the Data page shows it
    before the person accepts."""
    require_role(actor, ADMIN_ONLY, "seeing what a snapshot lets Gapdesk check")
    return coverage_rows(session=session, snapshot=snapshot)


def coverage_lines(*, engine: Engine, actor: Actor, snapshot: Snapshot) -> list[str]:
    """What the enabled detectors can and cannot check on ``snapshot``, as sentences to print
    after an ingest (admins only): ``for line in coverage_lines(engine=get_engine(),
    actor=SYSTEM, snapshot=outcome.result.snapshot): click.echo("  " + line)``."""
    with session_scope(engine, read_only=True) as session:
        rows = validated_coverage(session=session, actor=actor, snapshot=snapshot)
    return sentences(rows)


def run_coverage(run: DetectionRun) -> list[CoverageRow]:
    """The coverage a detection run recorded (empty for runs from before coverage was kept)."""
    return [CoverageRow.from_dict(d) for d in (run.stats or {}).get("coverage", [])]


# How each status reads in the pages' "checked" column.
_CHECKED = {"checked": "yes", "partly checked": "partly", "not checked": "no"}


def coverage_table(rows: list[CoverageRow]) -> list[dict[str, str]]:
    """The rows as the small table the Home and Data pages show: category, detector, checked
    (yes, partly, no, switched off) and what is missing, in words."""
    out = []
    for row in rows:
        if row.status == "not checked":
            missing = f"{row.missing}: {row.unchecked} cannot be checked"
        elif row.status == "partly checked":
            missing = f"{row.missing}: {row.unchecked} not checked"
        elif row.switched_off:
            missing = "switched off on the Detectors page"
        else:
            missing = ""
        out.append(
            {"category": row.category, "detector": row.detector,
             "checked": _CHECKED.get(row.status, row.status), "what is missing": missing}
        )  # fmt: skip
    return out


def _any_snapshot(session: Session) -> bool:
    return session.exec(select(SnapshotRecord.id).limit(1)).first() is not None
