"""Fixtures for the sources tests: a small valid snapshot folder that each test can break."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED

SHARED_LMS = SHARED / "data" / "lms"
TEST_DATA = REPO / "tests" / "data"

VALID_CSV: dict[str, str] = {
    "people": (
        "person_id,email,full_name,department,job_title,manager_person_id,employment_status,"
        "hire_date,termination_date\n"
        "007,ann@example.org,Ann Lee,Sales,Rep,,active,2024-01-15,\n"
        "008,bob@example.org,Bob Roe,Sales,Manager,007,Leave,2023-05-02,\n"
        "009,cy@example.org,Cy Poe,IT,Dev,P404,terminated,2022-02-01,2026-10-01\n"
    ),
    "lms_users": (
        "user_id,person_id,email,status,created_at,last_login_at,favourite_colour\n"
        "u1,007,ann@example.org,active,2024-01-16T09:00:00,2026-11-20T08:00:00+02:00,green\n"
        "u2,008,bob@example.org,active,2023-05-03T10:00:00Z,,blue\n"
        "u3,P999,ghost@example.org,suspended,2022-01-01 00:00:00,,\n"
    ),
    "courses": (
        "course_id,title,department,owner_user_id,is_compliance,due_days,grading_sla_days,status\n"
        "C1,Safety,Sales,u2,TRUE,30,,active\n"
        "C2,Excel,,nobody,no,,5,active\n"
        "C3,Old,,,0,,,archived\n"
    ),
    "enrollments": (
        "enrollment_id,user_id,course_id,source,status,enrolled_at,due_at,completed_at,"
        "withdrawn_at,progress_pct\n"
        "E1,u1,C1,rule,in_progress,2024-01-20T10:00:00Z,2024-02-19T10:00:00Z,,,40\n"
        "E2,u2,C1,hr_sync,completed,2023-06-01T10:00:00Z,,2023-06-10T10:00:00Z,,100\n"
        "E3,u1,C2,self,enrolled,2026-11-01T10:00:00Z,,,,\n"
    ),
    "activity": (
        "event_id,user_id,course_id,verb,timestamp,value\n"
        "A1,u1,,login,2026-11-20T06:00:00Z,\n"
        "A2,u1,C1,progressed,2026-11-20T06:05:00Z,40\n"
        "A3,u2,C1,completed,2023-06-10T10:00:00Z,88.5\n"
    ),
}

SnapshotMaker = Callable[..., Path]


@pytest.fixture
def make_snapshot(tmp_path: Path) -> SnapshotMaker:
    """Write a snapshot folder: the valid tables, with ``overrides`` (None removes a table).

    An override is CSV text, or bytes written as they are, under the table's ``.csv`` name unless
    ``names`` gives another file name for it.
    """
    counter = iter(range(1000))

    def make(
        overrides: dict[str, str | bytes | None] | None = None,
        *,
        toml: str | None = 'as_of = "2026-11-27T00:00:00Z"\nsource = "test"\n',
        names: dict[str, str] | None = None,
    ) -> Path:
        folder = tmp_path / f"snap{next(counter)}"
        folder.mkdir()
        tables: dict[str, str | bytes | None] = {**VALID_CSV, **(overrides or {})}
        for name, content in tables.items():
            if content is None:
                continue
            target = folder / (names or {}).get(name, f"{name}.csv")
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        if toml is not None:
            (folder / "snapshot.toml").write_text(toml, encoding="utf-8")
        return folder

    return make
