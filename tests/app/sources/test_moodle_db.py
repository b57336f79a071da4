"""A Moodle database as a source: Moodle's tables (our description of them, checked against
Moodle's install.xml by test_moodle_schema.py) in a real PostgreSQL and a real MariaDB, filled with
a small site, read into a snapshot folder, ingested and detected on."""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.core.errors import UserError
from app.core.urls import mask_url_password
from app.sources.contract import TABLES
from app.sources.load import load_snapshot, read_snapshot_meta
from app.sources.moodle_db import connect_moodle, import_moodle_db
from app.sources.moodle_db_rows import event_verbs, iso_times
from app.sources.result import ImportReport
from app.sources.validate import validate_tables
from tests.app.cli.test_cli import run
from tests.conftest import IN_CI, create_pg_database, drop_pg_database
from tests.helpers import moodle_site as site
from tests.helpers.moodle_schema import create_moodle_schema

MYSQL_ADMIN_URL = os.environ.get("GAPDESK_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/test")
SECRET = "Moodle-Reader-pw-" + secrets.token_hex(4)
OUTPUT = ("lms_users", "courses", "enrollments", "submissions", "activity")
# What contract version 2 (shared/contracts/lms-snapshot.md) relaxes and the validator may not yet.
V2_OPTIONAL_TABLES = ("people", "enrollments")
V2_NULLABLE = {("lms_users", "email"), ("lms_users", "created_at")}


@dataclass
class MoodleDb:
    """One filled Moodle database: how to reach it as a reader, as its owner, and wrongly."""

    backend: str
    url: str  # the reader's URL, with SECRET as password
    admin_url: str  # may write: to show that the importer's sessions cannot
    refused_url: str  # a URL the server turns away


def _with_password(url: str, password: str) -> str:
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def _fill(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        for prefix in ("mdl_", "m4_"):  # a second site under another prefix, same database
            site.fill_site(engine, create_moodle_schema(engine, prefix), prefix)
    finally:
        engine.dispose()


def _postgres(request: pytest.FixtureRequest) -> Iterator[MoodleDb]:
    admin = request.getfixturevalue("pg_server")
    url = create_pg_database(admin)
    try:
        _fill(url)
        # Local connections are trusted: the password travels in the URL but is never asked for.
        yield MoodleDb("postgresql", _with_password(url, SECRET), url,
                       _with_password(url + "_absent", SECRET))  # fmt: skip
    finally:
        drop_pg_database(admin, url)


def _mariadb() -> Iterator[MoodleDb]:
    admin = make_url(MYSQL_ADMIN_URL)
    try:
        server = pymysql.connect(host=admin.host, port=admin.port or 3306, user=admin.username,
                                 password=admin.password or "", connect_timeout=3)  # fmt: skip
    except pymysql.err.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"CI=true but MariaDB at {mask_url_password(admin)} does not answer: {exc}")
        pytest.skip(f"no MariaDB server answers at {mask_url_password(admin)}: {exc}")
    name, reader = f"moodle_{secrets.token_hex(4)}", f"reader_{secrets.token_hex(4)}"
    with server.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.execute(f"CREATE USER '{reader}'@'%%' IDENTIFIED BY %s", (SECRET,))
        cur.execute(f"GRANT SELECT ON {name}.* TO '{reader}'@'%'")  # a read-only account
    try:
        owner = admin.set(database=name).render_as_string(hide_password=False)
        _fill(owner)
        host = f"{admin.host}:{admin.port or 3306}"
        yield MoodleDb(
            "mariadb",
            f"mysql://{reader}:{SECRET}@{host}/{name}",
            owner,
            f"mysql://{reader}:{SECRET}-wrong@{host}/{name}",
        )
    finally:
        with server.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
            cur.execute(f"DROP USER IF EXISTS '{reader}'@'%'")
        server.close()


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
def moodle(request: pytest.FixtureRequest) -> Iterator[MoodleDb]:
    """A Moodle database of each kind, with Moodle's own tables and the small site in them."""
    yield from (_postgres(request) if request.param == "postgresql" else _mariadb())


