"""Moodle's tables, for tests: our description of them, and CREATE TABLE statements made from it.

:data:`MOODLE_TABLES` describes every Moodle table the importer (``app/sources/moodle_db*.py``)
reads: each column's name, type (an integer of so many digits, a varchar of so many characters,
a text, a numeric of a precision and scale), whether it may be NULL and its default, and the
table's indexes, as Moodle's XMLDB definitions declare them. We wrote it from Moodle's
``install.xml`` files (:data:`DEFINED_IN` names them; the core one at XMLDB version 20250206); no
Moodle file is kept in this repository.
``tests/app/sources/test_moodle_schema.py`` checks it against Moodle's own files when the
project's shared data holds them. :func:`read_xmldb` reads such a file into the same description.

:func:`moodle_metadata` turns a description into SQLAlchemy tables the way Moodle's XMLDB
generators do (integers by their digits into SMALLINT/INTEGER/BIGINT, ``id`` an auto-increment
primary key, DEFAULT and NOT NULL as declared, every index with its UNIQUE flag; Moodle's foreign
keys are documentation and create no constraint). :func:`create_statements` renders the DDL for
a dialect and :func:`create_moodle_schema` runs it. :func:`insert_rows` inserts rows as Moodle's
data API would, with every NOT NULL column that has no default filled (``''`` or ``0``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.schema import CreateIndex, CreateTable

# Type families; Moodle's XMLDB names them int, char, text, number, float and binary.
INTEGER, STRING, TEXT = "integer", "string", "text"
DECIMAL, FLOAT, BINARY = "decimal", "float", "binary"
XMLDB_TYPES = {"int": INTEGER, "char": STRING, "text": TEXT, "number": DECIMAL, "float": FLOAT,
               "binary": BINARY}  # fmt: skip


@dataclass(frozen=True)
class Column:
    """One column: type family and size, NULL allowed or not, default, auto-increment or not."""

    family: str
    size: int | None = None  # digits of an integer or decimal, characters of a string
    scale: int | None = None  # digits of a decimal after its point
    default: str | None = None  # as Moodle writes it: '0', '-1', 'manual'
    nullable: bool = False
    sequence: bool = False


@dataclass(frozen=True)
class Index:
    """An index on ``columns``, in their order."""

    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class MoodleTable:
    """A Moodle table without its prefix: its columns in Moodle's order, and its indexes."""

    columns: dict[str, Column]
    indexes: tuple[Index, ...] = ()


def integer(digits: int, default: int | None = None, *, null: bool = False) -> Column:
    """An integer column of up to ``digits`` decimal digits."""
    return Column(INTEGER, digits, default=None if default is None else str(default), nullable=null)


def varchar(chars: int, default: str | None = None, *, null: bool = False) -> Column:
    """A string column of up to ``chars`` characters."""
    return Column(STRING, chars, default=default, nullable=null)


def text(*, null: bool = False) -> Column:
    """A text column of any length."""
    return Column(TEXT, nullable=null)


def numeric(
    precision: int, scale: int, default: int | None = None, *, null: bool = False
) -> Column:
    """A decimal column of ``precision`` digits, ``scale`` of them after the point."""
    return Column(DECIMAL, precision, scale, None if default is None else str(default), null)


ID = Column(INTEGER, 10, sequence=True)  # every Moodle table's primary key


def moodle_table(
    columns: dict[str, Column], unique: Iterable[str] = (), indexed: Iterable[str] = ()
) -> MoodleTable:
    """A table of Moodle's ``id`` and ``columns``; each index is its columns' names, "a, b"."""

    def index(names: str, is_unique: bool) -> Index:
        return Index(tuple(n.strip() for n in names.split(",")), is_unique)

    indexes = [index(n, True) for n in unique] + [index(n, False) for n in indexed]
    return MoodleTable({"id": ID, **columns}, tuple(indexes))


# Where Moodle defines each table (a path in its repository); the keys of MOODLE_TABLES.
DEFINED_IN = {
    "lib/db/install.xml": ("user", "course", "course_categories", "context", "role",
                           "role_assignments", "enrol", "user_enrolments", "course_completions",
                           "user_lastaccess", "modules", "course_modules"),
    "mod/assign/db/install.xml": ("assign", "assign_submission", "assign_grades"),
    "admin/tool/log/store/standard/db/install.xml": ("logstore_standard_log",),
}  # fmt: skip

