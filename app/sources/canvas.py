"""Canvas SIS ``enrollments.csv`` → contract ``enrollments``.

Reads both shapes Canvas produces: the SIS import format (``course_id, root_account, start_date,
end_date, user_id, user_integration_id, role, role_id, section_id, status, associated_user_id,
limit_section_privileges, notify``) and the provisioning report (adds ``canvas_course_id``,
``canvas_user_id``, ``created_by_sis``). SIS ids are used when present, Canvas ids otherwise.

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
