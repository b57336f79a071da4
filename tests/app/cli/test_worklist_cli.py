"""``gapdesk worklist list|export``: the work lists and the tickets' CSV from the command line
(a real process on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from review_queue.decisions import decide
from tests.app.cli.test_cli import run
from tests.helpers.queue_fixtures import add_finding, add_people


def test_lists_and_exports_the_work(db: Engine, tmp_path: Path) -> None:
    with Session(db) as s:
        ada = add_people(s)["ada"]
        ticket = add_finding(s, 1, evidence={"lms_users": [{"user_id": "U1", "email": "@x"}]})
        tuned = add_finding(s, 2)
        for finding, reason in ((ticket, "data_error"), (tuned, "false_positive_rule")):
            decide(session=s, actor=ada, finding_id=finding.id or 0, action="dismiss",
                   reason=reason)  # fmt: skip
        s.commit()
    env = {
        "GAPDESK_HOME": str(tmp_path / "home"),
        "GAPDESK_DATABASE_URL": db.url.render_as_string(hide_password=False),
    }
    listed = run("worklist", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert "Rule tuning: 1" in lines and "Data-quality tickets: 1" in lines
    assert "Duplicates: 0" in lines
    assert any("finding #1" in line and "nobody" in line for line in lines)
    one = run("worklist", "list", "--kind", "data_quality", env=env)
    assert one.stdout.splitlines()[0] == "Data-quality tickets: 1"
    assert len(one.stdout.splitlines()) == 2

    out = tmp_path / "tickets.csv"
    exported = run("worklist", "export", "--out", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    # The evidence's user (its email defused) and the enrolment the entity key names.
    assert [(r["table"], r["key"], r["email"]) for r in rows] == [
        ("lms_users", "U1", "'@x"), ("enrollments", "E1", ""),
    ]  # fmt: skip
    assert run("worklist", "export", env=env).stdout == out.read_text(encoding="utf-8")

    bad = run("worklist", "list", "--kind", "tickets", env=env)
    assert bad.returncode == 2 and "'tickets' is not one of" in bad.stderr
    nowhere = run("worklist", "export", "--out", str(tmp_path / "no" / "t.csv"), env=env)
    assert nowhere.returncode == 1 and "Traceback" not in nowhere.stderr
    last = nowhere.stderr.strip().splitlines()[-1]
    assert last == f"Error: cannot write {tmp_path / 'no' / 't.csv'}: No such file or directory"