@pytest.fixture(scope="module")
def imported(
    moodle: MoodleDb, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, ImportReport]:
    out = tmp_path_factory.mktemp(moodle.backend) / "snapshot"
    # Four rows a chunk, so that every streamed table arrives in several chunks.
    return out, import_moodle_db(moodle.url, out, as_of=site.AS_OF, chunk_rows=4)


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def v2_allows(problems: pd.DataFrame) -> pd.Series:
    """Which validation problems contract v2 no longer makes: absent optional tables, absent
    nullable columns, empty cells in the columns v2 made nullable."""
    rule, table, column = problems["rule"], problems["table"], problems["column"]
    nullable = [
        bool(c) and ((t, c) in V2_NULLABLE or TABLES[t].column(c).nullable)
        for t, c in zip(table, column, strict=True)
    ]
    return (rule.eq("missing_table") & table.isin(V2_OPTIONAL_TABLES)) | (
        rule.isin(["missing_column", "missing_value"]) & pd.Series(nullable, index=rule.index)
    )


def rows_of(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    return [tuple(r) for r in frame.itertuples(index=False)]


def test_every_table_row_and_column(imported: tuple[Path, ImportReport]) -> None:
    out, _ = imported
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.csv" for n in OUTPUT] + ["snapshot.toml"]
    )
    users = read(out, "lms_users")
    assert list(users.columns) == ["user_id", "person_id", "email", "full_name", "status",
                                   "created_at", "last_login_at", "username", "auth"]  # fmt: skip
    assert rows_of(users) == site.EXPECTED_USERS
    courses = read(out, "courses")
    assert list(courses.columns) == [
        "course_id", "title", "owner_user_id", "starts_at", "ends_at", "is_compliance", "status",
        "shortname", "idnumber", "category", "teacher_user_ids",
    ]  # fmt: skip
    assert rows_of(courses) == site.EXPECTED_COURSES
    enrolments = read(out, "enrollments")
    assert list(enrolments.columns) == [
        "enrollment_id", "user_id", "course_id", "source", "status", "enrolled_at",
        "completed_at", "withdrawn_at", "enrol_plugin", "last_access_at",
    ]  # fmt: skip
    assert rows_of(enrolments) == site.EXPECTED_ENROLMENTS
    submissions = read(out, "submissions")
    assert list(submissions.columns) == [
        "submission_id", "user_id", "course_id", "assignment_id", "submitted_at", "graded_at",
        "score", "assignment_name", "attempt",
    ]  # fmt: skip
    assert rows_of(submissions) == site.EXPECTED_SUBMISSIONS
    activity = read(out, "activity")
    assert list(activity.columns) == ["event_id", "user_id", "course_id", "object_id", "verb",
                                      "timestamp", "event_name", "component", "origin"]  # fmt: skip
    activity["event_name"] = activity["event_name"].str.rsplit("\\", n=1).str[-1]
    assert rows_of(activity) == site.EXPECTED_ACTIVITY


def test_the_report_counts_what_was_left_out_and_why(
    imported: tuple[Path, ImportReport],
) -> None:
    _, report = imported
    counts = report.counts
    assert {k: v for k, v in counts.items() if k.endswith(" rows")} == {
        "lms_users.csv rows": 9, "courses.csv rows": 3, "enrollments.csv rows": 7,
        "submissions.csv rows": 4, "activity.csv rows": 15,
    }  # fmt: skip
    assert counts["left out: enrolments of teachers (a teaching role and no student role)"] == 5
    assert counts["left out: enrolments by plugin 'fancysync' (no source known for it)"] == 1
    assert counts["left out: team submissions (made by a group, not a user)"] == 1
    assert counts["left out: log events without a contract verb"] == 2
    for reason in ("by nobody (not logged in, or cron)", "while an admin was logged in as the "
                   "user", "recorded as anonymous", "by the guest account or users not exported",
                   "in courses that no longer exist"):  # fmt: skip
        assert counts[f"left out: log events {reason}"] == 1, reason
    assert any("dashboard_viewed (1)" in n and "user_graded (1)" in n for n in report.notes)
    assert SECRET not in report.render()


