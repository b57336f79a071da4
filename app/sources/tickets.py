"""Data-quality tickets with their rows: which source and table, which rows, read from the
snapshot the finding was seen in, and the CSV an admin hands to whoever owns the source.

A ticket (review_queue.routing) keeps the key values of the rows its finding's evidence and
entity name; the rows themselves are read here from the stored snapshot (Parquet, filtered on
the key column, so a large activity table is not read whole). When the snapshot is no longer
stored the evidence rows the finding carried are shown instead, and the ticket says so.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlmodel import Session

from app.core.errors import UserError
from app.core.records import SnapshotRecord
from app.core.safe_csv import write_safe_csv
from app.sources.store import snapshots_dir
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.routing import ROW_KEYS, WorkKind
from review_queue.work_items import WorkRow, list_work

# The columns every CSV row starts with; the table's own columns follow.
TICKET_COLUMNS = ["ticket", "finding", "source", "snapshot", "table", "key_column", "key"]


@dataclass(frozen=True)
class Ticket:
    """A data-quality ticket and its rows, per table."""

    item: WorkRow
    source: str  # the snapshot's source ("acme-moodle-prod"), or "" when not known
    snapshot_id: str | None
    rows: dict[str, pd.DataFrame] = field(default_factory=dict)
    from_evidence: bool = False  # the snapshot is gone: the rows are those the evidence kept

    @property
    def tables(self) -> list[str]:
        """The tables the ticket names, in the contract's order."""
        return [t for t in ROW_KEYS if t in self.rows]

    @property
    def row_count(self) -> int:
        """How many rows the ticket names in all."""
        return sum(len(frame) for frame in self.rows.values())


def _keys(item: WorkRow) -> dict[str, list[str]]:
    found = item.detail.get("keys") or {}
    return {str(t): [str(v) for v in vs] for t, vs in found.items() if str(t) in ROW_KEYS}


def _stored_tables(
    record: SnapshotRecord, wanted: dict[str, set[str]]
) -> dict[str, pd.DataFrame] | None:
    """The rows of each table whose key is in ``wanted`` (one read per table for every ticket
    on this snapshot); None when the snapshot's files are gone."""
    folder = snapshots_dir() / record.id
    if not (folder / "COMPLETE").exists():
        return None
    out = {}
    for table, values in wanted.items():
        path = folder / f"{table}.parquet"
        if values and path.exists():
            filters = [(ROW_KEYS[table], "in", sorted(values))]
            out[table] = pd.read_parquet(path, filters=filters)
    return out


def _ticket(
    item: WorkRow, record: SnapshotRecord | None, stored: dict[str, pd.DataFrame] | None
) -> Ticket:
    keys = _keys(item)
    snapshot_id = item.detail.get("snapshot_id")
    if record is not None and stored is not None:
        rows = {}
        for table, values in keys.items():
            frame = stored.get(table)
            if frame is not None:
                mine = frame[frame[ROW_KEYS[table]].astype("string").isin(values)]
                if len(mine):
                    rows[table] = mine.reset_index(drop=True)
        if rows:
            return Ticket(item, record.source, record.id, rows)
    evidence = {str(t): pd.DataFrame(rs) for t, rs in (item.detail.get("rows") or {}).items() if rs}
    for table, values in keys.items():  # rows the entity names but the evidence did not show
        if table not in evidence:
            evidence[table] = pd.DataFrame({ROW_KEYS[table]: values})
    source = record.source if record is not None else ""
    return Ticket(item, source, snapshot_id, evidence, from_evidence=True)


def data_quality_tickets(
    *,
    session: Session,
    actor: Actor,
    include_closed: bool = False,
    now: datetime | None = None,
) -> list[Ticket]:
    """The data-quality tickets, oldest first, each with its source, tables and rows (admins)."""
    require_role(actor, ADMIN_ONLY, "reading the work lists")
    items = list_work(
        session=session, actor=actor, kind=WorkKind.data_quality,
        include_closed=include_closed, now=now,
    )  # fmt: skip
    by_snapshot: dict[str, dict[str, set[str]]] = {}
    for item in items:
        if snapshot_id := item.detail.get("snapshot_id"):
            wanted = by_snapshot.setdefault(str(snapshot_id), {})
            for table, values in _keys(item).items():
                wanted.setdefault(table, set()).update(values)
    records = {sid: session.get(SnapshotRecord, sid) for sid in by_snapshot}
    stored = {
        sid: _stored_tables(record, by_snapshot[sid])
        for sid, record in records.items()
        if record is not None
    }
    return [
        _ticket(
            item,
            records.get(str(item.detail.get("snapshot_id"))),
            stored.get(str(item.detail.get("snapshot_id"))),
        )
        for item in items
    ]


def ticket_frame(tickets: list[Ticket]) -> pd.DataFrame:
    """One row per snapshot row the tickets name: the ticket, finding, source, snapshot, table
    and key, then the row's own columns (blank where a table has no such column)."""
    parts = []
    for ticket in tickets:
        for table in ticket.tables:
            frame = ticket.rows[table].copy()
            key = ROW_KEYS[table]
            lead = pd.DataFrame(
                {
                    "ticket": ticket.item.id,
                    "finding": ticket.item.finding_id,
                    "source": ticket.source,
                    "snapshot": ticket.snapshot_id or "",
                    "table": table,
                    "key_column": key,
                    "key": frame[key].astype("string") if key in frame else "",
                },
                index=frame.index,
            )
            parts.append(pd.concat([lead, frame.astype("object")], axis=1))
    if not parts:
        return pd.DataFrame(columns=TICKET_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def tickets_csv(
    *,
    session: Session,
    actor: Actor,
    ticket_ids: list[int] | None = None,
    include_closed: bool = False,
) -> str:
    """The tickets' rows as CSV for a spreadsheet (formula-like cells defused): all open
    tickets, or those in ``ticket_ids`` (admins only)."""
    tickets = data_quality_tickets(session=session, actor=actor, include_closed=include_closed)
    if ticket_ids is not None:
        known = {t.item.id for t in tickets}
        missing = [i for i in ticket_ids if i not in known]
        if missing:
            raise UserError(
                f"no {'open ' if not include_closed else ''}data-quality ticket #{missing[0]}"
            )
        tickets = [t for t in tickets if t.item.id in ticket_ids]
    out = io.StringIO()
    write_safe_csv(ticket_frame(tickets), out)
    return out.getvalue()
