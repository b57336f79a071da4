"""Canvas SIS files → contract ``enrollments``, ``lms_users`` and ``courses``.

``users.csv`` and ``courses.csv`` become ``lms_users`` (with e-mails and names) and ``courses``
(titles, term dates, status; owners come from the teachers in ``enrollments.csv``).

``enrollments.csv`` is read in both shapes Canvas produces: the SIS import format (``course_id,
root_account, start_date, end_date, user_id, user_integration_id, role, role_id, section_id,
status, associated_user_id, limit_section_privileges, notify``) and the provisioning report (adds
``canvas_course_id``, ``canvas_user_id``, ``created_by_sis``). SIS ids are used when present,
Canvas ids otherwise.

Only learner roles become enrolments (``student`` by default); other roles are counted. Canvas
statuses map to contract ones: ``active``/``invited``/``creation_pending`` → ``enrolled``,
``completed``/``deleted_last_completed`` → ``completed``, ``inactive``/``deleted``/``rejected``
→ ``withdrawn``. The SIS format has no enrolment date: ``start_date`` is used when given, else
the ``enrolled_at`` argument; without either the column stays empty and validation says so.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from app.core.errors import UserError
from app.sources.files import read_table_file_or_raise
from app.sources.result import ImportReport, ImportResult

CANVAS_STATUS: dict[str, str] = {
    "active": "enrolled",
    "invited": "enrolled",
    "creation_pending": "enrolled",
    "completed": "completed",
    "deleted_last_completed": "completed",
    "inactive": "withdrawn",
    "deleted": "withdrawn",
    "rejected": "withdrawn",
}
LEARNER_ROLES = ("student", "studentenrollment")
TRUE_WORDS = ("true", "1", "yes")


def _pick(frame: pd.DataFrame, *names: str) -> pd.Series:
    """The first of ``names`` that is present, falling back cell by cell to the next ones."""
    out = pd.Series(pd.NA, index=frame.index, dtype="str")
    for name in names:
        if name in frame.columns:
            out = out.fillna(frame[name].astype("str").str.strip().replace("", pd.NA))
    return out


def import_canvas_enrollments(
    path: Path | str,
    *,
    enrolled_at: datetime | str | None = None,
    source: str = "hr_sync",
    roles: tuple[str, ...] = LEARNER_ROLES,
) -> ImportResult:
    """Read a Canvas SIS/provisioning ``enrollments.csv`` into a contract ``enrollments`` frame.

    ``source`` is the contract's how-it-was-created value for SIS rows (default ``hr_sync``:
    SIS feeds are automated); provisioning rows with ``created_by_sis = false`` become ``manual``.
    """
    path = Path(path)
    frame = read_table_file_or_raise(path, table="enrollments")
    has_course = {"course_id", "canvas_course_id", "section_id"} & set(frame.columns)
    has_user = {"user_id", "canvas_user_id"} & set(frame.columns)
    missing = [
        what
        for what, ok in (("course_id (or section_id)", has_course), ("user_id", has_user))
        if not ok
    ] + [c for c in ("role", "status") if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path.name} is not a Canvas enrollments.csv: {', '.join(missing)} absent "
            f"(found: {', '.join(frame.columns)})"
        )
    report = ImportReport(source=path.name)
    report.counts["rows read"] = len(frame)

    role = frame["role"].astype("str").str.strip().str.lower()
    learner = role.isin([r.lower() for r in roles])
    for name, count in role[~learner].fillna("(empty)").value_counts().items():
        report.counts[f"skipped role: {name}"] = int(count)
    rows = frame[learner]

    course = _pick(rows, "course_id", "canvas_course_id")
    by_section = course.isna() & _pick(rows, "section_id").notna()
    if by_section.any():
        report.warnings.append(
            f"{int(by_section.sum())} row(s) name only a section; its section_id is used as "
            "course_id (map sections to courses before loading if they differ)"
        )
        course = course.fillna(_pick(rows, "section_id"))
    user = _pick(rows, "user_id", "canvas_user_id")

    raw_status = rows["status"].astype("str").str.strip().str.lower()
    status = raw_status.map(CANVAS_STATUS)
    unknown = status.isna() & raw_status.notna()
    if unknown.any():
        report.warnings.append(
            f"{int(unknown.sum())} row(s) have a Canvas status Gapdesk does not know "
            f"(e.g. {raw_status[unknown].iloc[0]!r}); kept as is, so validation will flag them"
        )
        status = status.fillna(raw_status)

    how = pd.Series(source, index=rows.index, dtype="str")
    if "created_by_sis" in rows.columns:
        by_sis = rows["created_by_sis"].astype("str").str.strip().str.lower().isin(TRUE_WORDS)
        how = how.where(by_sis, "manual")

    started = pd.to_datetime(
        _pick(rows, "start_date", "created_at"), format="ISO8601", utc=True, errors="coerce"
    )
    if enrolled_at is not None:
        default = pd.Timestamp(enrolled_at)
        default = default.tz_localize("UTC") if default.tzinfo is None else default
        started = started.fillna(default.tz_convert("UTC"))
    if started.isna().any():
        report.warnings.append(
            f"{int(started.isna().sum())} enrolment(s) carry no date (SIS files have none); "
            "pass enrolled_at= or validation will reject them"
        )
    ended = pd.to_datetime(_pick(rows, "end_date"), format="ISO8601", utc=True, errors="coerce")

    section = _pick(rows, "section_id").fillna("")
    enrollment_id = "canvas:" + course.fillna("") + ":" + user.fillna("") + ":" + role[learner]
    enrollment_id = enrollment_id.where(section == "", enrollment_id + ":" + section)
    out = pd.DataFrame(
        {
            "enrollment_id": enrollment_id.astype("str"),
            "user_id": user,
            "course_id": course,
            "source": how,
            "status": status.astype("str"),
            "enrolled_at": started.astype("datetime64[us, UTC]"),
            "due_at": pd.Series(pd.NaT, index=rows.index, dtype="datetime64[us, UTC]"),
            "completed_at": ended.where(status == "completed").astype("datetime64[us, UTC]"),
            "withdrawn_at": ended.where(status == "withdrawn").astype("datetime64[us, UTC]"),
            "progress_pct": pd.Series(float("nan"), index=rows.index),
            "canvas_status": raw_status,
            "canvas_role": role[learner],
        }
    ).reset_index(drop=True)
    undated = (out["status"] == "withdrawn") & out["withdrawn_at"].isna()
    if undated.any():
        report.warnings.append(
            f"{int(undated.sum())} withdrawn enrolment(s) have no end_date, so no withdrawn_at; "
            "detectors will see them as withdrawn without a date"
        )
    report.counts["enrollments"] = len(out)
    for name, count in out["status"].value_counts().items():
        report.counts[f"status {name}"] = int(count)
    return ImportResult(tables={"enrollments": out}, report=report)


# --------------------------------------------------------------------------- users and courses

CANVAS_USER_STATUS = {"active": "active", "suspended": "suspended", "deleted": "deleted"}
CANVAS_COURSE_STATUS = {
    "active": "active", "published": "active", "unpublished": "active", "claimed": "active",
    "available": "active", "completed": "archived", "concluded": "archived",
}  # fmt: skip


def canvas_users_tables(frame: pd.DataFrame, *, source: str) -> ImportResult:
    """A Canvas SIS ``users.csv`` (every cell text) → ``lms_users`` with e-mails and names.

    ``user_id`` is the SIS id; the name is ``full_name``, else ``short_name``, else first and
    last name. Rows without a ``user_id`` are dropped; an unknown status is kept for
    validation to name.
    """
    report = ImportReport(source=source)
    report.counts["rows read"] = len(frame)
    user = _pick(frame, "user_id")
    first, last = _pick(frame, "first_name").fillna(""), _pick(frame, "last_name").fillna("")
    joined = (first + " " + last).str.strip().replace("", pd.NA)
    name = _pick(frame, "full_name", "short_name").fillna(joined)
    raw_status = _pick(frame, "status").str.lower()
    out = pd.DataFrame(
        {
            "user_id": user,
            "email": _pick(frame, "email").str.lower(),
            "full_name": name,
            "status": raw_status.map(CANVAS_USER_STATUS).fillna(raw_status),
            "login_id": _pick(frame, "login_id"),
        }
    )
    if "email" not in frame.columns:
        out = out.drop(columns=["email"])
    keep = user.notna()
    if (~keep).any():
        report.counts["dropped: rows without a user_id"] = int((~keep).sum())
    out = out[keep].reset_index(drop=True)
    report.counts["lms_users"] = len(out)
    return ImportResult(tables={"lms_users": out}, report=report)


def canvas_courses_tables(frame: pd.DataFrame, *, source: str) -> ImportResult:
    """A Canvas SIS ``courses.csv`` (every cell text) → ``courses`` with titles, dates, status.

    Deleted courses are left out; ``completed`` ones are archived. ``start_date``/``end_date``
    become ``starts_at``/``ends_at`` when the file has them.
    """
    report = ImportReport(source=source)
    report.counts["rows read"] = len(frame)
    raw_status = _pick(frame, "status").str.lower()
    deleted = raw_status.eq("deleted").fillna(False)
    if deleted.any():
        report.counts["left out: deleted courses"] = int(deleted.sum())
    course = _pick(frame, "course_id")
    no_id = course.isna() & ~deleted
    if no_id.any():
        report.counts["dropped: rows without a course_id"] = int(no_id.sum())
    keep = ~deleted & ~no_id
    out = pd.DataFrame(
        {
            "course_id": course,
            "title": _pick(frame, "long_name", "short_name").fillna(course),
            "is_compliance": False,
            "status": raw_status.map(CANVAS_COURSE_STATUS).fillna(raw_status),
            "short_name": _pick(frame, "short_name"),
            "term_id": _pick(frame, "term_id"),
            "account_id": _pick(frame, "account_id"),
        }
    )
    for name, column in (("starts_at", "start_date"), ("ends_at", "end_date")):
        if column in frame.columns:
            out[name] = pd.to_datetime(
                _pick(frame, column), format="ISO8601", utc=True, errors="coerce"
            ).astype("datetime64[us, UTC]")
    out = out[keep].reset_index(drop=True)
    report.counts["courses"] = len(out)
    return ImportResult(tables={"courses": out}, report=report)


def canvas_course_owners(frame: pd.DataFrame) -> pd.DataFrame:
    """``course_id`` → ``owner_user_id``: the first active teacher of each course in an
    enrollments.csv (every cell text)."""
    role = _pick(frame, "role").str.lower()
    status = _pick(frame, "status").str.lower()
    teachers = frame[role.isin(["teacher", "teacherenrollment"]) & status.ne("deleted")]
    owners = pd.DataFrame(
        {
            "course_id": _pick(teachers, "course_id", "canvas_course_id"),
            "owner_user_id": _pick(teachers, "user_id", "canvas_user_id"),
        }
    ).dropna()
    return owners.drop_duplicates("course_id").reset_index(drop=True)


def canvas_term_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """``term_id`` → ``starts_at``/``ends_at`` from a Canvas SIS terms.csv (every cell text)."""
    out = pd.DataFrame({"term_id": _pick(frame, "term_id")})
    for name, column in (("starts_at", "start_date"), ("ends_at", "end_date")):
        out[name] = pd.to_datetime(
            _pick(frame, column), format="ISO8601", utc=True, errors="coerce"
        ).astype("datetime64[us, UTC]")
    return out.dropna(subset=["term_id"]).reset_index(drop=True)
