"""Rows read from a Moodle database → contract rows (pure pandas, no database).

Every function takes a frame of Moodle columns (as :mod:`app.sources.moodle_db_queries` names
them) and
returns contract columns as text, ready to append to a CSV file: ids as strings, times as ISO 8601
UTC (``2026-11-27T09:30:00Z``), empty = null. What a function leaves out it counts in the
``Counter`` it is given, so the import report can say how many rows went where and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np
import pandas as pd

CONTEXT_COURSE = 50  # mdl_context.contextlevel of a course
CONTEXT_MODULE = 70  # ... of an activity (a course module)
NEVER = 2147483647  # mdl_user_enrolments.timeend's schema default: "no end"

# mdl_enrol.enrol (the enrolment plugin) → enrollments.source. "rule" = Moodle enrols by a standing
# rule of its own (cohort sync: members of a cohort; meta link: enrolled in another course;
# category: a role on the category); "hr_sync" = another system of record pushes the enrolments
# (external database, LDAP, flat file, IMS Enterprise, LTI and MNet launches from another site);
# "self" = the learner enrolled themself, by paying too. Guest access enrols nobody: left out.
ENROL_SOURCES: dict[str, str] = {
    "manual": "manual",
    "self": "self",
    "fee": "self",
    "paypal": "self",
    "cohort": "rule",
    "meta": "rule",
    "category": "rule",
    "database": "hr_sync",
    "ldap": "hr_sync",
    "flatfile": "hr_sync",
    "imsenterprise": "hr_sync",
    "lti": "hr_sync",
    "mnet": "hr_sync",
}
EXCLUDED_ENROL_PLUGINS = ("guest",)
CONTRACT_SOURCES = ("rule", "manual", "hr_sync", "self")

# mdl_logstore_standard_log.eventname → activity.verb. Events not here (nor a module's view event,
# below) are left out: what teachers and admins do (grading, editing, reports about other users),
# messages, the dashboard and profile pages, and module-specific events without a contract verb.
EVENT_VERBS: dict[str, str] = {
    "\\core\\event\\user_loggedin": "login",
    "\\core\\event\\user_login_failed": "login_failed",
    "\\core\\event\\course_viewed": "viewed",
    "\\core\\event\\course_module_completion_updated": "progressed",
    "\\core\\event\\course_completed": "completed",
    "\\mod_assign\\event\\assessable_submitted": "submitted",
    "\\mod_assign\\event\\submission_status_viewed": "viewed",
    "\\mod_assign\\event\\submission_form_viewed": "viewed",
    "\\mod_assign\\event\\feedback_viewed": "viewed",
    "\\mod_quiz\\event\\attempt_started": "launched",
    "\\mod_quiz\\event\\attempt_viewed": "viewed",
    "\\mod_quiz\\event\\attempt_summary_viewed": "viewed",
    "\\mod_quiz\\event\\attempt_reviewed": "viewed",
    "\\mod_quiz\\event\\attempt_submitted": "submitted",
    "\\mod_forum\\event\\discussion_viewed": "viewed",
    "\\mod_lesson\\event\\lesson_started": "launched",
    "\\mod_lesson\\event\\lesson_ended": "completed",
    "\\mod_scorm\\event\\sco_launched": "launched",
}
# Every module names its page views alike (\mod_page\event\course_module_viewed, ...).
VIEW_EVENT_SUFFIXES = (
    "\\event\\course_module_viewed",
    "\\event\\course_module_instance_list_viewed",
)
# Events about a learner that cron or a teacher triggers: the learner is relateduserid.
LEARNER_IS_RELATED_USER = (
    "\\core\\event\\course_module_completion_updated",
    "\\core\\event\\course_completed",
)
SITE_LEVEL_VERBS = ("login", "login_failed")

# The columns each streamed table is written with (contract columns, then evidence).
ENROLMENT_COLUMNS = ["enrollment_id", "user_id", "course_id", "source", "status", "enrolled_at",
                     "completed_at", "withdrawn_at", "enrol_plugin", "last_access_at"]  # fmt: skip
SUBMISSION_COLUMNS = ["submission_id", "user_id", "course_id", "assignment_id", "submitted_at",
                      "graded_at", "score", "assignment_name", "attempt"]  # fmt: skip
ACTIVITY_COLUMNS = ["event_id", "user_id", "course_id", "object_id", "verb", "timestamp",
                    "event_name", "component", "origin"]  # fmt: skip


def iso_times(seconds: pd.Series) -> pd.Series:
    """Unix seconds → ``YYYY-MM-DDTHH:MM:SSZ`` text; 0, negative or missing → null."""
    values = pd.to_numeric(seconds, errors="coerce")
    valid = (values > 0).fillna(False).to_numpy(dtype=bool)
    out = pd.Series(pd.NA, index=seconds.index, dtype="object")
    if valid.any():
        stamps = values[valid].astype("int64").to_numpy().astype("datetime64[s]")
        out[valid] = np.char.add(np.datetime_as_string(stamps, unit="s"), "Z")
    return out


def id_text(values: pd.Series) -> pd.Series:
    """Moodle's integer ids as contract identifiers (strings); missing → null."""
    numbers = pd.to_numeric(values, errors="coerce").astype("Int64")
    return numbers.astype("string").astype("object").where(numbers.notna(), pd.NA)


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce")


