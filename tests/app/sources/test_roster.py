"""What an instructor may report about, on snapshots with and without enrolments and HR roster."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.sources.roster import course_titles, instructor_roster
from app.sources.store import ingest
from review_queue.permissions import SYSTEM
from tests.app.sources.conftest import SnapshotMaker
from tests.helpers.queue_fixtures import add_people

# ivy@example.org (the instructor account) owns C1 in the LMS; u2 and u3 are her learners.
USERS = (
    "user_id,email,full_name,status\n"
    "u1,ivy@example.org,Ivy Instructor,active\n"
    "u2,,Bob Roe,active\n"
    "u3,,,active\n"
)
COURSES = (
    "course_id,title,owner_user_id,is_compliance,status\n"
    "C1,Safety,u1,false,active\n"
    "C2,Excel,,false,active\n"
)
ACTIVITY = (
    "event_id,user_id,course_id,verb,timestamp\n"
    "A1,u2,C1,viewed,2026-11-20T06:00:00Z\n"
    "A2,u2,C1,viewed,2026-11-20T06:05:00Z\n"
    "A3,u3,C1,launched,2026-11-21T06:00:00Z\n"
    "A4,u3,C2,viewed,2026-11-21T07:00:00Z\n"
    "A5,u1,,login,2026-11-21T08:00:00Z\n"
)


def test_without_enrolments_the_learners_are_those_seen_in_the_course(
    db: Engine, gapdesk_home: Path, make_snapshot: SnapshotMaker
) -> None:
    folder = make_snapshot(
        {"people": None, "enrollments": None, "lms_users": USERS, "courses": COURSES,
         "activity": ACTIVITY}
    )  # fmt: skip
    ingest(engine=db, actor=SYSTEM, path=folder)
    with Session(db) as session:
        people = add_people(session)
    roster = instructor_roster(engine=db, actor=people["ivy"])
    assert roster.courses == {"C1": "Safety"}
    assert roster.learners == {"C1": {"u2": "Bob Roe (u2)", "u3": "u3"}}


def test_with_enrolments_and_roster_the_hr_name_is_shown(
    db: Engine, gapdesk_home: Path, make_snapshot: SnapshotMaker
) -> None:
    ingest(engine=db, actor=SYSTEM, path=make_snapshot())
    with Session(db) as session:
        people = add_people(session)
    roster = instructor_roster(engine=db, actor=people["ada"])  # an admin sees every course
    assert set(roster.courses) == {"C1", "C2"}
    assert roster.learners["C1"] == {"u1": "Ann Lee (u1)", "u2": "Bob Roe (u2)"}
    assert roster.learners["C2"] == {"u1": "Ann Lee (u1)"}  # E3


def test_an_instructor_owns_nothing_known_when_the_log_carries_no_emails(
    db: Engine, gapdesk_home: Path, make_snapshot: SnapshotMaker
) -> None:
    users = "user_id,status\nu1,active\nu2,active\nu3,active\n"
    courses = "course_id,title,is_compliance,status\nC1,Safety,false,active\nC2,Excel,no,active\n"
    folder = make_snapshot(
        {"people": None, "enrollments": None, "lms_users": users, "courses": courses,
         "activity": ACTIVITY}
    )  # fmt: skip
    ingest(engine=db, actor=SYSTEM, path=folder)
    with Session(db) as session:
        people = add_people(session)
    assert instructor_roster(engine=db, actor=people["ivy"]).courses == {}
    admin_view = instructor_roster(engine=db, actor=people["ada"])
    assert admin_view.learners == {"C1": {"u2": "u2", "u3": "u3"}, "C2": {"u3": "u3"}}


def test_course_titles_come_from_the_latest_snapshot_and_are_empty_before_any(
    db: Engine, gapdesk_home: Path, make_snapshot: SnapshotMaker
) -> None:
    with Session(db) as session:
        assert course_titles(session=session) == {}
    folder = make_snapshot(
        {"people": None, "enrollments": None, "lms_users": USERS, "courses": COURSES,
         "activity": ACTIVITY}
    )  # fmt: skip
    ingest(engine=db, actor=SYSTEM, path=folder)
    with Session(db) as session:
        assert course_titles(session=session) == {"C1": "Safety", "C2": "Excel"}
