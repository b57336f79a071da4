"""Names beside ids wherever a person reads a finding: titles and evidence (contract version 2:
``lms_users.full_name`` where the source carries it; email and the HR roster may be absent)."""

from __future__ import annotations

from models.detectors.common import account_labels, user_labels, with_names
from models.detectors.courses import UnownedCourseDetector
from models.detectors.enrolment import EnrollmentFailedDetector
from models.detectors.identity import OrphanAccountDetector, RecordMismatchDetector
from models.detectors.notifications import NotificationUndeliveredDetector
from models.snapshot import Snapshot
from tests.helpers.detector_snapshots import course, enrol, person, snap, typed, user


def _users() -> Snapshot:
    return snap(
        people=[person("P1", full_name="Grace Hopper")],
        lms_users=[
            user("U1", "P1", full_name="G. Hopper"),  # the LMS's own name wins
            user("U2", "P1"),  # linked, no LMS name: HR's name
            user("U3", email="ada@example.org"),  # unlinked, no name: the email
            user("U4", email=None),  # nothing known but the id
        ],
    )


def test_user_labels_prefer_the_lms_name_then_hr_then_email() -> None:
    labels = user_labels(_users())
    assert labels["U1"] == "G. Hopper (user U1)"
    assert labels["U2"] == "Grace Hopper (user U2)"
    assert labels["U3"] == "ada@example.org (user U3)"
    assert labels["U4"] == "user U4"
    # The account's own label never borrows HR's name.
    assert account_labels(_users())["U2"] == "p1@example.org (user U2)"


def test_user_labels_without_an_hr_roster_or_a_name_column() -> None:
    s = _users()
    del s.tables["people"]
    s.tables["lms_users"] = s.tables["lms_users"].drop(columns=["full_name"])
    labels = user_labels(s)
    assert labels["U2"] == "p1@example.org (user U2)"
    assert labels["U4"] == "user U4"


def test_orphan_and_mismatch_titles_name_the_account() -> None:
    s = snap(
        people=[person("P1", full_name="Grace Hopper", email="grace@example.org")],
        lms_users=[
            user("U1", None, full_name="Ada Lovelace", email=None),
            user("U2", "P1", full_name="G. Hopper", email="gh@example.org"),
        ],
    )
    orphan = OrphanAccountDetector().detect(s)
    assert (
        orphan[0].title == "LMS account Ada Lovelace (user U1) is active but linked to no HR person"
    )
    mismatch = RecordMismatchDetector().detect(s)
    assert mismatch[0].title.startswith("User U2 (G. Hopper) has email gh@example.org in the LMS")


def test_an_owner_is_named_from_the_lms_when_hr_does_not_know_them() -> None:
    s = snap(
        people=[person("P9", employment_status="terminated")],
        lms_users=[user("U7", "P9", full_name="Alan Turing")],
        courses=[course("C1", title="Cryptography", owner_user_id="U7")],
    )
    found = UnownedCourseDetector().detect(s)
    assert "is owned by Alan Turing (user U7), who has left" in found[0].title


def test_evidence_rows_carry_names_beside_ids() -> None:
    s = snap(
        lms_users=[user("U1", full_name="Ada Lovelace")],
        courses=[course("C1", title="Statistics")],
        enrollments=[enrol("E1", "U1", "C1", status="failed")],
    )
    row = EnrollmentFailedDetector().detect(s)[0].evidence["enrollments"][0]
    assert (row["user_id"], row["learner"]) == ("U1", "Ada Lovelace (user U1)")
    assert (row["course_id"], row["course"]) == ("C1", "Statistics (C1)")
    frame = typed(
        "notifications",
        [
            {
                "notification_id": f"N{i}",
                "user_id": "U1",
                "course_id": None if i else "C1",
                "kind": "reminder",
                "channel": "email",
                "sent_at": f"2026-11-{10 + i}T09:00:00Z",
                "bounced": True,
            }
            for i in range(4)
        ],
    )
    s.tables["notifications"] = frame
    found = NotificationUndeliveredDetector().detect(s)
    rows = found[0].evidence["notifications"]
    assert {r["learner"] for r in rows} == {"Ada Lovelace (user U1)"}
    assert {r["course"] for r in rows} == {"Statistics (C1)", None}
    assert list(with_names(frame.head(1), s).columns[:4]) == [
        "notification_id",
        "user_id",
        "learner",
        "course_id",
    ]