# fmt: off
MOODLE_TABLES: dict[str, MoodleTable] = {
    # lib/db/install.xml
    "user": moodle_table(
        {
            "auth": varchar(20, "manual"), "confirmed": integer(1, 0),
            "policyagreed": integer(1, 0), "deleted": integer(1, 0), "suspended": integer(1, 0),
            "mnethostid": integer(10, 0), "username": varchar(100), "password": varchar(255),
            "idnumber": varchar(255), "firstname": varchar(100), "lastname": varchar(100),
            "email": varchar(100), "emailstop": integer(1, 0), "phone1": varchar(20),
            "phone2": varchar(20), "institution": varchar(255), "department": varchar(255),
            "address": varchar(255), "city": varchar(120), "country": varchar(2),
            "lang": varchar(30, "en"), "calendartype": varchar(30, "gregorian"),
            "theme": varchar(50), "timezone": varchar(100, "99"), "firstaccess": integer(10, 0),
            "lastaccess": integer(10, 0), "lastlogin": integer(10, 0),
            "currentlogin": integer(10, 0), "lastip": varchar(45), "secret": varchar(15),
            "picture": integer(10, 0), "description": text(null=True),
            "descriptionformat": integer(2, 1), "mailformat": integer(1, 1),
            "maildigest": integer(1, 0), "maildisplay": integer(2, 2),
            "autosubscribe": integer(1, 1), "trackforums": integer(1, 0),
            "timecreated": integer(10, 0), "timemodified": integer(10, 0),
            "trustbitmask": integer(10, 0), "imagealt": varchar(255, null=True),
            "lastnamephonetic": varchar(255, null=True),
            "firstnamephonetic": varchar(255, null=True), "middlename": varchar(255, null=True),
            "alternatename": varchar(255, null=True), "moodlenetprofile": varchar(255, null=True),
        },
        unique=("mnethostid, username",),
        indexed=("deleted", "confirmed", "firstname", "lastname", "city", "country", "lastaccess",
            "email", "auth", "idnumber", "firstnamephonetic", "lastnamephonetic", "middlename",
            "alternatename"),
    ),
    "course": moodle_table(
        {
            "category": integer(10, 0), "sortorder": integer(10, 0), "fullname": varchar(1333),
            "shortname": varchar(255), "idnumber": varchar(100), "summary": text(null=True),
            "summaryformat": integer(2, 0), "format": varchar(21, "topics"),
            "showgrades": integer(2, 1), "newsitems": integer(5, 1), "startdate": integer(10, 0),
            "enddate": integer(10, 0), "relativedatesmode": integer(1, 0),
            "marker": integer(10, 0), "maxbytes": integer(10, 0), "legacyfiles": integer(4, 0),
            "showreports": integer(4, 0), "visible": integer(1, 1), "visibleold": integer(1, 1),
            "downloadcontent": integer(1, null=True), "groupmode": integer(4, 0),
            "groupmodeforce": integer(4, 0), "defaultgroupingid": integer(10, 0),
            "lang": varchar(30), "calendartype": varchar(30), "theme": varchar(50),
            "timecreated": integer(10, 0), "timemodified": integer(10, 0),
            "requested": integer(1, 0), "enablecompletion": integer(1, 0),
            "completionnotify": integer(1, 0), "cacherev": integer(10, 0),
            "originalcourseid": integer(10, null=True), "showactivitydates": integer(1, 0),
            "showcompletionconditions": integer(1, null=True),
            "pdfexportfont": varchar(50, null=True),
        },
        indexed=("category", "idnumber", "shortname", "sortorder"),
    ),
    "course_categories": moodle_table(
        {
            "name": varchar(255), "idnumber": varchar(100, null=True),
            "description": text(null=True), "descriptionformat": integer(2, 0),
            "parent": integer(10, 0), "sortorder": integer(10, 0), "coursecount": integer(10, 0),
            "visible": integer(1, 1), "visibleold": integer(1, 1), "timemodified": integer(10, 0),
            "depth": integer(10, 0), "path": varchar(255), "theme": varchar(50, null=True),
        },
    ),
    "context": moodle_table(
        {
            "contextlevel": integer(10, 0), "instanceid": integer(10, 0),
            "path": varchar(255, null=True), "depth": integer(2, 0), "locked": integer(2, 0),
        },
        unique=("contextlevel, instanceid",),
        indexed=("instanceid", "path"),
    ),
    "role": moodle_table(
        {
            "name": varchar(255), "shortname": varchar(100), "description": text(),
            "sortorder": integer(10, 0), "archetype": varchar(30),
        },
        unique=("sortorder", "shortname"),
    ),
    "role_assignments": moodle_table(
        {
            "roleid": integer(10, 0), "contextid": integer(10, 0), "userid": integer(10, 0),
            "timemodified": integer(10, 0), "modifierid": integer(10, 0),
            "component": varchar(100), "itemid": integer(10, 0), "sortorder": integer(10, 0),
        },
        indexed=("sortorder", "roleid, contextid", "userid, contextid, roleid",
            "component, itemid, userid"),
    ),
    "enrol": moodle_table(
        {
            "enrol": varchar(20), "status": integer(10, 0), "courseid": integer(10),
            "sortorder": integer(10, 0), "name": varchar(255, null=True),
            "enrolperiod": integer(10, 0, null=True), "enrolstartdate": integer(10, 0, null=True),
            "enrolenddate": integer(10, 0, null=True), "expirynotify": integer(1, 0, null=True),
            "expirythreshold": integer(10, 0, null=True), "notifyall": integer(1, 0, null=True),
            "password": varchar(50, null=True), "cost": varchar(20, null=True),
            "currency": varchar(3, null=True), "roleid": integer(10, 0, null=True),
            "customint1": integer(10, null=True), "customint2": integer(10, null=True),
            "customint3": integer(10, null=True), "customint4": integer(10, null=True),
            "customint5": integer(10, null=True), "customint6": integer(10, null=True),
            "customint7": integer(10, null=True), "customint8": integer(10, null=True),
            "customchar1": varchar(255, null=True), "customchar2": varchar(255, null=True),
            "customchar3": varchar(1333, null=True), "customdec1": numeric(12, 7, null=True),
            "customdec2": numeric(12, 7, null=True), "customtext1": text(null=True),
            "customtext2": text(null=True), "customtext3": text(null=True),
            "customtext4": text(null=True), "timecreated": integer(10, 0),
            "timemodified": integer(10, 0),
        },
        indexed=("enrol",),
    ),
    "user_enrolments": moodle_table(
        {
            "status": integer(10, 0), "enrolid": integer(10), "userid": integer(10),
            "timestart": integer(10, 0), "timeend": integer(10, 2147483647),
            "modifierid": integer(10, 0), "timecreated": integer(10, 0),
            "timemodified": integer(10, 0),
        },
        unique=("enrolid, userid",),
    ),
    "course_completions": moodle_table(
        {
            "userid": integer(10, 0), "course": integer(10, 0), "timeenrolled": integer(10, 0),
            "timestarted": integer(10, 0), "timecompleted": integer(10, null=True),
            "reaggregate": integer(10, 0),
        },
        unique=("userid, course",),
        indexed=("userid", "course", "timecompleted"),
    ),
    "user_lastaccess": moodle_table(
        {
            "userid": integer(10, 0), "courseid": integer(10, 0), "timeaccess": integer(10, 0),
        },
        unique=("userid, courseid",),
        indexed=("userid", "courseid"),
    ),
    "modules": moodle_table(
        {
            "name": varchar(20), "cron": integer(10, 0), "lastcron": integer(10, 0),
            "search": varchar(255), "visible": integer(1, 1),
        },
        indexed=("name",),
    ),
    "course_modules": moodle_table(
        {
            "course": integer(10, 0), "module": integer(10, 0), "instance": integer(10, 0),
            "section": integer(10, 0), "idnumber": varchar(100, null=True),
            "added": integer(10, 0), "score": integer(4, 0), "indent": integer(5, 0),
            "visible": integer(1, 1), "visibleoncoursepage": integer(1, 1),
            "visibleold": integer(1, 1), "groupmode": integer(4, 0), "groupingid": integer(10, 0),
            "completion": integer(1, 0), "completiongradeitemnumber": integer(10, null=True),
            "completionview": integer(1, 0), "completionexpected": integer(10, 0),
            "completionpassgrade": integer(1, 0), "showdescription": integer(1, 0),
            "availability": text(null=True), "deletioninprogress": integer(1, 0),
            "downloadcontent": integer(1, 1, null=True), "lang": varchar(30, null=True),
        },
        indexed=("visible", "course", "module", "instance", "idnumber, course"),
    ),
    # mod/assign/db/install.xml
    "assign": moodle_table(
        {
            "course": integer(10, 0), "name": varchar(255), "intro": text(),
            "introformat": integer(4, 0), "alwaysshowdescription": integer(2, 0),
            "nosubmissions": integer(2, 0), "submissiondrafts": integer(2, 0),
            "sendnotifications": integer(2, 0), "sendlatenotifications": integer(2, 0),
            "duedate": integer(10, 0), "allowsubmissionsfromdate": integer(10, 0),
            "grade": integer(10, 0), "timemodified": integer(10, 0),
            "requiresubmissionstatement": integer(2, 0), "completionsubmit": integer(2, 0),
            "cutoffdate": integer(10, 0), "gradingduedate": integer(10, 0),
            "teamsubmission": integer(2, 0), "requireallteammemberssubmit": integer(2, 0),
            "teamsubmissiongroupingid": integer(10, 0), "blindmarking": integer(2, 0),
            "hidegrader": integer(2, 0), "revealidentities": integer(2, 0),
            "attemptreopenmethod": varchar(10, "none"), "maxattempts": integer(6, -1),
            "markingworkflow": integer(2, 0), "markingallocation": integer(2, 0),
            "sendstudentnotifications": integer(2, 1),
            "preventsubmissionnotingroup": integer(2, 0),
        },
        indexed=("course", "teamsubmissiongroupingid"),
    ),
    "assign_submission": moodle_table(
        {
            "assignment": integer(10, 0), "userid": integer(10, 0), "timecreated": integer(10, 0),
            "timemodified": integer(10, 0), "status": varchar(10, null=True),
            "groupid": integer(10, 0), "attemptnumber": integer(10, 0), "latest": integer(2, 0),
        },
        unique=("assignment, userid, groupid, attemptnumber",),
        indexed=("userid", "attemptnumber", "assignment, userid, groupid, latest"),
    ),
    "assign_grades": moodle_table(
        {
            "assignment": integer(10, 0), "userid": integer(10, 0), "timecreated": integer(10, 0),
            "timemodified": integer(10, 0), "grader": integer(10, 0),
            "grade": numeric(10, 5, 0, null=True), "attemptnumber": integer(10, 0),
        },
        unique=("assignment, userid, attemptnumber",),
        indexed=("userid", "attemptnumber"),
    ),
    # admin/tool/log/store/standard/db/install.xml
    "logstore_standard_log": moodle_table(
        {
            "eventname": varchar(255), "component": varchar(100), "action": varchar(100),
            "target": varchar(100), "objecttable": varchar(50, null=True),
            "objectid": integer(10, null=True), "crud": varchar(1), "edulevel": integer(1),
            "contextid": integer(10), "contextlevel": integer(10),
            "contextinstanceid": integer(10), "userid": integer(10),
            "courseid": integer(10, null=True), "relateduserid": integer(10, null=True),
            "anonymous": integer(1, 0), "other": text(null=True), "timecreated": integer(10),
            "origin": varchar(10, null=True), "ip": varchar(45, null=True),
            "realuserid": integer(10, null=True),
        },
        indexed=("timecreated", "courseid, anonymous, timecreated",
            "userid, contextlevel, contextinstanceid, crud, edulevel, timecreated"),
    ),
}
# fmt: on