def test_snapshot_toml_names_the_moment_and_the_site_without_the_password(
    imported: tuple[Path, ImportReport],
) -> None:
    meta, problem = read_snapshot_meta(imported[0])
    assert problem is None
    assert pd.Timestamp(meta["as_of"]) == pd.Timestamp(site.AS_OF)
    assert meta["source"].startswith("moodle-db 127.0.0.1/") and SECRET not in meta["source"]


def test_values_have_contract_types_and_references_resolve(
    imported: tuple[Path, ImportReport],
) -> None:
    tables = {name: read(imported[0], name) for name in OUTPUT}
    # Columns Moodle cannot know are absent (contract v2); give them as empty to check the rest.
    for name, frame in tables.items():
        for column in TABLES[name].columns:
            if column.name not in frame.columns:
                assert column.nullable, f"{name}.{column.name} is required and missing"
                frame[column.name] = ""
    problems = validate_tables(tables).report.problems
    assert v2_allows(problems).all(), problems[~v2_allows(problems)].to_string()


def test_validation_refuses_only_what_contract_v2_allows(
    imported: tuple[Path, ImportReport],
) -> None:
    problems = load_snapshot(imported[0]).report.problems
    assert v2_allows(problems).all(), problems[~v2_allows(problems)].to_string()


def test_ingest_and_detect_on_what_moodle_gave(
    imported: tuple[Path, ImportReport], pg_server: str, tmp_path: Path
) -> None:
    url = create_pg_database(pg_server)
    env = {"GAPDESK_HOME": str(tmp_path / "home"), "GAPDESK_DATABASE_URL": url}
    try:
        ingested = run("ingest", str(imported[0]), env=env)
        assert ingested.returncode == 0, ingested.stderr
        detected = run("detect", env=env)
        assert detected.returncode == 0, detected.stderr
        found = run("export", "findings", env=env)
        categories = {r["category"] for r in csv.DictReader(io.StringIO(found.stdout))}
        # Bob's risk assessment waits 12 days for a grade; Excel Basics has no editing teacher.
        assert {"feedback_delayed", "unowned_course"} <= categories
        # Moodle carries no HR roster: nobody can be called an orphan for want of one.
        assert "orphan_account" not in categories
    finally:
        drop_pg_database(pg_server, url)


def test_since_reads_only_the_recent_log(moodle: MoodleDb, tmp_path: Path) -> None:
    since = (site.AS_OF - timedelta(days=100)).replace(tzinfo=None)  # naive: taken as UTC
    report = import_moodle_db(moodle.url, tmp_path, as_of=site.AS_OF, since=since)
    events = read(tmp_path, "activity")["event_id"].tolist()
    assert events == [r[0] for r in site.EXPECTED_ACTIVITY if r[0] not in ("17", "22")]
    assert any(n.startswith("log events before 2026-08-19 06:00 UTC") for n in report.notes)


def test_another_prefix_and_more_enrolment_plugins(moodle: MoodleDb, tmp_path: Path) -> None:
    import_moodle_db(moodle.url, tmp_path, prefix="m4_", as_of=site.AS_OF,
                     enrol_sources={"fancysync": "hr_sync"}, compress=True)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{n}.csv.gz" for n in OUTPUT] + ["snapshot.toml"]
    )
    enrolments = pd.read_csv(tmp_path / "enrollments.csv.gz", dtype=str, keep_default_na=False)
    extra = enrolments[enrolments["enrollment_id"] == "10"]
    assert rows_of(extra) == [("10", "6", "3", "hr_sync", "enrolled", site.iso(site.ago(15)),
                               "", "", "fancysync", "")]  # fmt: skip
    with pytest.raises(UserError, match="must be one of rule, manual, hr_sync, self"):
        import_moodle_db(moodle.url, tmp_path, enrol_sources={"fancysync": "robot"})


