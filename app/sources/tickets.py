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


def _stored_rows(record: SnapshotRecord, keys: dict[str, list[str]]) -> dict[str, pd.DataFrame]:
    folder = snapshots_dir() / record.id
    if not (folder / "COMPLETE").exists():
        raise FileNotFoundError(folder)
    out = {}
    for table, values in keys.items():
        column = ROW_KEYS.get(table)
        path = folder / f"{table}.parquet"
        if column is None or not values or not path.exists():
            continue
        frame = pd.read_parquet(path, filters=[(column, "in", [str(v) for v in values])])
        if len(frame):
            out[table] = frame.reset_index(drop=True)
    return out


def _ticket(session: Session, item: WorkRow) -> Ticket:
    detail = item.detail
    snapshot_id = detail.get("snapshot_id")
    record = session.get(SnapshotRecord, snapshot_id) if snapshot_id else None
    keys = {str(t): [str(v) for v in vs] for t, vs in (detail.get("keys") or {}).items()}
    if record is not None:
        try:
            rows = _stored_rows(record, keys)
            if rows:
                return Ticket(item, record.source, record.id, rows)
        except FileNotFoundError:
            pass
    evidence = {str(t): pd.DataFrame(rs) for t, rs in (detail.get("rows") or {}).items() if rs}
    for table, values in keys.items():  # rows the entity names but the evidence did not show
        if table not in evidence and table in ROW_KEYS:
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
    return [_ticket(session, item) for item in items]


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
