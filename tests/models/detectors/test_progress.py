"""Progress that goes down (progress_inconsistent) on literal tables: per learner, course, object
and attempt; a rewatch, a seek into another video or a restart at 0 is no contradiction."""

from __future__ import annotations

from typing import Any

from models.detectors.inconsistent import ProgressInconsistentDetector
from models.snapshot import Snapshot
from tests.helpers.detector_snapshots import course, enrol, snap, user

_NO_OBJECT = object()


def prog(
    eid: str, ts: str, value: float | None, obj: Any = _NO_OBJECT, verb: str = "progressed"
) -> dict[str, Any]:
    """A progress event of U1 in C1 (of object ``obj`` when given; None is an empty cell)."""
    row: dict[str, Any] = {
        "event_id": eid,
        "user_id": "U1",
        "course_id": "C1",
        "verb": verb,
        "timestamp": ts,
        "value": value,
    }
    if obj is not _NO_OBJECT:
        row["object_id"] = obj
    return row


def progress_snap(*activity: dict[str, Any]) -> Snapshot:
    return snap(
        lms_users=[user("U1", full_name="Ada Lovelace")],
        courses=[course("C1", title="Statistics")],
        enrollments=[enrol("E1", "U1", "C1")],
        activity=list(activity),
    )


def falls(*activity: dict[str, Any]) -> list:
    return ProgressInconsistentDetector().detect(progress_snap(*activity))


def test_progress_of_one_object_going_down_in_one_sitting_is_a_contradiction() -> None:
    found = falls(
        prog("A1", "2026-10-02T09:00:00Z", 40, "video-1"),
        prog("A2", "2026-10-02T09:10:00Z", 80, "video-1"),
        prog("A3", "2026-10-02T09:20:00Z", 35, "video-1"),
    )
    assert [p.entity_key for p in found] == ["enrollment=E1"]
    p = found[0]
    assert "Ada Lovelace (user U1)" in p.title and "Statistics (C1)" in p.title
    assert "in video-1 went down from 80% to 35% on 2026-10-02" in p.title
    assert p.evidence["progress_drops"][0]["object_id"] == "video-1"
    assert p.evidence["enrollments"][0]["learner"] == "Ada Lovelace (user U1)"


def test_progress_of_different_objects_is_never_compared() -> None:
    # 90% of one video, then 10% of the next: the course-level rule of version 1 saw a fall.
    rows = [
        prog("A1", "2026-10-02T09:00:00Z", 90, "video-1"),
        prog("A2", "2026-10-02T09:10:00Z", 10, "video-2"),
    ]
    assert falls(*rows) == []
    # Without an object_id column the snapshot only knows the course: compared per course.
    plain = [{k: v for k, v in r.items() if k != "object_id"} for r in rows]
    assert [p.entity_key for p in falls(*plain)] == ["enrollment=E1"]


def test_a_rewatch_on_another_occasion_is_not_a_contradiction() -> None:
    # Watched to 95% on Friday; on Monday the learner watches it again from the start.
    found = falls(
        prog("A1", "2026-10-02T09:00:00Z", 60, "video-1"),
        prog("A2", "2026-10-02T09:20:00Z", 95, "video-1"),
        prog("A3", "2026-10-05T14:00:00Z", 30, "video-1"),
        prog("A4", "2026-10-05T14:10:00Z", 70, "video-1"),
    )
    assert found == []
    # Switching the rule off (0) compares the two sittings again.
    det = ProgressInconsistentDetector(new_attempt_after_hours=0.0)
    rows = [
        prog("A1", "2026-10-02T09:20:00Z", 95, "video-1"),
        prog("A2", "2026-10-05T14:00:00Z", 30, "video-1"),
    ]
    assert [p.entity_key for p in det.detect(progress_snap(*rows))] == ["enrollment=E1"]


def test_a_new_launch_of_the_object_starts_a_new_attempt() -> None:
    # A second attempt at a quiz, minutes later, announced by its launch (xAPI "initialized").
    found = falls(
        prog("A1", "2026-10-02T09:00:00Z", 90, "quiz-1"),
        prog("A2", "2026-10-02T09:05:00Z", None, "quiz-1", verb="launched"),
        prog("A3", "2026-10-02T09:06:00Z", 20, "quiz-1"),
    )
    assert found == []
    # A launch of another object does not restart this one.
    found = falls(
        prog("A1", "2026-10-02T09:00:00Z", 90, "quiz-1"),
        prog("A2", "2026-10-02T09:05:00Z", None, "quiz-2", verb="launched"),
        prog("A3", "2026-10-02T09:06:00Z", 20, "quiz-1"),
    )
    assert [p.entity_key for p in found] == ["enrollment=E1"]


def test_a_restart_at_zero_is_not_a_contradiction_but_a_fall_after_it_is() -> None:
    # Course-level progress (no object): the LMS reset the learner's attempt to 0.
    assert (
        falls(
            prog("A1", "2026-10-02T09:00:00Z", 40),
            prog("A2", "2026-10-03T09:00:00Z", 80),
            prog("A3", "2026-10-04T09:00:00Z", 0),
            prog("A4", "2026-10-05T09:00:00Z", 30),
        )
        == []
    )
    found = falls(
        prog("A1", "2026-10-02T09:00:00Z", 80),
        prog("A2", "2026-10-03T09:00:00Z", 0),
        prog("A3", "2026-10-04T09:00:00Z", 50),
        prog("A4", "2026-10-05T09:00:00Z", 30),  # 50 -> 30 within the new attempt
    )
    assert [p.entity_key for p in found] == ["enrollment=E1"]
    drop = found[0].evidence["progress_drops"][0]
    assert (drop["before"], drop["after"]) == (50.0, 30.0)


def test_course_progress_is_cumulative_across_sittings() -> None:
    # Without objects, a later sitting does not restart the course's progress: 80 -> 60 a week
    # later is a contradiction (the rewatch rule is for objects only).
    found = falls(
        prog("A1", "2026-10-02T09:00:00Z", 80),
        prog("A2", "2026-10-09T09:00:00Z", 60),
    )
    assert [p.entity_key for p in found] == ["enrollment=E1"]


def test_events_without_an_object_are_compared_per_course_among_themselves() -> None:
    # The column is there but two reports have an empty cell: they are about the course.
    found = falls(
        prog("A1", "2026-10-02T09:00:00Z", 70, None),
        prog("A2", "2026-10-02T09:10:00Z", 20, "video-1"),
        prog("A3", "2026-10-09T09:00:00Z", 50, None),
    )
    assert [p.entity_key for p in found] == ["enrollment=E1"]
    assert found[0].evidence["progress_drops"][0]["object_id"] is None