def test_the_importer_never_writes_to_moodle(moodle: MoodleDb) -> None:
    engine = connect_moodle(moodle.admin_url)  # an account that could write
    try:
        with pytest.raises(sa.exc.DBAPIError, match=r"(?i)read.only"), engine.begin() as conn:
            conn.execute(sa.text("UPDATE mdl_user SET suspended = 1 WHERE id = 4"))
    finally:
        engine.dispose()


def test_earlier_tables_are_replaced_and_other_files_kept(moodle: MoodleDb, tmp_path: Path) -> None:
    (tmp_path / "activity.parquet").write_bytes(b"PAR1 an earlier run PAR1")
    (tmp_path / "courses.csv.gz").write_bytes(b"old")
    (tmp_path / "people.csv").write_text("person_id\nP1\n", encoding="utf-8")
    import_moodle_db(moodle.url, tmp_path, as_of=site.AS_OF)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{n}.csv" for n in OUTPUT] + ["people.csv", "snapshot.toml"]
    )
    assert (tmp_path / "people.csv").read_text(encoding="utf-8") == "person_id\nP1\n"


def test_cli_writes_the_snapshot_and_never_prints_the_password(
    moodle: MoodleDb, tmp_path: Path
) -> None:
    out = tmp_path / "snap"
    result = run("import", "moodle-db", moodle.url, "--out", str(out), "--as-of",
                 "2026-11-27T06:00:00", env={})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "activity.csv: 15 rows" in result.stdout and "enrollments.csv: 7 rows" in result.stdout
    assert SECRET not in result.stdout + result.stderr and "***" in result.stdout
    assert rows_of(read(out, "submissions")) == site.EXPECTED_SUBMISSIONS

    bare = mask_url_password(moodle.url).replace(":***@", "@")
    again = run("import", "moodle-db", bare, "--out", str(out), "--password-stdin",
                env={}, stdin=SECRET + "\n")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert SECRET not in again.stdout + again.stderr


def test_cli_failures_are_one_line_and_change_nothing(moodle: MoodleDb, tmp_path: Path) -> None:
    (tmp_path / "lms_users.csv").write_text("user_id\nu1\n", encoding="utf-8")
    wrong_prefix = run("import", "moodle-db", moodle.url, "--out", str(tmp_path), "--prefix",
                       "moodle_", env={})  # fmt: skip
    assert wrong_prefix.returncode == 1
    assert wrong_prefix.stderr.count("\n") == 1 and "Traceback" not in wrong_prefix.stderr
    assert "has no Moodle tables moodle_user" in wrong_prefix.stderr
    assert "the prefix 'm4_' or 'mdl_' (give it with --prefix)" in wrong_prefix.stderr
    refused = run("import", "moodle-db", moodle.refused_url, "--out", str(tmp_path / "new"), env={})
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "cannot connect to the Moodle database" in refused.stderr
    for result in (wrong_prefix, refused):
        assert SECRET not in result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lms_users.csv"]
    assert (tmp_path / "lms_users.csv").read_text(encoding="utf-8") == "user_id\nu1\n"


def test_bad_urls_are_refused_before_connecting(tmp_path: Path) -> None:
    for url, words in (
        ("sqlite:///moodle.db", "is a sqlite URL; Moodle runs on PostgreSQL or MySQL/MariaDB"),
        ("postgresql://reader:hunter22@db.example.org", "names no database"),
        ("not a url :hunter22@", "the Moodle database URL cannot be read"),
    ):
        with pytest.raises(UserError, match=words) as caught:
            import_moodle_db(url, tmp_path)
        assert "hunter22" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_event_names_and_times_convert_on_their_own() -> None:
    names = pd.Series(["\\mod_book\\event\\course_module_viewed", "\\core\\event\\user_loggedin",
                       "\\mod_forum\\event\\post_created", "\\mod_url\\event\\"
                       "course_module_instance_list_viewed"])  # fmt: skip
    verbs = [v if isinstance(v, str) else None for v in event_verbs(names)]
    assert verbs == ["viewed", "login", None, "viewed"]
    times = iso_times(pd.Series([0, None, -5, 1_764_226_800]))
    assert times.tolist() == [pd.NA, pd.NA, pd.NA, "2025-11-27T07:00:00Z"]
