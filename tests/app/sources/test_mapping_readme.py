"""The README's "Mapping files" examples, exactly as the README shows them, ingested.

Each example is a mapping file under tests/data/mapping_examples/<name>/ beside the data it maps
(synthetic files we wrote), or, for the real OULAD tables, only the mapping (their data is read
from ../shared by test_mapping_oulad.py); the README must quote the file as it is, and the
folder must go in with it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from app.sources.load import load_snapshot
from app.sources.mapping import load_mapping
from tests.app.cli.test_cli import run
from tests.conftest import REPO

EXAMPLES = REPO / "tests" / "data" / "mapping_examples"
NAMES = ["hr_roster", "oulad_enrolments", "headerless_users"]
# Examples whose data is real and not kept here (tests/app/sources/test_mapping_oulad.py).
REAL = ["oulad"]


def _readme_examples() -> dict[str, str]:
    """Example name → the TOML block the README shows after naming its file."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Mapping files\n", 1)[1].split("\n## ", 1)[0]
    found = {}
    start = 0
    for block in re.finditer(r"```toml\n(.*?)```", section, flags=re.S):
        named = re.findall(r"mapping_examples/(\w+)/mapping\.toml", section[start : block.start()])
        found[named[0]] = block.group(1)
        start = block.end()
    return found


def test_the_readme_shows_each_example_file_as_it_is() -> None:
    shown = _readme_examples()
    assert sorted(shown) == sorted(NAMES + REAL)
    for name in NAMES + REAL:
        assert shown[name] == (EXAMPLES / name / "mapping.toml").read_text(encoding="utf-8")


def _load(name: str) -> pd.DataFrame | dict[str, pd.DataFrame]:
    folder = EXAMPLES / name
    result = load_snapshot(folder, mapping=load_mapping(folder / "mapping.toml"))
    return result.raise_if_rejected().tables


def test_the_hr_roster_example() -> None:
    people = _load("hr_roster")["people"]
    assert people["person_id"].tolist() == ["0042", "0043", "0044"]  # the contractor is out
    assert people["full_name"].tolist() == ["Ann Lee", "Bob Roe", "Cy Poe"]
    assert people["email"].tolist() == ["alee@example.org", "broe@example.org", "cpoe@example.org"]
    assert people["employment_status"].tolist() == ["active", "leave", "terminated"]
    assert people["manager_person_id"].isna().tolist() == [True, False, True]  # "-" is empty
    assert people["termination_date"].isna().tolist() == [True, True, False]  # so is "n/a"


def test_the_oulad_shaped_enrolment_example() -> None:
    tables = _load("oulad_enrolments")
    courses, enrolments = tables["courses"], tables["enrollments"]
    assert courses.set_index("course_id")["starts_at"].dt.strftime("%Y-%m-%d").to_dict() == {
        "AAA-2013J": "2013-10-01", "AAA-2014J": "2014-10-01", "BBB-2014B": "2014-02-01",
    }  # fmt: skip
    assert courses.set_index("course_id")["ends_at"]["AAA-2014J"] == pd.Timestamp(
        "2015-06-27T00:00Z"
    )  # 269 days after 1 October 2014
    by_id = enrolments.set_index("enrollment_id")
    assert list(by_id.index) == ["AAA-2014J-28400", "AAA-2014J-30268", "BBB-2014B-11391",
                                 "BBB-2014B-45462"]  # fmt: skip
    assert by_id.loc["AAA-2014J-30268", "enrolled_at"] == pd.Timestamp("2014-07-01T00:00Z")
    assert by_id.loc["AAA-2014J-30268", "withdrawn_at"] == pd.Timestamp("2014-10-13T00:00Z")
    assert by_id["status"].tolist() == ["completed", "withdrawn", "completed", "completed"]


def test_the_headerless_example() -> None:
    users = _load("headerless_users")["lms_users"]
    assert users["user_id"].tolist() == ["1001", "1002", "1003"]  # line 1 is data; no test user
    assert users["email"].tolist() == ["alee@example.org", "broe@example.org", "cpoe@example.org"]
    assert users["full_name"].isna().tolist() == [False, False, True]  # \N is empty
    assert users["status"].tolist() == ["active", "active", "deleted"]


def test_the_readme_command_ingests_the_hr_example(tmp_path: Path) -> None:
    folder = tmp_path / "hr_roster"
    shutil.copytree(EXAMPLES / "hr_roster", folder)
    env = {"GAPDESK_HOME": str(tmp_path / "home"), "GAPDESK_DATABASE_URL": ""}
    result = run("ingest", str(folder), "--mapping", str(folder / "mapping.toml"), env=env)
    assert result.returncode == 0, result.stderr
    assert "kept 3 of 4 row(s)" in result.stdout


@pytest.mark.parametrize("name", NAMES)
def test_each_example_breaks_clearly_when_its_data_does(name: str, tmp_path: Path) -> None:
    """A data file that lost its first column is a clear problem that quotes nothing of it."""
    folder = tmp_path / name
    shutil.copytree(EXAMPLES / name, folder)
    mapping = load_mapping(folder / "mapping.toml")
    first = next(iter(mapping.tables.values()))
    assert first.file
    path = folder / first.file
    delimiter = first.delimiter
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join(delimiter.join(line.split(delimiter)[1:]) for line in lines) + "\n",
        encoding="utf-8",
    )
    result = load_snapshot(folder, mapping=mapping)
    assert not result.accepted
    assert result.report.problems["value"].isna().all()
    assert {"missing_column", "bad_csv"} & set(result.report.problems["rule"])