def _text(values: pd.Series) -> pd.Series:
    text = values.astype("object").where(values.notna(), "").astype(str).str.strip()
    return text.where(text != "", pd.NA)


def users_to_lms_users(rows: pd.DataFrame) -> pd.DataFrame:
    """mdl_user rows (the guest account already left out) → lms_users."""
    deleted = _numbers(rows, "deleted").fillna(0).ne(0)
    blocked = _numbers(rows, "suspended").fillna(0).ne(0) | rows["auth"].eq("nologin")
    email = _text(rows["email"])
    # Moodle overwrites a deleted user's address with a hash: no '@', no address.
    email = email.where(email.str.contains("@", regex=False).fillna(False), pd.NA)
    full_name = _text(rows["firstname"].fillna("") + " " + rows["lastname"].fillna(""))
    last_login = np.fmax(_numbers(rows, "currentlogin"), _numbers(rows, "lastlogin"))
    return pd.DataFrame(
        {
            "user_id": id_text(rows["id"]),
            "person_id": _text(rows["idnumber"]),
            "email": email,
            "full_name": full_name,
            "status": np.select([deleted, blocked], ["deleted", "suspended"], "active"),
            "created_at": iso_times(rows["timecreated"]),
            "last_login_at": iso_times(pd.Series(last_login, index=rows.index)),
            "username": _text(rows["username"]),
            "auth": _text(rows["auth"]),
        }
    )


def courses_to_contract(
    rows: pd.DataFrame, owners: pd.DataFrame, users: pd.DataFrame
) -> pd.DataFrame:
    """mdl_course rows (the site course left out) and owner-role assignments → courses.

    ``owners`` has ``course_id, user_id, timemodified, id`` (ids as text); ``users`` is the
    lms_users frame. The owner is an active holder of the role if there is one, then the one
    assigned first; every holder is listed in ``teacher_user_ids``.
    """
    status = users.set_index("user_id")["status"]
    ranked = owners[owners["user_id"].isin(status.index)].assign(
        _inactive=lambda f: f["user_id"].map(status).ne("active"),
        _when=lambda f: pd.to_numeric(f["timemodified"], errors="coerce"),
        _ra=lambda f: pd.to_numeric(f["id"], errors="coerce"),
    )
    ranked = ranked.sort_values(["course_id", "_inactive", "_when", "_ra"], kind="stable")
    first = ranked.drop_duplicates("course_id").set_index("course_id")["user_id"]
    everyone = ranked.groupby("course_id", sort=False)["user_id"].agg(";".join)
    course_id = id_text(rows["id"])
    out = pd.DataFrame(
        {
            "course_id": course_id,
            "title": _text(rows["fullname"]).fillna(_text(rows["shortname"])),
            "owner_user_id": course_id.map(first),
            "starts_at": iso_times(rows["startdate"]),
        }
    )
    if "enddate" in rows.columns:
        out["ends_at"] = iso_times(rows["enddate"])
    out["is_compliance"] = "false"  # Moodle does not know which training is mandatory
    visible = _numbers(rows, "visible").fillna(1).ne(0)
    out["status"] = np.where(visible, "active", "archived")
    out["shortname"] = _text(rows["shortname"])
    out["idnumber"] = _text(rows["idnumber"])
    if "category_name" in rows.columns:
        out["category"] = _text(rows["category_name"])
    out["teacher_user_ids"] = course_id.map(everyone)
    return out


