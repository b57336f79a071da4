"""Where a gap sits: the course and department behind each entity key, looked up in a snapshot.

People-level keys (person, user, enrollment) take the person's HR department, since that is
whose training is affected; course-level keys take the course's department.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from models.snapshot import Snapshot
from models.taxonomy import ENTITY_KEY_ORDER


def split_entity_keys(keys: Sequence[str]) -> pd.DataFrame:
    """One column per entity-key name (missing names are null), vectorised."""
    series = pd.Series(list(keys), dtype="string")
    out = pd.DataFrame({"entity_key": series})
    for name in ENTITY_KEY_ORDER:
        out[name] = series.str.extract(rf"(?:^|;){name}=([^;]*)", expand=False)
    return out


def attribute_entities(snapshot: Snapshot, keys: Sequence[str]) -> pd.DataFrame:
    """``entity_key, course_id, department`` for each key (null where it does not apply)."""
    parts = split_entity_keys(keys)
    people = snapshot["people"][["person_id", "department"]].rename(
        columns={"department": "person_department"}
    )
    users = snapshot["lms_users"][["user_id", "person_id"]].rename(
        columns={"person_id": "user_person_id"}
    )
    enrollments = snapshot["enrollments"][["enrollment_id", "user_id", "course_id"]].rename(
        columns={"user_id": "enrolled_user_id", "course_id": "enrolled_course_id"}
    )
    courses = snapshot["courses"][["course_id", "department"]].rename(
        columns={"course_id": "course_key", "department": "course_department"}
    )
    frame = parts.merge(enrollments, how="left", left_on="enrollment", right_on="enrollment_id")
    frame["user_any"] = frame["user"].fillna(frame["enrolled_user_id"])
    frame = frame.merge(users, how="left", left_on="user_any", right_on="user_id")
    frame["person_any"] = frame["person"].fillna(frame["user_person_id"])
    frame = frame.merge(people, how="left", left_on="person_any", right_on="person_id")
    frame["course_id"] = frame["course"].fillna(frame["enrolled_course_id"])
    frame = frame.merge(courses, how="left", left_on="course_id", right_on="course_key")
    frame["department"] = frame["person_department"].fillna(frame["course_department"])
    out = frame[["entity_key", "course_id", "department"]].astype(object)
    return out.where(out.notna(), None).drop_duplicates("entity_key")
