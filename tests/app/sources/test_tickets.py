"""Data-quality tickets read their rows from the snapshot the finding was seen in, and export
as spreadsheet-safe CSV (SQLite and PostgreSQL, the demo organisation detected for real)."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.errors import UserError
from app.detection.run import run_detection
from app.sources.store import ingest, snapshots_dir
from app.sources.tickets import data_quality_tickets, tickets_csv
from review_queue.decisions import decide
from review_queue.permissions import SYSTEM
from review_queue.tables import Finding
from tests.helpers.queue_fixtures import add_people


def _detected(engine: Engine, demo_folder: Path) -> str:
    outcome = ingest(engine=engine, actor=SYSTEM, path=demo_folder)
    run_detection(engine=engine, actor=SYSTEM)
    return outcome.record.id


def test_a_ticket_shows_the_snapshot_rows_its_finding_names(
    engine: Engine, demo_folder: Path, gapdesk_home: Path
) -> None:
    snapshot_id = _detected(engine, demo_folder)
    with Session(engine, expire_on_commit=False) as s:
        ada = add_people(s)["ada"]
        finding = s.exec(
            select(Finding)
            .where(col(Finding.category) == "notification_undelivered")
            .order_by(col(Finding.id))
        ).first()
        assert finding is not None and finding.id is not None
        user = finding.entity_key.removeprefix("user=")
        decide(session=s, actor=ada, finding_id=finding.id, action="dismiss", reason="data_error",
               comment="the mail relay logged test sends as bounces")  # fmt: skip
        s.commit()
        [ticket] = data_quality_tickets(session=s, actor=ada)
        assert (ticket.snapshot_id, ticket.from_evidence) == (snapshot_id, False)
        assert ticket.tables == ["lms_users", "notifications"]
        assert ticket.rows["lms_users"]["user_id"].tolist() == [user]
        shown = len(finding.evidence["notifications"])
        assert len(ticket.rows["notifications"]) == shown
        assert set(ticket.rows["notifications"]["user_id"]) == {user}
        text = tickets_csv(session=s, actor=ada)
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 1 + shown
        assert {r["table"] for r in rows} == {"lms_users", "notifications"}
        assert {r["ticket"] for r in rows} == {str(ticket.item.id)}
        assert rows[0]["snapshot"] == snapshot_id and rows[0]["key"] == user
        with pytest.raises(UserError, match="no open data-quality ticket #999"):
            tickets_csv(session=s, actor=ada, ticket_ids=[999])

        # The snapshot's files gone: the ticket falls back on the rows the evidence kept.
        shutil.rmtree(snapshots_dir() / snapshot_id)
        [ticket] = data_quality_tickets(session=s, actor=ada)
        assert ticket.from_evidence and ticket.tables == ["lms_users", "notifications"]
        assert len(ticket.rows["notifications"]) == shown


def test_the_csv_defuses_formulas_from_the_data(session: Session) -> None:
    ada = add_people(session)["ada"]
    finding = Finding(
        category="identity_duplicate", entity_key="person=P1", title="Two accounts",
        detector="duplicate_accounts", detector_version="1", score=0.5, severity="low",
        evidence={"lms_users": [{"user_id": "U1", "email": "=cmd|' /C calc'!A0"}]},
    )  # fmt: skip
    session.add(finding)
    session.commit()
    assert finding.id is not None
    decide(session=session, actor=ada, finding_id=finding.id, action="dismiss",
           reason="data_error")  # fmt: skip
    session.commit()
    rows = list(csv.DictReader(io.StringIO(tickets_csv(session=session, actor=ada))))
    assert [r["email"] for r in rows if r["table"] == "lms_users"] == ["'=cmd|' /C calc'!A0"]
    # The person the entity names is in the ticket too, by its key alone (no snapshot here).
    assert [(r["table"], r["key"]) for r in rows] == [("people", "P1"), ("lms_users", "U1")]