def enrolments_to_contract(
    rows: pd.DataFrame,
    *,
    users: pd.Index,
    courses: pd.Index,
    as_of_seconds: int,
    sources: Mapping[str, str],
    left_out: Counter[str],
) -> pd.DataFrame:
    """mdl_user_enrolments ⋈ mdl_enrol (+ completion, last access, roles) → enrollments."""
    user_id, course_id = id_text(rows["userid"]), id_text(rows["courseid"])
    plugin = rows["enrol"].astype(str)
    source = plugin.map(dict(sources))
    known = user_id.isin(users) & course_id.isin(courses)
    teacher_only = rows["teaching"].astype(bool) & ~rows["learning"].astype(bool)
    created = _numbers(rows, "timecreated")
    for fallback in ("timestart", "timemodified"):
        created = created.where(created > 0, _numbers(rows, fallback))
    dated = (created > 0).fillna(False)
    keep = known & ~teacher_only & source.notna() & dated
    left_out["enrolments of users or courses not exported"] += int((~known).sum())
    left_out["enrolments of teachers (a teaching role and no student role)"] += int(
        (known & teacher_only).sum()
    )
    for name, count in plugin[known & ~teacher_only & source.isna()].value_counts().items():
        left_out[f"enrolments by plugin {name!r} (no source known for it)"] += int(count)
    left_out["enrolments with no date at all"] += int(
        (known & ~teacher_only & source.notna() & ~dated).sum()
    )
    rows = rows[keep]
    completed_s = _numbers(rows, "timecompleted")
    completed = (completed_s > 0).fillna(False)
    timeend = _numbers(rows, "timeend").fillna(0)
    ended = (timeend > 0) & (timeend < NEVER) & (timeend <= as_of_seconds)
    suspended = _numbers(rows, "status").fillna(0).ne(0)
    disabled = _numbers(rows, "instance_status").fillna(0).ne(0)
    withdrawn = ~completed & (suspended | disabled | ended)
    started = (_numbers(rows, "timestarted") > 0).fillna(False) | rows["timeaccess"].notna()
    status = np.select(
        [completed, withdrawn, started], ["completed", "withdrawn", "in_progress"], "enrolled"
    )
    # When access ended, or else when the enrolment (or its method) was last changed.
    withdrawn_s = timeend.where(ended, _numbers(rows, "timemodified"))
    withdrawn_s = withdrawn_s.where(~disabled | ended, _numbers(rows, "instance_timemodified"))
    return pd.DataFrame(
        {
            "enrollment_id": id_text(rows["id"]),
            "user_id": user_id[keep],
            "course_id": course_id[keep],
            "source": source[keep],
            "status": status,
            "enrolled_at": iso_times(created[keep]),
            "completed_at": iso_times(completed_s.where(completed)),
            "withdrawn_at": iso_times(withdrawn_s.where(withdrawn)),
            "enrol_plugin": plugin[keep],
            "last_access_at": iso_times(rows["timeaccess"]),
        }
    )


