"""Orphan, mismatched and duplicate accounts, on literal tables."""

from __future__ import annotations

from models.detectors.identity import (
    DuplicateAccountDetector,
    OrphanAccountDetector,
    RecordMismatchDetector,
)
from tests.helpers.detector_snapshots import person, snap, user


def keys(proposals: list) -> set[str]:
    return {p.entity_key for p in proposals}


def test_orphan_account_fires_for_unlinked_unknown_and_terminated_but_not_for_inactive() -> None:
    s = snap(
        people=[
            person("P1"),
            person("P2", employment_status="terminated", termination_date="2026-10-01"),
            person("P3", employment_status="leave"),
        ],
        lms_users=[
            user("U1", "P1"),  # fine
            user("U2", None),  # unlinked
            user("U3", "P9"),  # unknown person
            user("U4", "P2", last_login_at="2026-11-20T10:00:00Z"),  # leaver still logging in
            user("U5", "P2", status="suspended"),  # leaver, but the account is not active
            user("U6", "P3"),  # on leave is not an orphan
            user("U7", None, status="deleted"),  # unlinked but deleted
        ],
    )
    found = {p.entity_key: p for p in OrphanAccountDetector().detect(s)}
    assert set(found) == {"user=U2", "user=U3", "user=U4"}
    assert found["user=U4"].severity == "critical"
    assert "terminated" in found["user=U4"].title
    assert found["user=U4"].score > found["user=U2"].score
    assert found["user=U4"].evidence["people"][0]["termination_date"].startswith("2026-10-01")


def test_record_mismatch_ignores_case_and_blanks_but_not_a_different_address() -> None:
    s = snap(
        people=[person("P1", email="dana@x.org"), person("P2", email="lee@x.org")],
        lms_users=[
            user("U1", "P1", email="  DANA@X.org "),
            user("U2", "P2", email="lee@y.org"),
            user("U3", None, email="nobody@x.org"),
            user("U4", "P9", email="ghost@x.org"),  # unknown person: orphan, not mismatch
        ],
    )
    found = RecordMismatchDetector().detect(s)
    assert keys(found) == {"user=U2"}
    assert "lee@y.org" in found[0].title and "lee@x.org" in found[0].title


def test_duplicate_account_needs_two_active_accounts_of_one_person() -> None:
    s = snap(
        people=[person("P1"), person("P2")],
        lms_users=[
            user("U1", "P1"),
            user("U2", "P1"),
            user("U3", "P2"),
            user("U4", "P2", status="suspended"),  # near miss: second account not active
        ],
    )
    found = DuplicateAccountDetector().detect(s)
    assert keys(found) == {"person=P1"}
    assert found[0].features["active_accounts"] == 2
    assert {r["user_id"] for r in found[0].evidence["lms_users"]} == {"U1", "U2"}


def test_account_detectors_on_empty_tables_propose_nothing() -> None:
    s = snap()
    for det in (
        OrphanAccountDetector(),
        RecordMismatchDetector(),
        DuplicateAccountDetector(),
    ):
        assert det.detect(s) == []
