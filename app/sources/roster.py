"""What an instructor may report about: their courses and the learners enrolled in them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from app.auth.accounts import normalise_email
from app.core.db import session_scope
from app.core.errors import UserError
from app.sources.store import find_snapshot, load_stored
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
        mine = users.loc[
            users["email"].astype(str).str.strip().str.lower() == normalise_email(user.email),
            "user_id",
        ]
        active = active[active["owner_user_id"].isin(set(mine))]
    owned = dict(zip(active["course_id"].astype(str), active["title"].astype(str), strict=True))
    enrolled = snap["enrollments"]
    enrolled = enrolled[enrolled["course_id"].isin(set(owned))]
    names = users[["user_id", "person_id"]].merge(
        snap["people"][["person_id", "full_name"]], how="left", on="person_id"
    )
    label = dict(zip(names["user_id"], names["full_name"].fillna(""), strict=True))
    learners: dict[str, dict[str, str]] = {c: {} for c in owned}
    for course_id, user_id in zip(enrolled["course_id"], enrolled["user_id"], strict=True):
        who = label.get(user_id) or ""
        learners[str(course_id)][str(user_id)] = f"{who} ({user_id})" if who else str(user_id)
    return Roster(snapshot_id=record.id, courses=owned, learners=learners)