def submissions_to_contract(
    rows: pd.DataFrame, *, users: pd.Index, courses: pd.Index, left_out: Counter[str]
) -> pd.DataFrame:
    """mdl_assign_submission (status 'submitted') ⋈ its grade → submissions.

    A grade counts only when it is a number (Moodle writes -1 for "no grade") given after the
    attempt was last changed: a submission edited after grading waits for a grade again, as in
    Moodle's own "Requires grading" filter.
    """
    user_id, course_id = id_text(rows["userid"]), id_text(rows["course"])
    team = _numbers(rows, "userid").fillna(0).eq(0)
    known = user_id.isin(users) & course_id.isin(courses)
    left_out["team submissions (made by a group, not a user)"] += int(team.sum())
    left_out["submissions of users or courses not exported"] += int((~team & ~known).sum())
    rows = rows[~team & known]
    grade = _numbers(rows, "grade")
    graded = ((grade >= 0) & (_numbers(rows, "graded_at") > _numbers(rows, "timemodified"))).fillna(
        False
    )
    return pd.DataFrame(
        {
            "submission_id": id_text(rows["id"]),
            "user_id": user_id[rows.index],
            "course_id": course_id[rows.index],
            "assignment_id": id_text(rows["cmid"]),
            "submitted_at": iso_times(rows["timemodified"]),
            "graded_at": iso_times(rows["graded_at"].where(graded)),
            "score": grade.where(graded),
            "assignment_name": _text(rows["name"]),
            "attempt": id_text(rows["attemptnumber"]),
        }
    )


def event_verbs(names: pd.Series) -> pd.Series:
    """The contract verb of each Moodle event name; null where an event is left out."""
    verbs = names.map(EVENT_VERBS)
    views = pd.Series(False, index=names.index)
    for suffix in VIEW_EVENT_SUFFIXES:
        views |= names.str.endswith(suffix)
    return verbs.where(verbs.notna() | ~views, "viewed")


def log_to_activity(
    rows: pd.DataFrame,
    *,
    users: pd.Index,
    courses: pd.Index,
    site_courses: pd.Index,
    left_out: Counter[str],
    unmapped: Counter[str],
) -> pd.DataFrame:
    """mdl_logstore_standard_log rows → activity; object_id is the course module, if any.

    Events of the site's front page (the site course) and without a course are site-level
    (``course_id`` empty), as are logins wherever they were logged.
    """
    names = rows["eventname"].astype(str)
    verb = event_verbs(names)
    learner = _numbers(rows, "userid").where(
        ~names.isin(LEARNER_IS_RELATED_USER), _numbers(rows, "relateduserid")
    )
    user_id = id_text(learner.where(learner > 0))  # 0: nobody was logged in
    course_num = _numbers(rows, "courseid").fillna(0)
    course_id = id_text(course_num.where(course_num > 0))
    site = course_id.isna() | course_id.isin(site_courses)
    mapped = verb.notna()
    for name, count in names[~mapped].value_counts().items():
        unmapped[str(name)] += int(count)
    left_out["log events without a contract verb"] += int((~mapped).sum())
    nowhere = pd.Series(False, index=rows.index)
    anonymous = _numbers(rows, "anonymous").fillna(0).ne(0) if "anonymous" in rows else nowhere
    logged_in_as = rows["realuserid"].notna() if "realuserid" in rows else nowhere
    steps = (
        ("log events by nobody (not logged in, or cron)", user_id.isna()),
        ("log events while an admin was logged in as the user", logged_in_as),
        ("log events recorded as anonymous", anonymous),
        ("log events by the guest account or users not exported", ~user_id.isin(users)),
        ("log events in courses that no longer exist", ~site & ~course_id.isin(courses)),
    )
    keep = mapped.copy()
    for reason, mask in steps:
        hit = keep & mask
        left_out[reason] += int(hit.sum())
        keep &= ~hit
    rows, verb = rows[keep], verb[keep]
    level = _numbers(rows, "contextlevel")
    on_site = site[keep] | verb.isin(SITE_LEVEL_VERBS)
    return pd.DataFrame(
        {
            "event_id": id_text(rows["id"]),
            "user_id": user_id[keep],
            "course_id": course_id[keep].where(~on_site, pd.NA),
            "object_id": id_text(rows["contextinstanceid"].where(level == CONTEXT_MODULE)),
            "verb": verb,
            "timestamp": iso_times(rows["timecreated"]),
            "event_name": names[keep],
            "component": _text(rows["component"]),
            "origin": _text(rows["origin"]),
        }
    )
