"""Moodle's "Logs" download → ``activity``, plus the ``lms_users`` and ``courses`` it reveals.

The download has the columns ``Time, User full name, Affected user, Event context, Component,
Event name, Description, Origin, IP address``. Three things it does not say, and what we do:

* **The year.** Times look like ``11 May, 09:44``. The year comes from the ``year`` option
  (default: the current year) and the report says which year was used. Times that carry a year
  (other Moodle versions and languages) keep their own. Times are taken as UTC unless ``tz`` names
  the site's time zone: Moodle prints them in the downloading user's zone.
* **User ids.** The log names users by full name only, so ``user_id`` is the full name; pass
  ``user_ids`` (full name → LMS user id) to use the LMS's real ids. A download whose user columns
  were left out still names the user's Moodle id in ``Description``; that id is then used.
* **Which course.** A course's log download is about one course: events inside it carry the
  course whose ``Event context`` reads ``Course: <name>``; pass ``course_id`` to set it.

Event names map onto contract verbs through :data:`MOODLE_EVENT_VERBS` (extend it with
``event_verbs``); unmapped names stay out of ``activity`` and are counted in the report.
``event_id`` is a hash of the row's content plus its ordinal among identical rows, so importing the
same download twice gives the same ids (:func:`app.sources.moodle_columns.row_event_ids`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from app.core.errors import UserError
from app.sources.files import read_table_file_or_raise
from app.sources.moodle_columns import (
    distinct,
    row_event_ids,
    row_hashes,
    spread,
    spread_categorical,
)
from app.sources.result import ImportReport, ImportResult

MOODLE_COLUMNS = (
    "Time",
    "User full name",
    "Affected user",
    "Event context",
    "Component",
    "Event name",
    "Description",
    "Origin",
    "IP address",
)
REQUIRED_COLUMNS = ("Time", "User full name", "Event context", "Event name")

# Moodle event names (compared in lower case, without a trailing full stop) → contract verbs.
# Viewing a page of the course is "viewed"; handing work in is "submitted" (Moodle records the
# submission statement being accepted as the student submits); reports about other users and
# searches are not learner activity and stay unmapped.
MOODLE_EVENT_VERBS: dict[str, str] = {
    "course viewed": "viewed",
    "course module viewed": "viewed",
    "course module instance list viewed": "viewed",
    "discussion viewed": "viewed",
    "wiki page viewed": "viewed",
    "quiz attempt viewed": "viewed",
    "quiz attempt summary viewed": "viewed",
    "quiz attempt reviewed": "viewed",
    "submission form viewed": "viewed",
    "the status of the submission has been viewed": "viewed",
    "feedback viewed": "viewed",
    "quiz attempt started": "launched",
    "quiz attempt submitted": "submitted",
    "submission created": "submitted",
    "submission updated": "submitted",
    "a submission has been submitted": "submitted",
    "the user has accepted the statement of the submission": "submitted",
    "assessable submission uploaded": "submitted",
    "course module completion updated": "progressed",
    "course activity completion updated": "progressed",
    "course completed": "completed",
    "user has logged in": "login",
    "user logged in": "login",
    "user login failed": "login_failed",
}
SITE_LEVEL_VERBS = ("login", "login_failed")

# strptime formats of the Time column; the first two lack a year (it is appended as " %Y").
_NO_YEAR_FORMATS = ("%d %b, %H:%M", "%d %B, %H:%M")
_YEAR_FORMATS = (
    "%A, %d %B %Y, %I:%M %p",
    "%d %B %Y, %I:%M %p",
    "%d %b %Y, %H:%M",
    "%d %B %Y, %H:%M",
    "%Y %B %d %H:%M",  # Moodle 2.x logs: 2017 July 10 12:35
)
# Numeric dates (Excel downloads, other languages): day first unless told otherwise.
_NUMERIC_FORMATS = ("%d/%m/%y, %H:%M", "%d/%m/%Y, %H:%M", "%d/%m/%Y %H:%M", "%d/%m/%y %H:%M")


def _normalise_event(name: pd.Series) -> pd.Series:
    return name.str.strip().str.rstrip(".").str.strip().str.lower()


def parse_moodle_times(
    times: pd.Series, *, year: int, tz: str = "UTC", day_first: bool = True
) -> pd.Series:
    """Moodle log times as UTC timestamps; times without a year get ``year``; NaT if unparsable.

    Numeric dates (``2/03/21, 14:12``) are read day first unless ``day_first`` is False.
    """
    text = times.astype("str").str.strip()
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    for fmt in _NO_YEAR_FORMATS:
        todo = parsed.isna()
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(text[todo] + f" {year}", format=fmt + " %Y", errors="coerce")
    numeric = _NUMERIC_FORMATS if day_first else tuple(
        f.replace("%d/%m", "%m/%d") for f in _NUMERIC_FORMATS
    )  # fmt: skip
    for fmt in (*_YEAR_FORMATS, *numeric):
        todo = parsed.isna()
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    localised = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    return localised.dt.tz_convert("UTC").astype("datetime64[us, UTC]")


def import_moodle_log(
    path: Path | str,
    *,
    year: int | None = None,
    tz: str = "UTC",
    course_id: str | None = None,
    user_ids: Mapping[str, str] | None = None,
    event_verbs: Mapping[str, str] | None = None,
    day_first: bool = True,
) -> ImportResult:
    """Read a Moodle Logs download into ``activity``, ``lms_users`` and ``courses`` frames.

    The frames use contract column names and types and leave out the columns a log cannot know
    (e-mail, HR link, course owners: absent, not empty); the three tables are a valid snapshot
    alone, and merging the LMS's user export adds what the log lacks.
    """
    path = Path(path)
    frame = read_table_file_or_raise(path, table="activity")
    return moodle_log_tables(
        frame, source=path.name, year=year, tz=tz, course_id=course_id, user_ids=user_ids,
        event_verbs=event_verbs, day_first=day_first,
    )  # fmt: skip


_DESCRIPTION_USER = r"^The user with id '([^']+)'"


def _users_from_descriptions(frame: pd.DataFrame) -> pd.DataFrame:
    """A download without the user's name (columns left out) names the user in Description."""
    if "User full name" in frame.columns or "Description" not in frame.columns:
        return frame
    codes, described = distinct(frame["Description"])
    ids = spread(described.astype("str").str.extract(_DESCRIPTION_USER)[0], codes, frame.index)
    if ids.notna().mean() < 0.5:
        return frame
    return frame.assign(**{"User full name": ids.fillna("-")})


