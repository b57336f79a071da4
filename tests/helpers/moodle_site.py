"""A small Moodle site, as rows of Moodle's own tables, and the snapshot it should become.

Two courses in use (Workplace Safety with an editing teacher, Excel Basics with only a
non-editing one), a hidden old course, the front page; a suspended, a deleted and a no-login
user beside the guest account; manual, self, cohort, external-database, disabled and unknown
enrolment methods; completion, last access, assignment attempts graded, ungraded, graded before a
resubmission and made by a team; and log rows of every kind the importer keeps or leaves out.
Times count back from ``AS_OF``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.helpers.moodle_schema import insert_rows

AS_OF = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
NOW = int(AS_OF.timestamp())
DAY = 86_400


def ago(days: float) -> int:
    """Unix seconds ``days`` before AS_OF."""
    return NOW - int(days * DAY)


def iso(seconds: int | None) -> str:
    """How the snapshot spells a time ('' for none)."""
    if not seconds:
        return ""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def _rows(names: str, *values: tuple[Any, ...]) -> list[dict[str, Any]]:
    keys = names.split()
    return [dict(zip(keys, v, strict=True)) for v in values]


USERS = _rows(
    "id auth deleted suspended mnethostid username idnumber firstname lastname email "
    "timecreated lastlogin currentlogin",
    (1, "manual", 0, 0, 1, "guest", "", "Guest user", " ", "root@localhost", 0, 0, 0),
    (2, "manual", 0, 0, 1, "admin", "", "Admin", "User", "admin@example.org", 0, ago(2), ago(1)),
    (3, "manual", 0, 0, 1, "tteach", "E1001", "Tom", "Teach", "tom.teach@example.org",
     ago(400), ago(5), ago(3)),
    (4, "ldap", 0, 0, 1, "alee", "E2001", "Ann", "Lee", "ann.lee@example.org", ago(300), 0,
     ago(1)),
    (5, "ldap", 0, 0, 1, "broe", "E2002", "Bob", "Roe", "bob.roe@example.org", ago(200), ago(4),
     ago(2)),
    (6, "ldap", 0, 1, 1, "cpoe", "E2004", "Cy", "Poe", "cy.poe@example.org", ago(250), ago(101),
     ago(100)),
    (7, "manual", 1, 0, 1, "dee.gone@example.org.1764000000", "", "Dee", "Gone",
     "6f1ed002ab5595859014ebf0951522d9", ago(500), 0, ago(420)),
    (8, "ldap", 0, 0, 1, "eng", "E2003", "Eve", "Ng", "eve.ng@example.org", ago(35), 0, 0),
    (9, "manual", 0, 0, 1, "ttutor", "", "Tina", "Tutor", "tina.tutor@example.org", ago(380),
     ago(6), ago(4)),
    (10, "nologin", 0, 0, 1, "nolin", "E1002", "Nils", "Olin", "nils.olin@example.org",
     ago(100), 0, 0),
)  # fmt: skip
CATEGORIES = _rows("id name path", (1, "Health and Safety", "/1"), (2, "Office Skills", "/2"))
COURSES = _rows(
    "id category fullname shortname idnumber format visible startdate enddate",
    (1, 0, "Acme Learning", "acme", "", "site", 1, 0, 0),
    (2, 1, "Workplace Safety", "SAFE101", "HS-101", "topics", 1, ago(60), ago(-30)),
    (3, 2, "Excel Basics", "XL1", "", "topics", 1, ago(90), 0),
    (4, 2, "Old Induction", "IND0", "", "topics", 0, ago(700), ago(365)),
)
CONTEXTS = _rows(
    "id contextlevel instanceid depth path",
    (1, 10, 0, 1, "/1"), (2, 50, 1, 2, "/1/2"), (3, 50, 2, 3, "/1/3"), (4, 50, 3, 3, "/1/4"),
    (5, 50, 4, 3, "/1/5"), (6, 70, 101, 4, "/1/3/6"), (7, 70, 102, 4, "/1/3/7"),
    (8, 70, 103, 4, "/1/4/8"), (9, 70, 104, 4, "/1/3/9"), (10, 30, 4, 2, "/1/10"),
)  # fmt: skip
ROLES = _rows(
    "id shortname archetype sortorder",
    (1, "manager", "manager", 1), (2, "coursecreator", "coursecreator", 2),
    (3, "editingteacher", "editingteacher", 3), (4, "teacher", "teacher", 4),
    (5, "student", "student", 5), (6, "guest", "guest", 6), (7, "user", "user", 7),
    (8, "frontpage", "frontpage", 8),
)  # fmt: skip
ROLE_ASSIGNMENTS = _rows(
    "id roleid contextid userid timemodified",
    (1, 1, 1, 2, ago(900)),  # the admin manages the site, not a course
    (2, 3, 3, 3, ago(60)), (3, 3, 3, 10, ago(300)),  # Safety: Tom, and Nils who cannot log in
    (4, 4, 4, 9, ago(90)),  # Excel: only a non-editing teacher
    (5, 1, 4, 2, ago(90)),  # ... and the admin as manager
    (6, 3, 5, 3, ago(700)),
    (7, 5, 3, 4, ago(50)), (8, 5, 3, 5, ago(40)), (9, 5, 3, 6, ago(45)), (10, 5, 3, 8, ago(30)),
    (11, 5, 4, 4, ago(80)), (12, 5, 4, 5, ago(20)),
)  # fmt: skip
ENROL = _rows(
    "id enrol status courseid sortorder timecreated timemodified",
    (1, "manual", 0, 2, 0, ago(61), ago(61)), (2, "self", 0, 2, 1, ago(61), ago(61)),
    (3, "guest", 0, 2, 2, ago(61), ago(61)), (4, "cohort", 0, 2, 3, ago(61), ago(61)),
    (5, "manual", 0, 3, 0, ago(91), ago(91)), (6, "database", 0, 3, 1, ago(91), ago(91)),
    (7, "fancysync", 0, 3, 2, ago(91), ago(91)), (8, "manual", 0, 4, 0, ago(701), ago(701)),
    (9, "self", 1, 3, 3, ago(91), ago(7)),  # self enrolment switched off a week ago
)  # fmt: skip
USER_ENROLMENTS = _rows(
    "id status enrolid userid timestart timeend timecreated timemodified",
    (1, 0, 1, 3, ago(60), 0, ago(60), ago(60)), (2, 0, 1, 4, ago(50), 0, ago(50), ago(50)),
    (3, 0, 2, 5, ago(40), 0, ago(40), ago(40)), (4, 1, 1, 6, ago(45), 0, ago(45), ago(5)),
    (5, 0, 4, 8, ago(30), 0, 0, 0), (6, 0, 6, 4, ago(80), ago(2), ago(80), ago(80)),
    (7, 0, 5, 5, ago(20), 0, ago(20), ago(20)), (8, 0, 5, 9, ago(90), 0, ago(90), ago(90)),
    (9, 0, 5, 2, ago(90), 0, ago(90), ago(90)), (10, 0, 7, 6, ago(15), 0, ago(15), ago(15)),
    (11, 0, 9, 5, ago(25), 0, ago(25), ago(25)), (12, 0, 8, 3, ago(700), 0, ago(700), ago(700)),
    (13, 0, 1, 10, ago(300), 0, ago(300), ago(300)),
)  # fmt: skip
COMPLETIONS = _rows(
    "id userid course timeenrolled timestarted timecompleted",
    (1, 4, 2, ago(50), ago(45), ago(10)), (2, 5, 2, ago(40), 0, None),
    (3, 8, 2, 0, 0, None), (4, 4, 3, ago(80), ago(70), None),
)  # fmt: skip
LAST_ACCESS = _rows(
    "id userid courseid timeaccess", (1, 4, 2, ago(10)), (2, 5, 2, ago(1)), (3, 5, 3, ago(2)),
    (4, 6, 2, ago(20)),
)  # fmt: skip
MODULES = _rows("id name", (1, "assign"), (2, "page"), (3, "quiz"))
COURSE_MODULES = _rows(
    "id course module instance", (101, 2, 1, 1), (102, 2, 2, 1), (103, 3, 1, 2), (104, 2, 3, 1)
)
ASSIGN = _rows("id course name", (1, 2, "Risk assessment"), (2, 3, "Budget spreadsheet"))
SUBMISSIONS = _rows(
    "id assignment userid timecreated timemodified status groupid attemptnumber latest",
    (1, 1, 4, ago(21), ago(20), "submitted", 0, 0, 1), (2, 1, 5, ago(13), ago(12), "submitted",
    0, 0, 1), (3, 1, 6, ago(15), ago(15), "draft", 0, 0, 1), (4, 1, 8, ago(30), ago(30), "new",
    0, 0, 1), (5, 2, 5, ago(3), ago(3), "submitted", 0, 0, 1), (6, 2, 4, ago(9), ago(6),
    "submitted", 0, 0, 1), (7, 1, 0, ago(9), ago(9), "submitted", 5, 0, 1),
)  # fmt: skip
GRADES = _rows(
    "id assignment userid timecreated timemodified grader grade attemptnumber",
    (1, 1, 4, ago(18), ago(18), 3, 85, 0),
    (2, 2, 5, ago(1), ago(1), 9, -1, 0),  # a grading form opened, no grade given
    (3, 2, 4, ago(8), ago(8), 9, 70, 0),  # graded, then Ann changed her submission
)  # fmt: skip
_LOG_NAMES = (
    "id eventname component action target crud edulevel contextid contextlevel "
    "contextinstanceid userid courseid relateduserid anonymous timecreated origin realuserid"
)
LOG = _rows(
    _LOG_NAMES,
    (1, "\\core\\event\\user_loggedin", "core", "loggedin", "user", "r", 0, 1, 10, 0, 4, 0, None,
     0, ago(1) + 100, "web", None),
    (2, "\\core\\event\\course_viewed", "core", "viewed", "course", "r", 2, 3, 50, 2, 4, 2, None,
     0, ago(1) + 200, "web", None),
    (3, "\\mod_page\\event\\course_module_viewed", "mod_page", "viewed", "course_module", "r", 2,
     7, 70, 102, 4, 2, None, 0, ago(1) + 300, "web", None),
    (4, "\\mod_assign\\event\\assessable_submitted", "mod_assign", "submitted", "assessable", "u",
     2, 6, 70, 101, 4, 2, None, 0, ago(20), "web", None),
    (5, "\\core\\event\\course_module_completion_updated", "core", "updated",
     "course_module_completion", "u", 2, 7, 70, 102, 4, 2, 4, 0, ago(1) + 310, "web", None),
    (6, "\\core\\event\\course_module_completion_updated", "core", "updated",
     "course_module_completion", "u", 2, 6, 70, 101, 0, 2, 5, 0, ago(12) + 60, "cli", None),
    (7, "\\core\\event\\course_completed", "core", "completed", "course", "u", 2, 3, 50, 2, 0, 2,
     4, 0, ago(10), "cli", None),
    (8, "\\core\\event\\user_login_failed", "core", "failed", "user_login", "r", 0, 1, 10, 0, 5,
     0, None, 0, ago(2), "web", None),
    (9, "\\core\\event\\user_login_failed", "core", "failed", "user_login", "r", 0, 1, 10, 0, 0,
     0, None, 0, ago(2) + 5, "web", None),
    (10, "\\mod_quiz\\event\\attempt_started", "mod_quiz", "started", "attempt", "c", 2, 9, 70,
     104, 5, 2, 5, 0, ago(2) + 600, "web", None),
    (11, "\\core\\event\\dashboard_viewed", "core", "viewed", "dashboard", "r", 0, 10, 30, 4, 4,
     0, 4, 0, ago(1) + 50, "web", None),
    (12, "\\core\\event\\user_graded", "core", "graded", "user", "u", 1, 3, 50, 2, 3, 2, 4, 0,
     ago(18), "web", None),
    (13, "\\mod_page\\event\\course_module_viewed", "mod_page", "viewed", "course_module", "r", 2,
     7, 70, 102, 5, 2, None, 0, ago(3), "web", 2),
    (14, "\\mod_feedback\\event\\course_module_viewed", "mod_feedback", "viewed", "course_module",
     "r", 2, 7, 70, 102, 5, 2, None, 1, ago(3) + 10, "web", None),
    (15, "\\core\\event\\course_viewed", "core", "viewed", "course", "r", 2, 3, 50, 2, 1, 2, None,
     0, ago(3) + 20, "web", None),
    (16, "\\core\\event\\course_viewed", "core", "viewed", "course", "r", 2, 99, 50, 99, 5, 99,
     None, 0, ago(3) + 30, "web", None),
    (17, "\\core\\event\\user_loggedin", "core", "loggedin", "user", "r", 0, 1, 10, 0, 7, 0, None,
     0, ago(420), "web", None),
    (18, "\\core\\event\\course_viewed", "core", "viewed", "course", "r", 2, 2, 50, 1, 4, 1, None,
     0, ago(1) + 60, "web", None),
    (19, "\\core\\event\\course_viewed", "core", "viewed", "course", "r", 2, 4, 50, 3, 5, 3, None,
     0, ago(2) + 700, "web", None),
    (20, "\\mod_assign\\event\\assessable_submitted", "mod_assign", "submitted", "assessable",
     "u", 2, 6, 70, 101, 5, 2, None, 0, ago(12), "web", None),
    (21, "\\core\\event\\course_viewed", "core", "viewed", "course", "r", 2, 3, 50, 2, 3, 2, None,
     0, ago(3) + 40, "web", None),
    (22, "\\core\\event\\course_viewed", "core", "viewed", "course", "r", 2, 4, 50, 3, 4, 3, None,
     0, ago(200), "web", None),
)  # fmt: skip

SITE: dict[str, list[dict[str, Any]]] = {
    "user": USERS, "course_categories": CATEGORIES, "course": COURSES, "context": CONTEXTS,
    "role": ROLES, "role_assignments": ROLE_ASSIGNMENTS, "enrol": ENROL,
    "user_enrolments": USER_ENROLMENTS, "course_completions": COMPLETIONS,
    "user_lastaccess": LAST_ACCESS, "modules": MODULES, "course_modules": COURSE_MODULES,
    "assign": ASSIGN, "assign_submission": SUBMISSIONS, "assign_grades": GRADES,
    "logstore_standard_log": LOG,
}  # fmt: skip


def fill_site(engine: Engine, metadata: sa.MetaData, prefix: str = "mdl_") -> None:
    """Insert the small site into Moodle tables made by create_moodle_schema."""
    with engine.begin() as conn:
        for name, rows in SITE.items():
            insert_rows(conn, metadata.tables[prefix + name], rows)


# What the snapshot must hold: every row, every column ('' = null).
EXPECTED_USERS = [
    # user_id person_id email full_name status created_at last_login_at username auth
    ("2", "", "admin@example.org", "Admin User", "active", "", iso(ago(1)), "admin", "manual"),
    ("3", "E1001", "tom.teach@example.org", "Tom Teach", "active", iso(ago(400)), iso(ago(3)),
     "tteach", "manual"),
    ("4", "E2001", "ann.lee@example.org", "Ann Lee", "active", iso(ago(300)), iso(ago(1)),
     "alee", "ldap"),
    ("5", "E2002", "bob.roe@example.org", "Bob Roe", "active", iso(ago(200)), iso(ago(2)),
     "broe", "ldap"),
    ("6", "E2004", "cy.poe@example.org", "Cy Poe", "suspended", iso(ago(250)), iso(ago(100)),
     "cpoe", "ldap"),
    ("7", "", "", "Dee Gone", "deleted", iso(ago(500)), iso(ago(420)),
     "dee.gone@example.org.1764000000", "manual"),
    ("8", "E2003", "eve.ng@example.org", "Eve Ng", "active", iso(ago(35)), "", "eng", "ldap"),
    ("9", "", "tina.tutor@example.org", "Tina Tutor", "active", iso(ago(380)), iso(ago(4)),
     "ttutor", "manual"),
    ("10", "E1002", "nils.olin@example.org", "Nils Olin", "suspended", iso(ago(100)), "",
     "nolin", "nologin"),
]  # fmt: skip
EXPECTED_COURSES = [
    # course_id title owner_user_id starts_at ends_at is_compliance status shortname idnumber
    # category teacher_user_ids
    ("2", "Workplace Safety", "3", iso(ago(60)), iso(ago(-30)), "false", "active", "SAFE101",
     "HS-101", "Health and Safety", "3;10"),
    ("3", "Excel Basics", "", iso(ago(90)), "", "false", "active", "XL1", "", "Office Skills",
     ""),
    ("4", "Old Induction", "3", iso(ago(700)), iso(ago(365)), "false", "archived", "IND0", "",
     "Office Skills", "3"),
]  # fmt: skip
EXPECTED_ENROLMENTS = [
    # enrollment_id user_id course_id source status enrolled_at completed_at withdrawn_at
    # enrol_plugin last_access_at
    ("2", "4", "2", "manual", "completed", iso(ago(50)), iso(ago(10)), "", "manual",
     iso(ago(10))),
    ("3", "5", "2", "self", "in_progress", iso(ago(40)), "", "", "self", iso(ago(1))),
    ("4", "6", "2", "manual", "withdrawn", iso(ago(45)), "", iso(ago(5)), "manual",
     iso(ago(20))),
    ("5", "8", "2", "rule", "enrolled", iso(ago(30)), "", "", "cohort", ""),
    ("6", "4", "3", "hr_sync", "withdrawn", iso(ago(80)), "", iso(ago(2)), "database", ""),
    ("7", "5", "3", "manual", "in_progress", iso(ago(20)), "", "", "manual", iso(ago(2))),
    ("11", "5", "3", "self", "withdrawn", iso(ago(25)), "", iso(ago(7)), "self", iso(ago(2))),
]  # fmt: skip
EXPECTED_SUBMISSIONS = [
    # submission_id user_id course_id assignment_id submitted_at graded_at score
    # assignment_name attempt
    ("1", "4", "2", "101", iso(ago(20)), iso(ago(18)), "85", "Risk assessment", "0"),
    ("2", "5", "2", "101", iso(ago(12)), "", "", "Risk assessment", "0"),
    ("5", "5", "3", "103", iso(ago(3)), "", "", "Budget spreadsheet", "0"),
    ("6", "4", "3", "103", iso(ago(6)), "", "", "Budget spreadsheet", "0"),
]  # fmt: skip
EXPECTED_ACTIVITY = [
    # event_id user_id course_id object_id verb timestamp event_name(short) component origin
    ("1", "4", "", "", "login", iso(ago(1) + 100), "user_loggedin", "core", "web"),
    ("2", "4", "2", "", "viewed", iso(ago(1) + 200), "course_viewed", "core", "web"),
    ("3", "4", "2", "102", "viewed", iso(ago(1) + 300), "course_module_viewed", "mod_page", "web"),
    ("4", "4", "2", "101", "submitted", iso(ago(20)), "assessable_submitted", "mod_assign",
     "web"),
    ("5", "4", "2", "102", "progressed", iso(ago(1) + 310), "course_module_completion_updated",
     "core", "web"),
    ("6", "5", "2", "101", "progressed", iso(ago(12) + 60), "course_module_completion_updated",
     "core", "cli"),
    ("7", "4", "2", "", "completed", iso(ago(10)), "course_completed", "core", "cli"),
    ("8", "5", "", "", "login_failed", iso(ago(2)), "user_login_failed", "core", "web"),
    ("10", "5", "2", "104", "launched", iso(ago(2) + 600), "attempt_started", "mod_quiz", "web"),
    ("17", "7", "", "", "login", iso(ago(420)), "user_loggedin", "core", "web"),
    ("18", "4", "", "", "viewed", iso(ago(1) + 60), "course_viewed", "core", "web"),
    ("19", "5", "3", "", "viewed", iso(ago(2) + 700), "course_viewed", "core", "web"),
    ("20", "5", "2", "101", "submitted", iso(ago(12)), "assessable_submitted", "mod_assign",
     "web"),
    ("21", "3", "2", "", "viewed", iso(ago(3) + 40), "course_viewed", "core", "web"),
    ("22", "4", "3", "", "viewed", iso(ago(200)), "course_viewed", "core", "web"),
]  # fmt: skip
