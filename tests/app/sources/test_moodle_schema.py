"""Our description of Moodle's tables (tests/helpers/moodle_schema.py): the CREATE TABLE statements
made from it, the reader of Moodle's XMLDB files, and a check against Moodle's own definitions.

Moodle's own ``install.xml`` files are not kept in this repository (they come from a public
repository and are Moodle's GPL code). They belong in the project's shared data folder beside the
repository, ``../shared/data/moodle_schema/``, as ``*.xml`` files (any names), with a README there
that gives each file's source — repository (``moodle/moodle``), path and commit — and its licence
(GNU GPL, version 3 or later). The tables the importer reads are defined in these three files:

- ``lib/db/install.xml``: user, course, course_categories, context, role, role_assignments,
  enrol, user_enrolments, course_completions, user_lastaccess, modules, course_modules;
- ``mod/assign/db/install.xml``: assign, assign_submission, assign_grades;
- ``admin/tool/log/store/standard/db/install.xml``: logstore_standard_log.

Where the folder holds them, each table we describe must have Moodle's columns, no more and no
fewer, each of the same type family (integer, string, text, decimal, float, binary) and the same
nullability. Lengths and defaults are not compared: Moodle changes them between versions without
changing what the importer reads. A table whose file the folder lacks is skipped, naming the
file; without the folder (as in CI) those tests skip.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.dialects import mysql, postgresql

from app.sources.moodle_db_queries import REQUIRED_TABLES
from tests.conftest import REPO, SHARED
from tests.helpers import moodle_site as site
from tests.helpers.moodle_schema import (
    DEFINED_IN,
    MOODLE_TABLES,
    MoodleTable,
    create_statements,
    integer,
    moodle_table,
    numeric,
    read_xmldb,
    text,
    varchar,
)

MOODLE_XML = SHARED / "data" / "moodle_schema"
IMPORTER = ("app/sources/moodle_db.py", "app/sources/moodle_db_queries.py")

# A made-up plugin table in XMLDB's format, with every kind of field and key the reader knows.
PROBE_XML = """<?xml version="1.0" encoding="UTF-8" ?>
<XMLDB PATH="local/probe/db" VERSION="2026010100" COMMENT="a table for the reader's test">
  <TABLES>
    <TABLE NAME="probe">
      <FIELDS>
        <FIELD NAME="id" TYPE="int" LENGTH="10" NOTNULL="true" SEQUENCE="true"/>
        <FIELD NAME="owner" TYPE="int" LENGTH="10" NOTNULL="true" SEQUENCE="false"/>
        <FIELD NAME="tries" TYPE="int" LENGTH="4" NOTNULL="true" DEFAULT="-1" SEQUENCE="false"/>
        <FIELD NAME="label" TYPE="char" LENGTH="40" NOTNULL="true" DEFAULT="new"
               SEQUENCE="false"/>
        <FIELD NAME="notes" TYPE="text" NOTNULL="false" SEQUENCE="false"/>
        <FIELD NAME="score" TYPE="number" LENGTH="8" DECIMALS="3" NOTNULL="false" DEFAULT="0"
               SEQUENCE="false"/>
      </FIELDS>
      <KEYS>
        <KEY NAME="primary" TYPE="primary" FIELDS="id"/>
        <KEY NAME="owner" TYPE="foreign" FIELDS="owner" REFTABLE="user" REFFIELDS="id"/>
        <KEY NAME="label" TYPE="unique" FIELDS="label"/>
      </KEYS>
      <INDEXES>
        <INDEX NAME="owner-tries" UNIQUE="false" FIELDS="owner, tries"/>
      </INDEXES>
    </TABLE>
  </TABLES>
