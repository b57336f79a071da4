"""Findings that would only be artefacts: of a merge (a row whose source did not carry the column
another part carried) or of quarantine (a reference to a row that was set aside)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from app.sources.result import merge_tables
from models.detectors.courses import UnownedCourseDetector
from models.detectors.enrolment import EnrollmentMissingDetector
from models.detectors.identity import OrphanAccountDetector
from models.snapshot import NOT_CARRIED, Snapshot
from tests.helpers.detector_snapshots import course, enrol, person, snap, user


def _keys(proposals: list) -> set[str]:  # type: ignore[type-arg]
    return {p.entity_key for p in proposals}


def _merged(s: Snapshot, table: str, without: str, rows: list[str], key: str) -> Snapshot:
    """``s`` with ``table`` rebuilt as if ``rows`` (by ``key``) came from a second source that
    did not carry ``without``."""
    frame = s[table]
    second = frame[frame[key].isin(rows)].drop(columns=[without])
    first = frame[~frame[key].isin(rows)]
    merged = merge_tables({table: first}, {table: second})[table]
    return replace(s, tables={**s.tables, table: merged})


def test_a_course_from_a_source_without_owners_is_not_unowned() -> None:
    s = snap(
        lms_users=[user("U1")],
        courses=[course("C1", owner_user_id=None), course("C2", owner_user_id=None)],
    )
    assert _keys(UnownedCourseDetector().detect(s)) == {"course=C1", "course=C2"}
    # C2 came from a log, which carries no owners: unknown, not "known to have none".
    s = _merged(s, "courses", "owner_user_id", ["C2"], "course_id")
    assert s["courses"].set_index("course_id").loc["C2", NOT_CARRIED] == "owner_user_id"
    assert _keys(UnownedCourseDetector().detect(s)) == {"course=C1"}


def test_a_user_from_a_source_without_hr_links_is_not_an_orphan() -> None:
    s = snap(people=[person("P1")], lms_users=[user("U1", None), user("U2", None)])
    assert _keys(OrphanAccountDetector().detect(s)) == {"user=U1", "user=U2"}
    s = _merged(s, "lms_users", "person_id", ["U2"], "user_id")
    assert _keys(OrphanAccountDetector().detect(s)) == {"user=U1"}


def test_a_row_both_sources_name_takes_each_column_from_the_one_that_carried_it() -> None:
    users = merge_tables(
        {"lms_users": pd.DataFrame({"user_id": ["U1"], "status": ["active"], "email": ["a@x"]})},
        {
            "lms_users": pd.DataFrame(
                {"user_id": ["U1", "U2"], "status": ["active"] * 2, "full_name": ["Ann", "Bo"]}
            )
        },
    )["lms_users"].set_index("user_id")
    assert users.loc["U1", "email"] == "a@x" and users.loc["U1", "full_name"] == "Ann"
    assert users.loc["U1", NOT_CARRIED] == "" and users.loc["U2", NOT_CARRIED] == "email"


def _set_aside(s: Snapshot, **held: list[dict[str, str]]) -> Snapshot:
    return replace(s, set_aside={t: pd.DataFrame(rows) for t, rows in held.items()})


def test_a_link_to_a_person_quarantine_set_aside_is_not_an_orphan() -> None:
    s = snap(people=[person("P1")], lms_users=[user("U1", "P1"), user("U2", "P2")])
    assert _keys(OrphanAccountDetector().detect(s)) == {"user=U2"}
    held = _set_aside(s, people=[{"person_id": "P2", "employment_status": "gone"}])
    assert _keys(OrphanAccountDetector().detect(held)) == set()


def test_an_owner_quarantine_set_aside_does_not_leave_the_course_unowned() -> None:
    s = snap(lms_users=[user("U1")], courses=[course("C1", owner_user_id="U9")])
    assert _keys(UnownedCourseDetector().detect(s)) == {"course=C1"}
    held = _set_aside(s, lms_users=[{"user_id": "U9", "status": "retired"}])
    assert _keys(UnownedCourseDetector().detect(held)) == set()


def test_a_person_whose_account_or_enrolment_was_set_aside_is_not_missing_an_enrolment() -> None:
    s = snap(
        people=[person("P1", hire_date="2026-01-01"), person("P2", hire_date="2026-01-01")],
        lms_users=[user("U1", "P1"), user("U2", "P2")],
        courses=[course("C1")],
        enrollments=[enrol("E0", "U1", "C9")],
        enrollment_rules=[{"rule_id": "R1", "course_id": "C1", "active": True}],
    )
    assert _keys(EnrollmentMissingDetector().detect(s)) == {
        "person=P1;course=C1",
        "person=P2;course=C1",
    }
    held = _set_aside(
        s,
        lms_users=[{"user_id": "U7", "person_id": "P1", "status": "gone"}],
        enrollments=[{"enrollment_id": "E1", "user_id": "U2", "course_id": "C1"}],
    )
    assert _keys(EnrollmentMissingDetector().detect(held)) == set()