def _first_row(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def moodle_log_tables(
    frame: pd.DataFrame,
    *,
    source: str,
    year: int | None = None,
    tz: str = "UTC",
    course_id: str | None = None,
    user_ids: Mapping[str, str] | None = None,
    event_verbs: Mapping[str, str] | None = None,
    day_first: bool = True,
    course_names: Sequence[str] | None = None,
    hashes: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> ImportResult:
    """:func:`import_moodle_log` on a log already read (every cell text, Moodle's English names;
    columns may be categoricals, as :func:`app.sources.moodle_columns.read_log_csv` reads them).

    Without a ``User full name`` column, the user id Moodle writes in ``Description`` ("The user
    with id '8429' …") is the user's id. Each column is worked on per distinct value (a log
    repeats its users, contexts, event names and minutes) and the answers spread to the rows.

    For one chunk of a log read in chunks (:mod:`app.sources.moodle_stream`): ``course_names``
    are the course names of the whole log (the choice of course is the log's, not the chunk's),
    and with ``hashes`` the rows' hashes are appended there and ``event_id`` is left empty, to be
    numbered over the whole log.
    """
    by_id = "User full name" not in frame.columns
    frame = _users_from_descriptions(frame)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(
            f"{source} is not a Moodle Logs download: columns {', '.join(missing)} are absent "
            f"(found: {', '.join(frame.columns)})"
        )
    used_year = year if year is not None else datetime.now(UTC).year
    report = ImportReport(source=source)
    report.counts["log rows"] = len(frame)
    time_codes, time_texts = distinct(frame["Time"], ordered=False)
    yearless = time_texts.astype("str").str.match(r"^\s*\d{1,2} [^\W\d_]+\.?, \d")
    if yearless.any():
        report.notes.append(
            f"Moodle log times have no year; all times without one were taken to be in "
            f"{used_year}"
            + (" (the current year; pass year= to change it)" if year is None else "")
            + f", in time zone {tz}."
        )
    else:
        report.notes.append(f"Moodle log times were taken to be in time zone {tz}.")

    verbs_map = {
        **MOODLE_EVENT_VERBS,
        **{k.lower().rstrip("."): v for k, v in (event_verbs or {}).items()},
    }
    event_codes, event_names = distinct(frame["Event name"])
    event_verbs_of = _normalise_event(event_names.fillna("")).map(verbs_map)
    mapped = event_verbs_of.notna().to_numpy()[event_codes]
    per_event = np.bincount(event_codes, minlength=len(event_names))
    unmapped = (
        pd.Series(per_event, index=event_names.fillna("(empty)").to_numpy())[
            event_verbs_of.isna().to_numpy()
        ]
        .groupby(level=0, sort=False)
        .sum()
        .sort_values(ascending=False, kind="stable")
    )
    report.counts["events mapped"] = int(mapped.sum())
    report.counts["events unmapped"] = int(unmapped.sum())
    for name, count in unmapped.items():
        report.counts[f"unmapped: {name}"] = int(count)

    time_of = parse_moodle_times(time_texts.fillna(""), year=used_year, tz=tz, day_first=day_first)
    has_time = time_of.notna().to_numpy()[time_codes]
    bad_time = ~has_time & mapped
    if bad_time.any():
        first = time_texts.iloc[time_codes[_first_row(bad_time)]]
        report.warnings.append(
            f"{int(bad_time.sum())} mapped event(s) have a time that could not be read "
            f"(first: {first!r}, row {_first_row(bad_time) + 2}); they were left out"
        )
    user_codes, named = distinct(frame["User full name"])
    name_of = named.astype("str").str.strip()
    no_user_of = (name_of.isna() | (name_of == "") | (name_of == "-")).to_numpy()
    no_user = no_user_of[user_codes]
    if (no_user & mapped).any():
        report.warnings.append(
            f"{int((no_user & mapped).sum())} mapped event(s) name no user; left out"
        )
    user_of = name_of.map(dict(user_ids)) if user_ids else name_of
    if user_ids:
        unknown = (user_of.isna().to_numpy() & ~no_user_of)[user_codes]
        if unknown.any():
            report.warnings.append(
                f"{int(unknown.sum())} event(s) by users missing from user_ids "
                f"(e.g. {name_of.iloc[user_codes[_first_row(unknown)]]!r}); left out"
            )
    elif by_id:
        report.notes.append("The download kept no user names; user_id is Moodle's user id.")
    else:
        report.notes.append("The log names users by full name only; user_id is that name.")

    context_codes, contexts = distinct(frame["Event context"])
    context_of = contexts.fillna("").astype("str")
    course_in = context_of.str.extract(r"^Course:\s*(.+)$")[0].str.strip()
    given = course_names
    found_courses = np.asarray(
        course_in.dropna().unique() if given is None else list(given), dtype=object
    )
    if course_id is None and len(found_courses) == 1:
        course_id = str(found_courses[0])
    if course_id is None and len(found_courses) > 1:
        report.warnings.append(
            f"the log spans {len(found_courses)} courses; only events whose context is a course "
            "carry a course_id (pass course_id= for a one-course download)"
        )
        course_of = course_in
    else:
        course_of = pd.Series(course_id, index=contexts.index, dtype="str")
    # Site-level events (logins) belong to no course: their context code points at a null.
    course_of = pd.concat([course_of, pd.Series([pd.NA], dtype="str")], ignore_index=True)
    site_level = event_verbs_of.isin(SITE_LEVEL_VERBS).to_numpy()[event_codes]

    has_user = user_of.notna().to_numpy()[user_codes]
    keep = mapped & has_time & ~no_user & has_user
    rows = np.flatnonzero(keep)
    course_of_event = spread(
        course_of, np.where(site_level[rows], len(course_of) - 1, context_codes[rows])
    )

    known = {
        "Time": (time_codes, time_texts), "Event name": (event_codes, event_names),
        "User full name": (user_codes, named), "Event context": (context_codes, contexts),
    }  # fmt: skip

    def column(name: str) -> pd.Series:
        if name not in frame.columns:
            return pd.Series(pd.NA, index=range(len(rows)))
        known[name] = distinct(frame[name], ordered=False)
        return spread_categorical(known[name][1], known[name][0][rows])

    component, origin = column("Component"), column("Origin")
    if hashes is None:
        ids = row_event_ids(frame, keep, "moodle", known)
    else:
        hashes.append(row_hashes(frame, keep, known))
        ids = pd.Series(pd.NA, index=range(len(rows)), dtype="str")
    activity = pd.DataFrame(
        {
            "event_id": ids,
            "user_id": spread(user_of, user_codes[rows]).astype("str"),
            "course_id": course_of_event.astype("str"),
            "verb": spread(event_verbs_of, event_codes[rows]).astype("str"),
            "timestamp": spread(time_of, time_codes[rows]),
            "value": np.full(len(rows), np.nan),
            # Evidence for reviewers: what Moodle itself called the event, and where (few
            # distinct texts over many rows: categoricals).
            "event_name": spread_categorical(event_names.astype("str"), event_codes[rows]),
            "event_context": spread_categorical(context_of, context_codes[rows]),
            "component": component,
            "origin": origin,
        }
    )
    report.counts["activity rows"] = len(activity)

    # The log knows each user's name and logins, nothing else: the columns it cannot know
    # (person_id, email, created_at) are left out, so they read as unknown, not as empty.
    # A download without user names (by_id) knows no name either. Distinct names are in the
    # order they first appear, so the first name of a user is the first in the log.
    known = ~no_user_of & user_of.notna().to_numpy()
    seen = pd.DataFrame({"user_id": user_of, "full_name": name_of})[known]
    lms_users = seen.groupby("user_id", sort=True)["full_name"].first().to_frame()
    lms_users.insert(1, "status", "active")
    login_rows = (event_verbs_of == "login").to_numpy()[event_codes] & known[user_codes]
    at = time_of.array.take(time_codes[login_rows])
    logins = pd.DataFrame({"code": user_codes[login_rows], "timestamp": at})
    logins = logins.groupby("code")["timestamp"].max()
    last = pd.Series(logins.array, index=user_of.iloc[logins.index].to_numpy())
    lms_users["last_login_at"] = last.groupby(level=0).max().astype("datetime64[us, UTC]")
    lms_users = lms_users.reset_index()
    lms_users["user_id"] = lms_users["user_id"].astype("str")
    lms_users["full_name"] = lms_users["full_name"].astype("str")
    if by_id:
        lms_users = lms_users.drop(columns="full_name")
    report.counts["lms_users revealed"] = len(lms_users)
    report.notes.append(
        "lms_users revealed by the log carry "
        + ("" if by_id else "their full name, ")
        + "status active and last login; e-mail, HR link and creation date are not in the log "
        "and are left out (merge the LMS's user export to add them)."
    )

    courses = pd.DataFrame(
        {
            "course_id": pd.Series([course_id] if course_id else [], dtype="str"),
            "title": pd.Series([course_id] if course_id else [], dtype="str"),
        }
    )
    if course_id is None and len(found_courses) > 1:
        courses = pd.DataFrame(
            {"course_id": pd.Series(found_courses, dtype="str"), "title": found_courses}
        )
    # Department, owner, due days and grading promise are not in a log: left out, not empty.
    courses["is_compliance"] = False
    courses["status"] = "active"
    report.counts["courses revealed"] = len(courses)
    if len(courses):
        report.notes.append(
            "courses revealed by the log are assumed active and not compliance training; their "
            "department, owner and deadlines are not in the log and are left out."
        )
    return ImportResult(
        tables={"activity": activity, "lms_users": lms_users, "courses": courses}, report=report
    )


# --------------------------------------------------------------------------- user lists

_MOODLE_FLAGS = ("1", "true", "yes")


def moodle_users_tables(frame: pd.DataFrame, *, source: str) -> ImportResult:
    """A Moodle user list (bulk download or upload CSV, every cell text) → ``lms_users``.

    ``user_id`` is the ``username``; ``email`` and ``full_name`` (first and last name) come
    along; ``idnumber``, where Moodle keeps the institution's own id, becomes ``person_id``;
    ``suspended``/``deleted`` set the status (else active); ``lastaccess`` (Unix time) becomes
    ``last_login_at``. Columns the list lacks stay absent.
    """
    cols = {c.strip().lower(): c for c in frame.columns}

    def column(name: str) -> pd.Series:
        if name not in cols:
            return pd.Series(pd.NA, index=frame.index, dtype="str")
        return frame[cols[name]].astype("str").str.strip().replace("", pd.NA)

    report = ImportReport(source=source)
    report.counts["rows read"] = len(frame)
    users = pd.DataFrame({"user_id": column("username")})
    if "idnumber" in cols:
        users["person_id"] = column("idnumber")
    if "email" in cols:
        users["email"] = column("email").str.lower()
    if {"firstname", "lastname"} & set(cols):
        first, last = column("firstname").fillna(""), column("lastname").fillna("")
        users["full_name"] = (first + " " + last).str.strip().replace("", pd.NA)
    status = pd.Series("active", index=frame.index, dtype="str")
    status = status.mask(column("suspended").str.lower().isin(_MOODLE_FLAGS), "suspended")
    users["status"] = status.mask(column("deleted").str.lower().isin(_MOODLE_FLAGS), "deleted")
    if "lastaccess" in cols:
        seconds = pd.to_numeric(column("lastaccess"), errors="coerce")
        users["last_login_at"] = pd.to_datetime(
            seconds.where(seconds > 0), unit="s", utc=True
        ).astype("datetime64[us, UTC]")
    keep = users["user_id"].notna()
    if (~keep).any():
        report.counts["dropped: rows without a username"] = int((~keep).sum())
    users = users[keep].reset_index(drop=True)
    report.counts["lms_users"] = len(users)
    return ImportResult(tables={"lms_users": users}, report=report)
