"""The Open University Learning Analytics Dataset (OULAD, CC BY 4.0), as it is published, into
Gapdesk with the README's one command and its mapping file, and the findings it yields.

The real files are never copied into this repository: the tests read them from
``../shared/data/lms/more/oulad/`` (or, on the machine they were fetched to, ``/work/data/oulad``)
and skip when neither holds them (as in CI). The count of contradictory withdrawals is computed
again here with a few lines of pandas, independently of Gapdesk's mapping and detectors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from app.sources.load import load_snapshot
from tests.app.cli.test_cli import run
from tests.app.sources.conftest import SHARED_LMS
from tests.conftest import REPO

MAPPING = REPO / "tests" / "data" / "mapping_examples" / "oulad" / "mapping.toml"
FILES = ("courses.csv", "studentInfo.csv", "studentRegistration.csv")
PLACES = (SHARED_LMS / "more" / "oulad", Path("/work/data/oulad"))
KEY = ["code_module", "code_presentation", "id_student"]


def oulad_folder() -> Path:
    """The folder holding the real OULAD tables; the test is skipped when none does."""
    for place in PLACES:
        if all((place / name).is_file() for name in FILES):
            return place
    pytest.skip("the real OULAD tables are not in ../shared/data/lms/more/oulad/")


def contradictory_withdrawals(folder: Path) -> dict[str, str]:
    """enrollment_id → which contradiction, straight from the published files (pandas only)."""
    info = pd.read_csv(folder / "studentInfo.csv", dtype=str)
    reg = pd.read_csv(folder / "studentRegistration.csv", dtype=str)
    both = reg.merge(info[[*KEY, "final_result"]], on=KEY, how="left", validate="one_to_one")
    withdrawn = both["final_result"] == "Withdrawn"
    dated = both["date_unregistration"].notna()
    ids = both["code_module"] + "-" + both["code_presentation"] + "-" + both["id_student"]
    out = dict.fromkeys(ids[withdrawn & ~dated], "withdrawn_without_date")
    out.update(dict.fromkeys(ids[~withdrawn & dated], "withdrawal_date_not_withdrawn"))
    return out


@pytest.fixture(scope="module")
def folder() -> Path:
    return oulad_folder()


def test_the_mapping_reads_the_published_tables(folder: Path) -> None:
    result = load_snapshot(folder, mapping=MAPPING)
    snapshot = result.raise_if_rejected()
    courses, users, enrolments = (
        snapshot["courses"], snapshot["lms_users"], snapshot["enrollments"]
    )  # fmt: skip
    assert len(courses) == 22
    by_course = courses.set_index("course_id")
    assert by_course.loc["AAA-2013J", "starts_at"] == pd.Timestamp("2013-10-01T00:00Z")
    assert by_course.loc["AAA-2014J", "ends_at"] == pd.Timestamp("2015-06-27T00:00Z")  # +269 d
    assert by_course["starts_at"].dt.month.isin([2, 10]).all()  # B = February, J = October
    # One user per student, though many took several presentations; no e-mail, no name.
    assert len(users) == 28_785 and users["user_id"].is_unique
    assert {"email", "full_name", "created_at"}.isdisjoint(users.columns)
    assert "code_presentation" not in users.columns  # it differs between a student's rows
    # Every registration but the 45 without a date_registration (enrolled_at needs one).
    assert len(enrolments) == 32_593 - 45
    assert len(result.quarantined["enrollments"]) == 45
    info = pd.read_csv(folder / "studentInfo.csv", dtype=str)
    reg = pd.read_csv(folder / "studentRegistration.csv", dtype=str)
    dated = reg[reg["date_registration"].notna()].merge(info, on=KEY)
    withdrawn = int((dated["final_result"] == "Withdrawn").sum())
    assert enrolments["status"].value_counts().to_dict() == {
        "completed": len(dated) - withdrawn, "withdrawn": withdrawn,
    }  # fmt: skip
    # A registration before the presentation starts is a negative day offset.
    first = enrolments.set_index("enrollment_id").loc["AAA-2013J-11391"]
    assert first["enrolled_at"] == pd.Timestamp("2013-10-01T00:00Z") - pd.Timedelta(days=159)


def test_the_readme_command_finds_exactly_the_published_contradictions(
    folder: Path, tmp_path: Path
) -> None:
    expected = contradictory_withdrawals(folder)
    assert len(expected) == 102
    assert sorted(pd.Series(expected).value_counts().to_dict().items()) == [
        ("withdrawal_date_not_withdrawn", 9), ("withdrawn_without_date", 93),
    ]  # fmt: skip

    env = {"GAPDESK_HOME": str(tmp_path / "home"), "GAPDESK_DATABASE_URL": ""}
    ingest = run("ingest", str(folder), "--mapping", str(MAPPING), env=env)
    assert ingest.returncode == 0, ingest.stderr
    assert "quarantined 45 rows of enrollments" in ingest.stdout
    assert "joined studentInfo.csv on code_module, code_presentation, id_student: 32,593 " \
        "of 32,593 row(s) found their row there" in ingest.stdout  # fmt: skip
    assert "folded 3,808 later repeat(s)" in ingest.stdout

    detect = run("detect", env=env)
    assert detect.returncode == 0, detect.stderr
    assert "102 proposals" in detect.stdout
    assert "skipped progress_inconsistent" not in detect.stdout

    out = tmp_path / "findings.jsonl"
    exported = run("export", "findings", "--format", "jsonl", "--out", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    findings = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    # Every other category is absent: OULAD carries no activity, owners, HR roster, due dates,
    # progress or completion dates, and a detector never fires on what the source cannot carry.
    assert {f["category"] for f in findings} == {"progress_inconsistent"}
    found = {
        f["entity_key"].removeprefix("enrollment="): next(
            r for r in ("withdrawn_without_date", "withdrawal_date_not_withdrawn")
            if f["features"].get(r)
        )
        for f in findings
    }  # fmt: skip
    assert found == expected