def _xmldb_column(field: ET.Element) -> Column:
    family = XMLDB_TYPES.get(str(field.get("TYPE")))
    if family is None:
        raise ValueError(
            f"XMLDB field {field.get('NAME')} has an unknown TYPE {field.get('TYPE')!r}"
        )
    length, decimals = field.get("LENGTH"), field.get("DECIMALS")
    return Column(
        family,
        int(length) if length else None,
        int(decimals) if decimals else None,
        field.get("DEFAULT"),
        nullable=field.get("NOTNULL") != "true",
        sequence=field.get("SEQUENCE") == "true",
    )


def _names(element: ET.Element) -> tuple[str, ...]:
    return tuple(name.strip() for name in (element.get("FIELDS") or "").split(","))


def read_xmldb(path: Path) -> dict[str, MoodleTable]:
    """The tables of one Moodle XMLDB file (an ``install.xml``), described as MOODLE_TABLES is."""
    # Moodle's own definitions from the project's data folder, not input from users.
    root = ET.parse(path).getroot()  # noqa: S314
    tables: dict[str, MoodleTable] = {}
    for table in root.iter("TABLE"):
        name = str(table.get("NAME"))
        keys = list(table.iter("KEY"))
        primary = [_names(k) for k in keys if k.get("TYPE") == "primary"]
        if primary != [("id",)]:
            raise ValueError(f"{path}: table {name} has the primary key {primary}, not id")
        # A unique key is a unique index to Moodle's generators; foreign keys create nothing.
        indexes = [
            Index(_names(k), True) for k in keys if k.get("TYPE") in ("unique", "foreign-unique")
        ]
        indexes += [Index(_names(i), i.get("UNIQUE") == "true") for i in table.iter("INDEX")]
        columns = {str(f.get("NAME")): _xmldb_column(f) for f in table.iter("FIELD")}
        tables[name] = MoodleTable(columns, tuple(indexes))
    return tables


