"""The contract as data agrees with the written contract and with models.snapshot."""

from __future__ import annotations

from app.sources.contract import TABLES, enforced_references, table
from models.snapshot import ALL_TABLES, REQUIRED_TABLES


def test_tables_and_requiredness_match_the_snapshot_model() -> None:
    assert tuple(TABLES) == ALL_TABLES
    assert tuple(n for n, t in TABLES.items() if t.required) == REQUIRED_TABLES


def test_every_table_has_one_unique_id_column_ending_in_id() -> None:
    for t in TABLES.values():
        assert [c.name for c in t.columns if c.unique] == [t.id_column]
        assert t.id_column.endswith("_id")


def test_references_that_are_gaps_are_not_enforced() -> None:
    enforced = {(name, ref.column) for name, ref in enforced_references()}
    assert ("enrollments", "user_id") in enforced and ("enrollments", "course_id") in enforced
    assert ("activity", "course_id") in enforced
    assert ("lms_users", "person_id") not in enforced  # orphan_account
    assert ("courses", "owner_user_id") not in enforced  # unowned_course
    assert ("people", "manager_person_id") not in enforced
    # Enforced references only point at tables that have no enforced references themselves,
    # so one pass after the table checks is enough.
    targets = {ref.target_table for _, ref in enforced_references()}
    assert targets <= {"lms_users", "courses"}
    assert not any(name in targets for name, _ in enforced_references())


def test_enums_follow_the_written_contract() -> None:
    assert table("enrollments").column("status").enum == (
        "enrolled",
        "in_progress",
        "completed",
        "withdrawn",
        "failed",
    )
    assert table("notifications").column("channel").enum == ("email", "sms", "push", "in_app")
    assert table("enrollments").column("progress_pct").maximum == 100
