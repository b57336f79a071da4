"""Open edX tracking logs → activity per object, users and courses (the real logs first)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from app.sources.openedx import LEFT_OUT, import_openedx_logs, usage_key
from tests.app.sources.conftest import SHARED_LMS

OPENEDX = SHARED_LMS / "more" / "openedx"


def real(name: str) -> Path:
    path = OPENEDX / name
    if not path.exists():
        pytest.skip(f"{path} is absent (it carries no licence and is read from ../shared only)")
    return path


def test_the_real_production_log_becomes_activity_per_object() -> None:
    result = import_openedx_logs([real("utpl_tracking.log")])
    counts = result.report.counts
    activity = result.tables["activity"]
    assert counts["events read"] == 243
    assert len(activity) == counts["activity rows"] == 60
    assert activity["event_id"].is_unique
    # Every line is accounted for: kept, or left out with its reason.
    left_out = sum(v for k, v in counts.items() if k.startswith("left out: "))
    assert len(activity) + left_out == 243
    assert counts[f"left out: {LEFT_OUT['handler']}"] == 77
    assert counts[f"left out: {LEFT_OUT['anonymous']}"] == 27
    assert activity["verb"].value_counts().to_dict() == {"viewed": 59, "submitted": 1}
    assert set(activity["course_id"]) == {
        "course-v1:UTPL+SRM+2016_P1", "course-v1:UTPL+JIT+2016", "course-v1:UTPL+TC2016+2016_P1",
        "course-v1:UTPL+AKOMP+2016",
    }  # fmt: skip
    assert activity["timestamp"].dt.tz is not None
    assert activity["timestamp"].min() == pd.Timestamp("2016-11-16T17:17:04.310773Z")  # the survey


def test_one_object_has_one_id_whichever_event_names_it() -> None:
    activity = import_openedx_logs([real("utpl_tracking.log")]).tables["activity"]
    sequence = "block-v1:UTPL+JIT+2016+type@sequential+block@24ca784a3f1c44bd850f79c2ae2f836f"
    # seq_goto (a browser event with the full key) and the courseware URL (a bare block id).
    named = activity[activity["object_id"] == sequence]
    assert set(named["event_type"].str.startswith("/courses/")) == {True, False}
    videos = activity[activity["event_type"] == "load_video"]["object_id"]
    assert videos.str.startswith("block-v1:UTPL+JIT+2016+type@video+block@").all()
    survey = activity[activity["verb"] == "submitted"]
    assert survey["object_id"].tolist() == [
        "block-v1:UTPL+TC2016+2016_P1+type@survey+block@6788ed9da3d148658716bebb31d9eb39"
    ]


def test_users_carry_no_email_and_courses_are_the_ones_seen() -> None:
    tables = import_openedx_logs([real("utpl_tracking.log")]).tables
    users = tables["lms_users"]
    assert "email" not in users and "created_at" not in users  # absent, not empty
    assert users.set_index("user_id").loc["enith82", "openedx_user_id"] == "1399"
    assert len(users) == 8 and users["user_id"].is_unique
    assert sorted(tables["courses"]["course_id"]) == sorted(set(tables["activity"]["course_id"]))


def test_the_real_studio_sandbox_log_has_no_learner_activity() -> None:
    result = import_openedx_logs([real("sandbox_tracking.log")])
    assert len(result.tables["activity"]) == 0
    assert result.report.counts[f"left out: {LEFT_OUT['preview']}"] == 13


def _event(event_type: str, **extra: Any) -> dict[str, Any]:
    base = {
        "username": "ann",
        "event_type": event_type,
        "event_source": "server",
        "time": "2024-03-01T10:00:00+00:00",
        "context": {"user_id": 7, "course_id": "course-v1:Org+C1+2024"},
        "event": {},
    }
    return {**base, **extra}


def _write(tmp_path: Path, events: list[dict[str, Any]], *, gz: bool = False) -> Path:
    text = "".join(json.dumps(e) + "\n" for e in events)
    path = tmp_path / ("tracking.log.gz" if gz else "tracking.log")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def test_graded_checks_pass_or_fail_with_their_score(tmp_path: Path) -> None:
    problem = "block-v1:Org+C1+2024+type@problem+block@p1"
    events = [
        _event("problem_check", event={"problem_id": problem, "success": "correct",
                                       "grade": 2, "max_grade": 2}),
        _event("problem_check", event={"problem_id": problem, "success": "incorrect",
                                       "grade": 1, "max_grade": 4}),
        _event("problem_check", event_source="browser", event="input_p1=3"),
        _event("edx.course.grade.now_failed"),
    ]  # fmt: skip
    activity = import_openedx_logs([_write(tmp_path, events)]).tables["activity"]
    assert activity[["verb", "value"]].values.tolist()[:2] == [["passed", 100.0], ["failed", 25.0]]
    assert activity["object_id"].iloc[0] == problem
    assert activity["verb"].tolist() == ["passed", "failed", "failed"]  # the browser copy is out
    assert pd.isna(activity["object_id"].iloc[2])  # a course grade is about no one object


def test_gzip_syslog_prefixes_and_broken_lines(tmp_path: Path) -> None:
    good = json.dumps(_event("play_video", event_source="browser", event='{"id": "v9"}'))
    path = tmp_path / "tracking.log-20240301.gz"
    path.write_bytes(
        gzip.compress(
            (
                f"Mar  1 10:00:00 lms [service_variant=lms][tracking] {good}\n"
                "not json at all\n"
                + json.dumps(_event("seq_goto", time="yesterday")) + "\n"
            ).encode()
        )
    )  # fmt: skip
    result = import_openedx_logs([path])
    activity = result.tables["activity"]
    assert activity["object_id"].tolist() == ["block-v1:Org+C1+2024+type@video+block@v9"]
    counts = result.report.counts
    assert counts["dropped: lines that are not a JSON tracking event"] == 1
    assert counts["dropped: events without a readable time"] == 1


def test_old_style_course_ids_get_i4x_keys() -> None:
    assert usage_key("MITx/6.002x/2012_Fall", "abc", "video") == "i4x://MITx/6.002x/video/abc"
    assert usage_key("course-v1:A+B+C", "abc", "problem") == "block-v1:A+B+C+type@problem+block@abc"
    assert usage_key("course-v1:A+B+C", "block-v1:A+B+C+type@x+block@y", "video").endswith("@y")
