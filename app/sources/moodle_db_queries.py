"""The SQL that :mod:`app.sources.moodle_db` runs against a Moodle database (SQLAlchemy Core).

Written once for PostgreSQL and MySQL/MariaDB alike: only joins, ``EXISTS``, ``MIN``/``MAX`` and
keyset pagination by primary key, which both answer from Moodle's own indexes. Tables are named
through :class:`MoodleSchema`, which knows the prefix and which optional tables and columns this
site's Moodle version has.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.core.errors import UserError
from app.sources import moodle_db_rows as rows

REQUIRED_TABLES = ("user", "course", "enrol", "user_enrolments", "role", "role_assignments",
                   "context")  # fmt: skip
OWNER_ROLES = ("editingteacher",)
# Short names or archetypes; an enrolment of someone who teaches and does not learn is left out.
TEACHING_ROLES = ("editingteacher", "teacher", "manager", "coursecreator")
LEARNING_ROLES = ("student",)
LOG_COLUMNS = ("id", "eventname", "component", "contextlevel", "contextinstanceid", "userid",
               "courseid", "relateduserid", "timecreated", "origin", "anonymous",
               "realuserid")  # fmt: skip


class MoodleSchema:
    """Which Moodle tables (and optional columns) the database has, under its prefix."""

    def __init__(self, conn: Connection, prefix: str, where: str) -> None:
        inspector = sa.inspect(conn)
        names = set(inspector.get_table_names())
        self.prefix = prefix
        self.tables = {n[len(prefix) :] for n in names if n.startswith(prefix)}
        missing = [t for t in REQUIRED_TABLES if t not in self.tables]
        if missing:
            found = " or ".join(sorted(repr(n.removesuffix("user_enrolments")) for n in names
                                       if n.endswith("user_enrolments")))  # fmt: skip
            hint = (f"; its tables use the prefix {found} (give it with --prefix)" if found
                    else "; is this Moodle's database, and is the table prefix right?")  # fmt: skip
            raise UserError(
                f"{where} has no Moodle tables {', '.join(prefix + t for t in missing)}{hint}"
            )
        self.columns = {
            t: {c["name"] for c in inspector.get_columns(prefix + t)}
            for t in ("course", "logstore_standard_log")
            if t in self.tables
        }

    def has(self, *tables: str) -> bool:
        """Whether every one of ``tables`` (without prefix) exists."""
        return all(t in self.tables for t in tables)

    def table(self, name: str, *columns: str) -> sa.TableClause:
        """A lightweight construct of table ``name`` with the columns a query uses."""
        return sa.table(self.prefix + name, *(sa.column(c) for c in columns))


def read_frame(conn: Connection, statement: sa.Select[Any]) -> pd.DataFrame:
    """All rows of ``statement`` as a DataFrame with the statement's column names."""
    result = conn.execute(statement)
    names = list(result.keys())
    # The driver's own tuples: building a frame from SQLAlchemy's Row objects is 5x slower,
    # and no column needs SQLAlchemy's type processing (integers, text and decimals as they are).
    records = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    return pd.DataFrame.from_records(records, columns=names, coerce_float=False)


def read_chunks(
    conn: Connection, statement: sa.Select[Any], key: Any, chunk_rows: int, *, after: int = 0
) -> Iterator[pd.DataFrame]:
    """``statement`` in the order of its ``id`` column ``key``, ``chunk_rows`` rows at a time."""
    while True:
        chunk = read_frame(conn, statement.where(key > after).order_by(key).limit(chunk_rows))
        if chunk.empty:
            return
        yield chunk
        after = int(chunk["id"].max())
        if len(chunk) < chunk_rows:
            return


def read_users_and_courses(
    conn: Connection, schema: MoodleSchema
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Index]:
    """(lms_users, courses, ids of the site course): the tables held whole in memory."""
    u = schema.table("user", "id", "auth", "deleted", "suspended", "username", "idnumber",
                     "firstname", "lastname", "email", "timecreated", "lastlogin",
                     "currentlogin")  # fmt: skip
    # Moodle's built-in guest account is nobody; its events are left out with it.
    users = rows.users_to_lms_users(
        read_frame(conn, sa.select(*u.c).where(u.c.username != "guest").order_by(u.c.id))
    )
    names = ["id", "category", "fullname", "shortname", "idnumber", "visible", "startdate"]
    if "enddate" in schema.columns.get("course", set()):  # Moodle 3.2 on
        names.append("enddate")
    c = schema.table("course", *names)
    query = sa.select(*c.c)
    if schema.has("course_categories"):
        cat = schema.table("course_categories", "id", "name")
        query = sa.select(*c.c, cat.c.name.label("category_name")).select_from(
            c.outerjoin(cat, cat.c.id == c.c.category)
        )
    course_rows = read_frame(conn, query.order_by(c.c.id))
    site = pd.to_numeric(course_rows["category"], errors="coerce").fillna(0).eq(0)
    ra = schema.table("role_assignments", "id", "userid", "contextid", "roleid", "timemodified")
    ctx = schema.table("context", "id", "contextlevel", "instanceid")
    role = schema.table("role", "id", "shortname")
    owners = read_frame(
        conn,
        sa.select(ra.c.id, ra.c.userid, ra.c.timemodified, ctx.c.instanceid)
        .select_from(ra.join(ctx, ctx.c.id == ra.c.contextid).join(role, role.c.id == ra.c.roleid))
        .where(ctx.c.contextlevel == rows.CONTEXT_COURSE, role.c.shortname.in_(OWNER_ROLES)),
    )
    owners["user_id"] = rows.id_text(owners["userid"])
    owners["course_id"] = rows.id_text(owners["instanceid"])
    courses = rows.courses_to_contract(course_rows[~site], owners, users)
    return users, courses, pd.Index(rows.id_text(course_rows.loc[site, "id"]))


