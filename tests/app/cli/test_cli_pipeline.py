"""The data and queue commands end to end, as a cron job would run them."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from tests.app.cli.test_cli import run


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"GAPDESK_HOME": str(tmp_path / "home"), "GAPDESK_DATABASE_URL": ""}


def test_ingest_detect_verify_export(
    env: dict[str, str], demo_folder: Path, tmp_path: Path
) -> None:
    assert "no snapshots yet" in run("snapshots", env=env).stdout
    missing = run("detect", env=env)
    assert missing.returncode == 1 and "no snapshot has been ingested" in missing.stderr
    ingested = run("ingest", str(demo_folder), env=env)
    assert ingested.returncode == 0, ingested.stderr
    assert ingested.stdout.startswith("snapshot ") and "accepted" in ingested.stdout
    again = run("ingest", str(demo_folder), env=env)
    assert again.returncode == 0 and "already ingested" in again.stdout
    assert len(run("snapshots", env=env).stdout.splitlines()) == 1
    detected = run("detect", env=env)
    assert detected.returncode == 0, detected.stderr
    assert " new, " in detected.stdout
    assert run("log", "verify", env=env).stdout.startswith("feedback log intact")

    out = tmp_path / "findings.csv"
    exported = run("export", "findings", "--out", str(out), env=env)
    assert (
        exported.returncode == 0 and out.is_file() and not out.with_suffix(".csv.partial").exists()
    )
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and set(rows[0]) == {
        "finding_id", "category", "entity_key", "title", "detector", "detector_version",
        "score", "priority", "severity", "status", "first_seen_at", "last_seen_at",
        "occurrences", "assignee", "explanation",
    }  # fmt: skip
    # Every detector says in words why it fired, and the export carries it as the queue shows it.
    assert all(r["explanation"].strip() for r in rows)
    detailed = [
        json.loads(line)
        for line in run("export", "findings", "--format", "jsonl", env=env).stdout.splitlines()
    ]
    assert [d["finding_id"] for d in detailed] == [int(r["finding_id"]) for r in rows]
    assert all(d["explanation"] == r["explanation"] for d, r in zip(detailed, rows, strict=True))
    assert all(
        isinstance(d["evidence"], dict) and isinstance(d["features"], dict) for d in detailed
    )
    assert sum(bool(d["evidence"]) for d in detailed) == len(detailed)
    assert any(d["features"] for d in detailed)
    decisions = run("export", "decisions", "--format", "jsonl", env=env)
    lines = [json.loads(line) for line in decisions.stdout.splitlines()]
    assert len(lines) == len(rows) and lines[0]["action"] == "propose"
    assert list(lines[0])[:3] == ["event_id", "finding_id", "at"]


def test_a_bad_snapshot_is_refused_with_file_row_column(
    env: dict[str, str], demo_folder: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(demo_folder, bad)
    people = (bad / "people.csv").read_text(encoding="utf-8").splitlines()
    header = people[0].split(",")
    row = people[1].split(",")
    row[header.index("employment_status")] = "retired"
    (bad / "people.csv").write_text("\n".join([people[0], ",".join(row), *people[2:]]) + "\n")
    result = run("ingest", str(bad), env=env)
    assert result.returncode == 1
    assert "people.csv" in result.stderr and "employment_status" in result.stderr
    assert "retired" in result.stderr and "row 2" in result.stderr
    assert "no snapshots yet" in run("snapshots", env=env).stdout


def test_evaluate_prints_precision_and_recall(env: dict[str, str], demo_folder: Path) -> None:
    result = run("evaluate", str(demo_folder), env=env)
    assert result.returncode == 0, result.stderr
    table = result.stdout.splitlines()
    assert table[0].split() == ["category", "truth", "found", "tp", "precision", "recall"]
    assert any(line.startswith("compliance_overdue") for line in table)


def test_exports_defuse_formulas_for_spreadsheets(env: dict[str, str]) -> None:
    from sqlmodel import Session

    from app.core.db import open_engine
    from tests.helpers.queue_fixtures import add_finding

    engine = open_engine(f"sqlite:///{Path(env['GAPDESK_HOME']) / 'gapdesk.db'}")
    with Session(engine) as s:
        add_finding(s, 1, title='=HYPERLINK("http://evil","x")')
    engine.dispose()
    out = run("export", "findings", env=env).stdout
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["title"].startswith("'=HYPERLINK")
    jsonl = run("export", "findings", "--format", "jsonl", env=env).stdout
    assert json.loads(jsonl)["title"].startswith("=HYPERLINK")  # JSON keeps the data as it is
