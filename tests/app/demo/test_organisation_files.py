"""The demo organisation's files: the contract's shape, a plausible organisation, the same bytes
for the same seed, and parameters, overwrites and the CLI handled as a user expects."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from app.cli.demo_data import demo_data_command
from app.core.errors import UserError
from app.demo.organisation import generate_demo_org
from tests.app.demo.reference_rules import DAY, HEURISTIC_RULES, TABLES, TIMESTAMPS, Snap

COLUMNS = {
    "people": "person_id email full_name department job_title manager_person_id "
    "employment_status hire_date termination_date",
    "lms_users": "user_id person_id email status created_at last_login_at",
    "courses": "course_id title department owner_user_id is_compliance due_days grading_sla_days "
    "status",
    "enrollments": "enrollment_id user_id course_id source status enrolled_at due_at completed_at "
    "withdrawn_at progress_pct",
    "enrollment_rules": "rule_id course_id department job_title active grace_days",
    "activity": "event_id user_id course_id verb timestamp value",
    "submissions": "submission_id user_id course_id assignment_id submitted_at graded_at score",
    "notifications": "notification_id user_id course_id kind channel sent_at delivered_at bounced "
    "opened_at",
    "sync_runs": "run_id integration started_at finished_at status records_read records_written "
    "error_count",
}
ENUMS = {
    ("people", "employment_status"): {"active", "leave", "terminated"},
    ("lms_users", "status"): {"active", "suspended", "deleted"},
    ("courses", "status"): {"active", "archived"},
    ("courses", "is_compliance"): {"true", "false"},
    ("enrollments", "source"): {"rule", "manual", "hr_sync", "self"},
    ("enrollments", "status"): {"enrolled", "in_progress", "completed", "withdrawn", "failed"},
    ("enrollment_rules", "active"): {"true", "false"},
    ("activity", "verb"): {
        "login",
        "login_failed",
        "launched",
        "launch_failed",
        "viewed",
        "progressed",
        "submitted",
        "completed",
        "passed",
        "failed",
    },
    ("notifications", "kind"): {"enrollment", "reminder", "overdue", "feedback", "other"},
    ("notifications", "channel"): {"email", "sms", "push", "in_app"},
    ("notifications", "bounced"): {"true", "false"},
    ("sync_runs", "status"): {"success", "partial", "failed", "running"},
}


def test_contract_shape(default_org: Snap) -> None:
    for name in TABLES:
        raw = default_org.raw[name]
        assert list(raw.columns) == COLUMNS[name].split(), name
        assert len(raw) > 0, name
        id_col = raw.columns[0]
        assert raw[id_col].is_unique and (raw[id_col] != "").all(), name
    for (table, col), allowed in ENUMS.items():
        assert set(default_org.raw[table][col]) <= allowed, (table, col)
    for table, cols in TIMESTAMPS.items():
        for col in cols:
            filled = default_org.raw[table][col]
            filled = filled[filled != ""]
            assert filled.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all(), (table, col)
    enr = default_org["enrollments"]
    progress = pd.to_numeric(enr["progress_pct"])
    assert progress.dropna().between(0, 100).all()
    users = default_org["lms_users"]
    assert set(enr["user_id"]) <= set(users["user_id"])
    assert set(default_org["activity"]["user_id"]) <= set(users["user_id"])
    assert set(enr["course_id"]) <= set(default_org["courses"]["course_id"])
    # Nothing happens after the moment the snapshot describes.
    for table, cols in TIMESTAMPS.items():
        for col in cols:
            if col != "due_at":
                assert (default_org[table][col].dropna() < default_org.as_of).all(), (table, col)


def test_looks_like_an_organisation(default_org: Snap) -> None:
    people = default_org["people"]
    assert people["department"].nunique() >= 6
    assert people["job_title"].nunique() >= 20
    assert people["manager_person_id"].notna().mean() > 0.99
    assert set(people["employment_status"]) == {"active", "leave", "terminated"}
    enr = default_org["enrollments"]
    assert set(enr["source"]) == {"rule", "manual", "hr_sync", "self"}
    assert 8 <= len(enr) / len(people) <= 14
    act = default_org["activity"]
    per_weekday = act["timestamp"].dt.day_of_week.value_counts().sort_index()
    assert per_weekday[5] < 0.45 * per_weekday[1] and per_weekday[6] < 0.45 * per_weekday[1]
    daily = act.groupby(act["timestamp"].dt.normalize()).size()
    thanksgiving = daily[pd.Timestamp("2026-11-26", tz=UTC)]
    usual_thursday = daily[daily.index.day_of_week == 3].median()
    assert thanksgiving < 0.5 * usual_thursday
    notes = default_org["notifications"]
    assert set(notes["channel"]) == {"email", "sms", "push", "in_app"}
    assert (notes["bounced"] == "true").mean() < 0.03
    runs = default_org["sync_runs"]
    hr = runs[runs["integration"] == "hr_to_lms"]["started_at"]
    minutes = hr.dt.hour * 60 + hr.dt.minute
    assert minutes.between(110, 130).all()  # the nightly HR sync, around 02:00


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    def digest(folder: Path) -> dict[str, str]:
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
        }

    generate_demo_org(tmp_path / "a", seed=7, people=400, days=42)
    generate_demo_org(tmp_path / "b", seed=7, people=400, days=42)
    generate_demo_org(tmp_path / "c", seed=8, people=400, days=42)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert len(a) == 11
    assert a == b
    assert a["people.csv"] != c["people.csv"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"people": 10}, "people must be between"),
        ({"days": 7}, "days must be between"),
        ({"seed": -1}, "seed must be"),
        ({"as_of": datetime(2026, 11, 27, 12, tzinfo=UTC)}, "as_of must be a UTC midnight"),
    ],
)
def test_bad_parameters_are_refused_and_write_nothing(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(UserError, match=message):
        generate_demo_org(out, **kwargs)  # type: ignore[arg-type]
    assert not out.exists()


def test_existing_output_is_not_overwritten_silently(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("mine")
    with pytest.raises(UserError, match=r"already holds people\.csv"):
        generate_demo_org(tmp_path, seed=1, people=300, days=42)
    assert (tmp_path / "people.csv").read_text() == "mine"


def test_cli_writes_the_organisation_and_fails_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        demo_data_command, [str(tmp_path / "org"), "--seed", "3", "--people", "300", "--days", "42"]
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "org" / "ground_truth.csv").exists()
    assert "ground_truth.csv" in ok.output
    again = runner.invoke(demo_data_command, [str(tmp_path / "org"), "--people", "300"])
    assert again.exit_code != 0 and "--force" in again.output
    bad = runner.invoke(demo_data_command, [str(tmp_path / "x"), "--people", "5"])
    assert bad.exit_code != 0
    assert "people must be between" in bad.output
    assert "Traceback" not in bad.output
    near = runner.invoke(
        demo_data_command,
        [str(tmp_path / "org"), "--people", "300", "--days", "42", "--near-misses", "--force"],
    )
    assert near.exit_code == 0, near.output
    assert "near misses in 3 categories" in near.output
    assert (tmp_path / "org" / "near_misses.csv").exists()


def test_another_as_of_moves_the_whole_organisation(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        demo_data_command,
        [str(tmp_path), "--seed", "5", "--people", "300", "--days", "40", "--as-of", "2025-01-06"],
    )
    assert result.exit_code == 0, result.output
    snap = Snap(tmp_path)
    assert snap.as_of == pd.Timestamp("2025-01-06", tz=UTC)
    act = snap["activity"]["timestamp"]
    assert act.max() < snap.as_of and act.min() >= snap.as_of - 40 * DAY
    # New Year's Day (a Wednesday) is quiet, like a weekend day.
    daily = act.groupby(act.dt.normalize()).size()
    assert (
        daily[pd.Timestamp("2025-01-01", tz=UTC)] < 0.6 * daily[pd.Timestamp("2024-12-31", tz=UTC)]
    )
    for category, rule in HEURISTIC_RULES.items():
        assert rule(snap) == snap.truth[category], category
