"""What an instructor may report about: their courses and the learners enrolled in them; the
courses' titles for naming them elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.auth.accounts import normalise_email
from app.core.db import session_scope
from app.core.errors import UserError
from app.core.records import SnapshotRecord
from app.sources.store import find_snapshot, load_stored
from models.snapshot import Snapshot
from review_queue.permissions import Actor, require_role
from review_queue.tables import Role, User

ROSTER_TABLES = ("courses", "lms_users", "enrollments", "people")


@dataclass(frozen=True)
class Roster:
    """An instructor's courses (id → title) and each course's learners (user id → label)."""

    snapshot_id: str
    courses: dict[str, str]
    learners: dict[str, dict[str, str]]


def instructor_roster(*, engine: Engine, actor: Actor) -> Roster:
    """The courses ``actor`` owns in the latest snapshot (admins: every active course)."""
    require_role(actor, (Role.instructor, Role.admin), "reporting learner problems")
    with session_scope(engine) as session:
        user = session.get(User, actor.id) if actor.id is not None else None
        record = find_snapshot(session=session, snapshot_id=None)
    if user is None:
        raise UserError("your account was not found")
    snap = load_stored(record, ROSTER_TABLES)
    courses, users = snap["courses"], snap["lms_users"]
    active = courses[courses["status"] == "active"]
    if actor.role is Role.instructor:
        # Without e-mails or owners in the snapshot, no course can be known to be theirs.
        mine: set[str] = set()
        if snap.has_column("lms_users", "email") and snap.has_column("courses", "owner_user_id"):
            email = users["email"].astype(str).str.strip().str.lower()
            mine = set(users.loc[email == normalise_email(user.email), "user_id"])
        active = active[active["owner_user_id"].isin(mine)] if mine else active.head(0)
    owned = dict(zip(active["course_id"].astype(str), active["title"].astype(str), strict=True))
    enrolled = _course_learners(record, snap)
    enrolled = enrolled[enrolled["course_id"].isin(set(owned))]
    label = _learner_names(snap)
    learners: dict[str, dict[str, str]] = {c: {} for c in owned}
    for course_id, user_id in zip(enrolled["course_id"], enrolled["user_id"], strict=True):
        who = label.get(user_id) or ""
        learners[str(course_id)][str(user_id)] = f"{who} ({user_id})" if who else str(user_id)
    return Roster(snapshot_id=record.id, courses=owned, learners=learners)


def _course_learners(record: SnapshotRecord, snap: Snapshot) -> pd.DataFrame:
    """``course_id, user_id`` of each enrolment; without enrolments (contract version 2: an LMS
    log alone), the learners seen acting in each course."""
    if snap.has("enrollments"):
        return snap["enrollments"][["course_id", "user_id"]]
    events = load_stored(record, ("activity",))
    if not events.has("activity"):
        return pd.DataFrame(
            {"course_id": pd.Series(dtype="str"), "user_id": pd.Series(dtype="str")}
        )
    seen = events["activity"][["course_id", "user_id"]].dropna()
    return seen.drop_duplicates()


def _learner_names(snap: Snapshot) -> dict[str, str]:
    """user id → name: the HR roster's, else the LMS's own (either table may lack it)."""
    users = snap["lms_users"]
    names = pd.Series(pd.NA, index=users.index, dtype="str")
    if snap.has_column("lms_users", "full_name"):
        names = users["full_name"]
    if snap.has("people") and snap.has_column("lms_users", "person_id"):
        people = snap["people"].set_index("person_id")["full_name"]
        names = users["person_id"].map(people).fillna(names)
    return dict(zip(users["user_id"], names.fillna(""), strict=True))


def course_titles(*, session: Session) -> dict[str, str]:
    """Course id → title in the latest snapshot, for naming courses beside their ids (Trends);
    empty when nothing is ingested yet or the snapshot carries no titles."""
    try:
        record = find_snapshot(session=session, snapshot_id=None)
        courses = load_stored(record, ["courses"]).tables.get("courses")
    except UserError:
        return {}
    if courses is None or "title" not in courses:
        return {}
    named = courses.dropna(subset=["title"])
    return dict(zip(named["course_id"].astype(str), named["title"].astype(str), strict=True))
