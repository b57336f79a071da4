"""Security issue 15: a mapping reads only files inside the snapshot folder and never quotes
them (item 1), and suggesting a mapping stays linear on crafted samples (item 7)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from app.core.errors import UserError
from app.sources.load import load_snapshot
from app.sources.mapping import parse_mapping, suggest_mapping
from app.sources.sniff import is_email
from app.sources.text_shapes import looks_like_email
from tests.app.sources.conftest import SnapshotMaker

SECRET = "s3cr3t-cookie-value-0123456789"
FAKE_SECRETS = (
    "[auth]\n"
    f'cookie_secret = "{SECRET}"\n'
    'client_secret = "oidc-client-secret-abcdef"\n'
    'redirect_uri = "http://localhost:8501/oauth2callback"\n'
)


ROSTER_CONSTANTS = {
    "person_id": "p", "email": "e", "full_name": "n", "department": "d", "job_title": "j",
    "employment_status": "active",
}  # fmt: skip


def _people(file: str, **extra: object) -> dict[str, object]:
    return {"people": {"file": file, **extra}}


@pytest.mark.parametrize(
    ("file", "why"),
    [
        ("/etc/passwd", "is an absolute path"),
        ("../../../../etc/passwd", "names a folder"),
        ("..", "is a hidden file or a folder"),
        ("sub/people.csv", "names a folder"),
        ("C:\\Windows\\win.ini", "is an absolute path"),
        (".streamlit", "is a hidden file or a folder"),
        ("secrets.toml", "is a TOML file"),
        ("", "is empty"),
    ],
)
def test_a_mapping_may_name_only_a_plain_file(file: str, why: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_mapping(_people(file), origin="hr.toml")
    message = str(caught.value)
    assert message.startswith("hr.toml: [people]: file = ")
    assert why in message and "inside the snapshot folder" in message


@pytest.mark.parametrize("file", ["/etc/passwd", "../../../../../../../../etc/passwd"])
def test_etc_passwd_is_never_read(make_snapshot: SnapshotMaker, tmp_path: Path, file: str) -> None:
    folder = make_snapshot({"people": None})
    mapping = tmp_path / "hr.toml"
    mapping.write_text(f'[people]\nfile = "{file}"\ndelimiter = ":"\n', encoding="utf-8")
    with pytest.raises(UserError, match="plain name of a data file") as caught:
        load_snapshot(folder, mapping=mapping)
    assert "root" not in str(caught.value)


def test_a_symlink_out_of_the_folder_is_refused(
    make_snapshot: SnapshotMaker, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "roster.csv").write_text(f"person_id\n{SECRET}\n", encoding="utf-8")
    folder = make_snapshot({"people": None})
    os.symlink(outside / "roster.csv", folder / "roster.csv")
    os.symlink("/etc/passwd", folder / "passwd.csv")
    for name in ("roster.csv", "passwd.csv"):
        mapping = parse_mapping(_people(name))
        with pytest.raises(UserError, match="link that leads out of the snapshot folder") as caught:
            load_snapshot(folder, mapping=mapping)
        assert SECRET not in str(caught.value) and "root" not in str(caught.value)


def test_a_symlink_inside_the_folder_is_fine(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot({"people": None})
    (folder / "hr_2026.csv").write_text(
        "person_id,email,full_name,department,job_title,employment_status,hire_date\n"
        "007,ann@example.org,Ann Lee,Sales,Rep,active,2024-01-15\n",
        encoding="utf-8",
    )
    os.symlink("hr_2026.csv", folder / "hr_latest.csv")
    result = load_snapshot(folder, mapping=parse_mapping(_people("hr_latest.csv")))
    assert result.raise_if_rejected()["people"]["person_id"].tolist() == ["007"]


def test_a_fake_secrets_file_in_the_folder_gives_nothing_away(
    make_snapshot: SnapshotMaker,
) -> None:
    """Even copied into the folder under a data name, a file a mapping named is not quoted."""
    folder = make_snapshot({"people": None})
    (folder / ".streamlit").mkdir()
    (folder / ".streamlit" / "secrets.toml").write_text(FAKE_SECRETS, encoding="utf-8")
    with pytest.raises(UserError, match="names a folder"):
        load_snapshot(folder, mapping=parse_mapping(_people(".streamlit/secrets.toml")))
    (folder / "secrets.csv").write_text(FAKE_SECRETS, encoding="utf-8")
    for delimiter in ("\t", ","):
        mapping = parse_mapping(
            _people(
                "secrets.csv",
                delimiter=delimiter,
                columns={"[auth]": "hire_date"},  # each line a "date": a wrong_type per line
                constants=ROSTER_CONSTANTS,
            )
        )
        result = load_snapshot(folder, mapping=mapping)
        assert not result.accepted
        shown = result.report.render()
        for secret in (SECRET, "oidc-client-secret", "cookie_secret", "redirect_uri"):
            assert secret not in shown, (delimiter, shown)
        assert result.report.problems["value"].isna().all()


def test_a_rejection_of_a_named_file_says_where_not_what(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot({"people": None})
    (folder / "hr.csv").write_text(
        "person_id,email,full_name,department,job_title,employment_status,hire_date,notes\n"
        f"007,ann@example.org,Ann Lee,Sales,Rep,{SECRET},2024-01-15,x\n"
        f"008,bob@example.org,Bob Roe,Sales,Rep,active,{SECRET},y\n",
        encoding="utf-8",
    )
    result = load_snapshot(folder, mapping=parse_mapping(_people("hr.csv")))
    problems = result.report.problems
    assert problems[["row", "column", "rule"]].values.tolist() == [
        [2, "employment_status", "unknown_enum"],
        [3, "hire_date", "wrong_type"],
    ]
    rendered = result.report.render()
    assert SECRET not in rendered and "notes" not in rendered
    assert "hr.csv: 1 extra column(s) kept as evidence" in rendered


def test_a_named_file_that_is_not_csv_is_not_echoed(make_snapshot: SnapshotMaker) -> None:
    folder = make_snapshot({"people": None})
    (folder / "export.csv").write_text(
        f"a,a,{SECRET}\n1,2,3\n", encoding="utf-8"
    )  # a header naming a column twice
    (folder / "ragged.csv").write_text(f"a,b\n1,2\n{SECRET},2,3,4\n", encoding="utf-8")
    for name in ("export.csv", "ragged.csv"):
        result = load_snapshot(folder, mapping=parse_mapping(_people(name)))
        assert set(result.report.problems["rule"]) == {"bad_csv"}
        assert SECRET not in result.report.render()
    ragged = load_snapshot(folder, mapping=parse_mapping(_people("ragged.csv")))
    assert "near line 3" in ragged.report.render()


def test_files_found_by_their_table_name_are_still_quoted(make_snapshot: SnapshotMaker) -> None:
    """Only a file a mapping named is kept out of the report; a table file is the data itself."""
    folder = make_snapshot()
    (folder / "courses.csv").write_text(
        "course_id,title,is_compliance,status\nC1,Safety,perhaps,active\n", encoding="utf-8"
    )
    result = load_snapshot(folder)
    assert "perhaps" in set(result.report.problems["value"].dropna())


# --------------------------------------------------------------------------- item 7


CRAFTED = "a@" + "." * 140_000 + "@"


def test_a_crafted_email_sample_is_checked_at_once() -> None:
    started = time.perf_counter()
    assert not looks_like_email(CRAFTED) and not is_email(CRAFTED)
    guesses = suggest_mapping(
        ["email", "user"], {"email": [CRAFTED] * 50, "user": ["u1"]}, "lms_users"
    )
    elapsed = time.perf_counter() - started
    print(f"crafted 140,000-character e-mail samples: {elapsed:.3f} s")  # was about 380 s
    assert guesses["email"].target == "email"  # the name still speaks; the values do not fit
    assert "0% of samples" in guesses["email"].reason


def test_email_check_agrees_with_the_old_pattern_on_ordinary_text() -> None:
    import re

    old = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    samples = [
        "ann@example.org", "a@b.c", "a@.c", "a@b.", "a@bc", "a b@c.d", "a@b@c.d", "@b.c",
        "x@y.z.w", "ann@example..org", "", "plain", "a@b.c ", " a@b.c",
    ]  # fmt: skip
    for text in samples:
        assert looks_like_email(text) == bool(old.match(text.strip())), text


def test_long_samples_and_names_are_capped() -> None:
    long_name = "x" * 200_000
    guesses = suggest_mapping([long_name], {long_name: ["2024-01-01" + " " * 100_000]}, "people")
    assert isinstance(guesses, dict)