def _column_type(column: Column) -> sa.types.TypeEngine[Any]:
    if column.family == INTEGER:
        digits = column.size or 10
        return (
            sa.SmallInteger() if digits <= 4 else sa.Integer() if digits <= 9 else sa.BigInteger()
        )
    if column.family == DECIMAL:
        return sa.Numeric(column.size or 10, column.scale or 0)
    if column.family == STRING:
        return sa.String(column.size or 255)
    kinds = {TEXT: sa.Text, FLOAT: sa.Float, BINARY: sa.LargeBinary}
    return kinds[column.family]()


def moodle_metadata(
    prefix: str = "mdl_", tables: Mapping[str, MoodleTable] = MOODLE_TABLES
) -> sa.MetaData:
    """SQLAlchemy tables of ``tables``, each named ``prefix + name``."""
    metadata = sa.MetaData()
    for bare, table in tables.items():
        name = prefix + bare
        sa_table = sa.Table(
            name,
            metadata,
            *(
                sa.Column(
                    column_name,
                    _column_type(column),
                    primary_key=column_name == "id",
                    autoincrement=column.sequence,
                    nullable=column.nullable,
                    server_default=None if column.sequence else column.default,
                )
                for column_name, column in table.columns.items()
            ),
        )
        for number, index in enumerate(table.indexes, start=1):
            # Moodle derives its index names from the table and columns; ours need only be
            # unique in the database and short enough for both servers.
            sa.Index(f"{name}_ix{number}", *(sa_table.c[c] for c in index.columns),
                     unique=index.unique)  # fmt: skip
    return metadata


