"""Benchmark: loading and validating a snapshot with a large activity table (prints figures).

Short by default (100,000 activity rows, what CI runs). For the full figure::

    GAPDESK_BENCH_ACTIVITY_ROWS=10000000 .venv/bin/pytest -m slow -s \
        tests/bench/test_validation_benchmark.py

Generation and loading each run in their own process, so the peak memory printed is the
loader's alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.app.sources.conftest import REPO, VALID_CSV

ROWS = int(os.environ.get("GAPDESK_BENCH_ACTIVITY_ROWS", "100000"))
VERBS = np.array(["login", "viewed", "launched", "progressed", "submitted", "completed"])


def generate(folder: Path, activity_rows: int, bad_share: float = 0.0) -> None:
    """A snapshot folder with 2,000 users, 50 courses and ``activity_rows`` events (vectorised)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    users = pd.Series([f"u{i:05d}" for i in range(2000)])
    courses = pd.Series([f"C{i:03d}" for i in range(50)])
    people = pd.DataFrame(
        {
            "person_id": [f"P{i:05d}" for i in range(2000)],
            "email": [f"p{i}@example.org" for i in range(2000)],
            "full_name": "Somebody",
            "department": "Sales",
            "job_title": "Rep",
            "manager_person_id": "",
            "employment_status": "active",
            "hire_date": "2024-01-15",
            "termination_date": "",
        }
    )
    people.to_csv(folder / "people.csv", index=False)
    pd.DataFrame(
        {
            "user_id": users,
            "person_id": people["person_id"],
            "email": people["email"],
            "status": "active",
            "created_at": "2024-01-16T09:00:00Z",
            "last_login_at": "",
        }
    ).to_csv(folder / "lms_users.csv", index=False)
    pd.DataFrame(
        {
            "course_id": courses,
            "title": "Course",
            "department": "",
            "owner_user_id": "u00001",
            "is_compliance": "false",
            "due_days": "",
            "grading_sla_days": "7",
            "status": "active",
        }
    ).to_csv(folder / "courses.csv", index=False)
    (folder / "enrollments.csv").write_text(VALID_CSV["enrollments"].splitlines()[0] + "\n")
    seconds = rng.integers(1_700_000_000, 1_760_000_000, activity_rows)
    stamps = pd.to_datetime(seconds, unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ")
    verbs = VERBS[rng.integers(0, len(VERBS), activity_rows)].astype(object)
    if bad_share:
        bad = rng.random(activity_rows) < bad_share
        verbs[bad] = "teleported"
    activity = pd.DataFrame(
        {
            "event_id": np.char.add("E", np.arange(activity_rows).astype(str)),
            "user_id": users.to_numpy()[rng.integers(0, 2000, activity_rows)],
            "course_id": courses.to_numpy()[rng.integers(0, 50, activity_rows)],
            "verb": verbs,
            "timestamp": stamps,
            "value": np.round(rng.random(activity_rows) * 100, 1),
        }
    )
    activity.to_csv(folder / "activity.csv", index=False)
    (folder / "snapshot.toml").write_text('as_of = "2026-11-27T00:00:00Z"\n')


LOADER = """
import json, resource, sys, time
from app.sources.load import load_snapshot
start = time.perf_counter()
result = load_snapshot(sys.argv[1], quarantine=sys.argv[2] == "q")
seconds = time.perf_counter() - start
rows = sum(result.report.row_counts.values()) + sum(result.report.quarantined_counts.values())
print(json.dumps({
    "accepted": result.accepted, "rows": rows, "seconds": seconds,
    "quarantined": sum(result.report.quarantined_counts.values()),
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def measure(folder: Path, quarantine: bool) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", LOADER, str(folder), "q" if quarantine else "-"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
def test_benchmark_load_large_activity(tmp_path: Path) -> None:
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    generate(clean, ROWS)
    generate(dirty, ROWS, bad_share=0.001)
    size = (clean / "activity.csv").stat().st_size / 2**20
    for label, folder, quarantine in (
        ("clean", clean, False),
        ("0.1% bad, quarantine", dirty, True),
    ):
        figures = measure(folder, quarantine)
        assert figures["accepted"]
        print(
            f"\nload_snapshot {label}: {ROWS:,} activity rows ({size:,.0f} MiB CSV), "
            f"{figures['rows']:,.0f} rows in {figures['seconds']:.1f} s = "
            f"{figures['rows'] / figures['seconds']:,.0f} rows/s, "
            f"peak RSS {figures['peak_mib']:,.0f} MiB, quarantined {figures['quarantined']:,.0f}"
        )