def _holds_role(schema: MoodleSchema, user: Any, course: Any, names: tuple[str, ...]) -> Any:
    """EXISTS: ``user`` holds a role named ``names`` (short name or archetype) in ``course``."""
    ra = schema.table("role_assignments", "userid", "contextid", "roleid").alias()
    ctx = schema.table("context", "id", "contextlevel", "instanceid").alias()
    role = schema.table("role", "id", "shortname", "archetype").alias()
    return sa.exists().where(
        ra.c.userid == user, ra.c.contextid == ctx.c.id, ctx.c.instanceid == course,
        ctx.c.contextlevel == rows.CONTEXT_COURSE, role.c.id == ra.c.roleid,
        sa.or_(role.c.shortname.in_(names), role.c.archetype.in_(names)),
    )  # fmt: skip


def enrolment_query(schema: MoodleSchema) -> tuple[sa.Select[Any], Any]:
    """(user enrolments with their method, completion, last access and roles; their id key)."""
    ue = schema.table("user_enrolments", "id", "enrolid", "userid", "status", "timestart",
                      "timeend", "timecreated", "timemodified")  # fmt: skip
    e = schema.table("enrol", "id", "enrol", "courseid", "status", "timemodified")
    joined = ue.join(e, e.c.id == ue.c.enrolid)
    extra: list[Any] = [sa.null().label(n) for n in ("timestarted", "timecompleted", "timeaccess")]
    if schema.has("course_completions"):
        cc = schema.table("course_completions", "userid", "course", "timestarted", "timecompleted")
        joined = joined.outerjoin(cc, (cc.c.userid == ue.c.userid) & (cc.c.course == e.c.courseid))
        extra[:2] = [cc.c.timestarted, cc.c.timecompleted]
    if schema.has("user_lastaccess"):
        la = schema.table("user_lastaccess", "userid", "courseid", "timeaccess")
        joined = joined.outerjoin(
            la, (la.c.userid == ue.c.userid) & (la.c.courseid == e.c.courseid)
        )
        extra[2] = la.c.timeaccess
    query = sa.select(
        *ue.c, e.c.courseid, e.c.enrol, e.c.status.label("instance_status"),
        e.c.timemodified.label("instance_timemodified"), *extra,
        _holds_role(schema, ue.c.userid, e.c.courseid, TEACHING_ROLES).label("teaching"),
        _holds_role(schema, ue.c.userid, e.c.courseid, LEARNING_ROLES).label("learning"),
    ).select_from(joined).where(e.c.enrol.not_in(rows.EXCLUDED_ENROL_PLUGINS))  # fmt: skip
    return query, ue.c.id


def submission_query(schema: MoodleSchema) -> tuple[sa.Select[Any], Any]:
    """(submitted assignment attempts with their course module and grade; their id key)."""
    s = schema.table("assign_submission", "id", "assignment", "userid", "timemodified", "status",
                     "attemptnumber")  # fmt: skip
    a = schema.table("assign", "id", "course", "name")
    cm = schema.table("course_modules", "id", "module", "instance")
    m = schema.table("modules", "id", "name")
    joined = (
        s.join(a, a.c.id == s.c.assignment)
        .join(m, m.c.name == "assign")
        .join(cm, (cm.c.module == m.c.id) & (cm.c.instance == a.c.id))
    )
    grade: list[Any] = [sa.null().label("graded_at"), sa.null().label("grade")]
    if schema.has("assign_grades"):
        g = schema.table("assign_grades", "assignment", "userid", "attemptnumber", "timemodified",
                         "grade")  # fmt: skip
        joined = joined.outerjoin(g, (g.c.assignment == s.c.assignment) & (g.c.userid == s.c.userid)
                                  & (g.c.attemptnumber == s.c.attemptnumber))  # fmt: skip
        grade = [g.c.timemodified.label("graded_at"), g.c.grade]
    query = sa.select(
        s.c.id, s.c.userid, s.c.timemodified, s.c.attemptnumber, a.c.course, a.c.name,
        cm.c.id.label("cmid"), *grade,
    ).select_from(joined).where(s.c.status == "submitted")  # fmt: skip
    return query, s.c.id


def read_log(
    conn: Connection, schema: MoodleSchema, since: datetime | None, chunk_rows: int
) -> Iterator[tuple[pd.DataFrame, int, int]]:
    """The standard log's rows (from ``since`` on) in id order: (chunk, ids done, id span).

    The id range is fixed when the read starts, so events logged meanwhile wait for the next run.
    """
    present = schema.columns["logstore_standard_log"]
    log = schema.table("logstore_standard_log", *[c for c in LOG_COLUMNS if c in present])
    lowest, highest = conn.execute(sa.select(sa.func.min(log.c.id), sa.func.max(log.c.id))).one()
    if highest is None:
        return
    query = sa.select(*log.c).where(log.c.id <= highest)
    if since is not None:
        cutoff = int(since.replace(tzinfo=since.tzinfo or UTC).timestamp())
        # No row before the first one from ``since`` on can qualify: the scan starts there.
        lowest = conn.execute(
            sa.select(sa.func.min(log.c.id)).where(log.c.timecreated >= cutoff)
        ).scalar()
        query = query.where(log.c.timecreated >= cutoff)
    if lowest is None:
        return
    span = int(highest) - int(lowest) + 1
    for chunk in read_chunks(conn, query, log.c.id, chunk_rows, after=int(lowest) - 1):
        yield chunk, int(chunk["id"].max()) - int(lowest) + 1, span