def create_statements(
    dialect: Dialect, prefix: str = "mdl_", tables: Mapping[str, MoodleTable] = MOODLE_TABLES
) -> list[str]:
    """The CREATE TABLE and CREATE INDEX statements of ``tables``, for ``dialect``."""
    statements: list[str] = []
    for table in moodle_metadata(prefix, tables).sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        # A table's indexes are a set: put them back in the description's order (ix1, ix2, ...).
        indexes = sorted(table.indexes, key=lambda index: (len(str(index.name)), index.name))
        statements.extend(
            str(CreateIndex(index).compile(dialect=dialect)).strip() for index in indexes
        )
    return statements


def create_moodle_schema(engine: Engine, prefix: str = "mdl_") -> sa.MetaData:
    """Run :func:`create_statements` on ``engine``; returns the metadata to insert rows with."""
    with engine.begin() as conn:
        for statement in create_statements(engine.dialect, prefix):
            conn.execute(sa.text(statement))
    return moodle_metadata(prefix)


def insert_rows(conn: Connection, table: sa.Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert ``rows``; a NOT NULL column without a default that a row omits gets '' or 0."""
    filled = []
    for row in rows:
        full = dict(row)
        for column in table.columns:
            if column.name in full or column.nullable or column.server_default is not None:
                continue
            if column.autoincrement is True:
                continue
            is_text = isinstance(column.type, sa.String | sa.Text)
            full[column.name] = "" if is_text else 0
        filled.append(full)
    if filled:
        conn.execute(table.insert(), filled)