</XMLDB>
"""


def test_our_tables_become_create_table_statements_for_each_database() -> None:
    pg = create_statements(postgresql.dialect())
    my = create_statements(mysql.dialect())
    assert len([s for s in pg if s.startswith("CREATE TABLE")]) == len(MOODLE_TABLES) == 16
    user = next(s for s in pg if s.startswith("CREATE TABLE mdl_user ("))
    assert "id BIGSERIAL NOT NULL" in user and "auth VARCHAR(20) DEFAULT 'manual' NOT NULL" in user
    assert "PRIMARY KEY (id)" in user and "description TEXT," in user
    enrolments = next(s for s in pg if s.startswith("CREATE TABLE mdl_user_enrolments"))
    assert "timeend BIGINT DEFAULT '2147483647' NOT NULL" in enrolments
    assert (
        "CREATE UNIQUE INDEX mdl_user_enrolments_ix1 ON mdl_user_enrolments (enrolid, userid)" in pg
    )
    grades = next(s for s in my if s.startswith("CREATE TABLE mdl_assign_grades"))
    assert "grade NUMERIC(10, 5) DEFAULT '0'," in grades
    assert "id BIGINT NOT NULL AUTO_INCREMENT" in next(
        s for s in my if s.startswith("CREATE TABLE mdl_logstore_standard_log")
    )
    assert "CREATE TABLE m4_course (" in "\n".join(create_statements(mysql.dialect(), "m4_"))


def test_every_table_the_importer_reads_is_described() -> None:
    source = "\n".join((REPO / p).read_text(encoding="utf-8") for p in IMPORTER)
    read = set(re.findall(r"schema\.(?:table|has)\(\s*\"(\w+)\"", source))
    read |= set(REQUIRED_TABLES)
    assert len(read) >= 16 and read <= set(MOODLE_TABLES), sorted(read - set(MOODLE_TABLES))
    assert sorted(t for tables in DEFINED_IN.values() for t in tables) == sorted(MOODLE_TABLES)
    assert set(site.SITE) <= set(MOODLE_TABLES)


def test_the_xmldb_reader_reads_what_a_file_declares(tmp_path: Path) -> None:
    path = tmp_path / "install.xml"
    path.write_text(PROBE_XML, encoding="utf-8")
    columns = {"owner": integer(10), "tries": integer(4, -1), "label": varchar(40, "new"),
               "notes": text(null=True), "score": numeric(8, 3, 0, null=True)}  # fmt: skip
    expected = moodle_table(columns, unique=("label",), indexed=("owner, tries",))
    assert read_xmldb(path) == {"probe": expected}
    pg = create_statements(postgresql.dialect(), tables=read_xmldb(path))
    assert pg == [
        "CREATE TABLE mdl_probe (\n\tid BIGSERIAL NOT NULL, \n\towner BIGINT NOT NULL, \n\ttries "
        "SMALLINT DEFAULT '-1' NOT NULL, \n\tlabel VARCHAR(40) DEFAULT 'new' NOT NULL, \n\tnotes "
        "TEXT, \n\tscore NUMERIC(8, 3) DEFAULT '0', \n\tPRIMARY KEY (id)\n)",
        "CREATE UNIQUE INDEX mdl_probe_ix1 ON mdl_probe (label)",
        "CREATE INDEX mdl_probe_ix2 ON mdl_probe (owner, tries)",
    ]


@pytest.mark.parametrize(
    ("change", "words"),
    [(('TYPE="text"', 'TYPE="datetime"'), "notes has an unknown TYPE 'datetime'"),
     (('FIELDS="id"/>', 'FIELDS="owner"/>'), "probe has the primary key")],
)  # fmt: skip
def test_the_xmldb_reader_refuses_what_moodle_would_not_create(
    tmp_path: Path, change: tuple[str, str], words: str
) -> None:
    path = tmp_path / "install.xml"
    path.write_text(PROBE_XML.replace(*change), encoding="utf-8")
    with pytest.raises(ValueError, match=words):
        read_xmldb(path)


def differences(ours: MoodleTable, moodles: MoodleTable) -> list[str]:
    """Where our description of a table departs from Moodle's: columns, type families, NULL."""
    found = [f"{c}: Moodle has it, we do not" for c in moodles.columns if c not in ours.columns]
    found += [f"{c}: we have it, Moodle does not" for c in ours.columns if c not in moodles.columns]
    for name, column in ours.columns.items():
        theirs = moodles.columns.get(name)
        if theirs is None:
            continue
        if column.family != theirs.family:
            found.append(f"{name}: ours is {column.family}, Moodle's is {theirs.family}")
        if column.nullable != theirs.nullable:
            found.append(f"{name}: ours {'is' if column.nullable else 'is not'} nullable, "
                         f"Moodle's {'is' if theirs.nullable else 'is not'}")  # fmt: skip
    return found


@pytest.fixture(scope="module")
def moodles_tables() -> dict[str, tuple[Path, MoodleTable]]:
    """Every table of the install.xml files in the shared data folder, with its file."""
    files = sorted(MOODLE_XML.glob("*.xml")) if MOODLE_XML.is_dir() else []
    if not files:
        pytest.skip(f"{MOODLE_XML} holds no Moodle install.xml (see this module's docstring)")
    tables: dict[str, tuple[Path, MoodleTable]] = {}
    for path in files:
        for name, table in read_xmldb(path).items():
            if name in tables:
                pytest.fail(f"table {name} is defined in both {tables[name][0]} and {path}")
            tables[name] = (path, table)
    return tables


@pytest.mark.parametrize("name", sorted(MOODLE_TABLES))
def test_our_description_agrees_with_moodles_install_xml(
    name: str, moodles_tables: dict[str, tuple[Path, MoodleTable]]
) -> None:
    if name not in moodles_tables:
        where = next(path for path, tables in DEFINED_IN.items() if name in tables)
        pytest.skip(f"no file in {MOODLE_XML} defines {name}: Moodle's {where} does")
    path, moodles = moodles_tables[name]
    assert differences(MOODLE_TABLES[name], moodles) == [], f"{name} as {path} defines it"


def test_moodles_install_xml_becomes_create_table_statements(
    moodles_tables: dict[str, tuple[Path, MoodleTable]],
) -> None:
    tables = {name: table for name, (_, table) in moodles_tables.items()}
    for dialect in (postgresql.dialect(), mysql.dialect()):
        statements = create_statements(dialect, tables=tables)
        created = [s for s in statements if s.startswith("CREATE TABLE")]
        assert len(created) == len(tables)
