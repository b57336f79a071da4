"""A snapshot ingested with quarantine, stored and detected: the rows set aside are loaded with
it, and a reference to one of them is not proposed as a gap (it would be an artefact of the
quarantine), on both databases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.detection.run import run_detection
from app.sources.store import ingest, load_stored
from review_queue.permissions import SYSTEM
from review_queue.tables import Finding


def _folder(path: Path) -> Path:
    path.mkdir()
    (path / "people.csv").write_text(
        "person_id,email,full_name,department,job_title,manager_person_id,employment_status,"
        "hire_date,termination_date\n"
        "P1,a@x.org,Ann,Ops,Clerk,,active,2025-01-01,\n"
        "P2,b@x.org,Bob,Ops,Clerk,,retired,2025-01-01,\n",  # not a contract status: set aside
        encoding="utf-8",
    )
    (path / "lms_users.csv").write_text(
        "user_id,person_id,email,status,created_at,last_login_at\n"
        "U1,P1,a@x.org,active,2025-01-01T00:00:00Z,\n"
        "U2,P2,b@x.org,active,2025-01-01T00:00:00Z,\n"
        "U3,P404,c@x.org,active,2025-01-01T00:00:00Z,\n",
        encoding="utf-8",
    )
    (path / "courses.csv").write_text(
        "course_id,title,department,owner_user_id,is_compliance,due_days,grading_sla_days,status\n"
        "C1,Safety,Ops,U1,false,,,active\n",
        encoding="utf-8",
    )
    (path / "snapshot.toml").write_text('as_of = "2026-11-27T00:00:00Z"\n', encoding="utf-8")
    return path


def test_a_user_linked_to_a_person_quarantine_set_aside_is_not_an_orphan(
    db: Engine, gapdesk_home: Path, tmp_path: Path
) -> None:
    outcome = ingest(engine=db, actor=SYSTEM, path=_folder(tmp_path / "s"), quarantine=True)
    assert outcome.record.quarantined_counts == {"people": 1}
    stored = load_stored(outcome.record)
    assert stored.set_aside_values("people", "person_id") == {"P2"}
    run_detection(engine=db, actor=SYSTEM)
    with Session(db) as s:
        orphans = {f.entity_key for f in s.exec(select(Finding)) if f.category == "orphan_account"}
    assert orphans == {"user=U3"}
