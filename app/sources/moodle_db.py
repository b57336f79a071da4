"""A Moodle site's own database → one snapshot folder (contract version 2), for a nightly cron.

An admin gives Gapdesk a read-only connection URL (PostgreSQL or MySQL/MariaDB) and the table
prefix (default ``mdl_``); :func:`import_moodle_db` reads users, courses, the teachers who own
them, enrolments with their method, course completion, assignment submissions with their grades,
and the standard log store, and writes ``lms_users``, ``courses``, ``enrollments``,
``submissions`` and ``activity`` as CSV (or gzipped CSV) beside a ``snapshot.toml``. The README's
"Moodle database" section lists which Moodle column becomes which contract column; the row
conversions themselves are in :mod:`app.sources.moodle_db_rows`.

How it reads:

* **Read-only, one instant.** Every session is set ``READ ONLY`` (a write would fail even with a
  user that may write) and everything is read in one ``REPEATABLE READ`` transaction, so
  enrolments, grades and the log agree with each other.
* **In chunks.** Enrolments, submissions and the log are read by primary-key ranges
  (``WHERE id > :last ORDER BY id LIMIT n``, which both databases answer from the primary key)
  and appended to their files chunk by chunk: a log store of 100 million rows is never held in
  memory. Only users, courses and the owners' role assignments are held whole.
* **Whole or not at all.** Tables are written to hidden ``.partial`` files and renamed into place
  only when everything was read; a failure leaves the folder as it was. Moodle's tables from an
  earlier run are replaced; other files in the folder (an HR roster beside it) are left alone.

The password in the URL is never printed: messages show the URL with ``***`` in its place.
"""

from __future__ import annotations

import gzip
import os
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from app.core.errors import UserError
from app.core.urls import ambiguous_password, mask_url_password, scrub
from app.sources import moodle_db_rows as rows
from app.sources.files import TABLE_SUFFIXES
from app.sources.load import write_snapshot
from app.sources.moodle_db_queries import (
    MoodleSchema,
    enrolment_query,
    read_chunks,
    read_log,
    read_users_and_courses,
    submission_query,
)
from app.sources.result import ImportReport

ProgressFn = Callable[[int, int, str], None]

# Produced by this importer: a file of one of these left from an earlier run is replaced.
OUTPUT_TABLES = ("lms_users", "courses", "enrollments", "submissions", "activity")
DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
           "mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}  # fmt: skip
READ_ONLY_SQL = {
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
}
CHUNK_ROWS = 50_000
_NO_HEADER = pa_csv.WriteOptions(include_header=False)


def moodle_url(url: str, password: str | None = None) -> URL:
    """The SQLAlchemy URL for a Moodle database URL (``postgresql://``, ``mysql://`` ...)."""
    if ambiguous_password(url):
        raise UserError(
            f"the Moodle database URL {mask_url_password(url)!r} has a password with a character "
            "that must be percent-encoded ('@' as %40, '/' as %2F, '?' as %3F, '#' as %23)"
        )
    try:
        parsed = make_url(url.strip())
    except (ArgumentError, ValueError):
        raise UserError(  # not echoed: what cannot be parsed cannot be masked either
            "the Moodle database URL cannot be read; expected e.g. "
            "postgresql://reader@db.example.org/moodle or mysql://reader@db.example.org/moodle"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "postgres", "mysql", "mariadb"):
        raise UserError(
            f"{mask_url_password(parsed)} is a {backend} URL; "
            "Moodle runs on PostgreSQL or MySQL/MariaDB"
        )
    if "+" not in parsed.drivername:
        parsed = parsed.set(drivername=DRIVERS[backend])
    if not parsed.database:
        raise UserError(f"{mask_url_password(parsed)} names no database (…/moodle at its end)")
    return parsed.set(password=password) if password is not None else parsed


def connect_moodle(url: str, password: str | None = None) -> Engine:
    """An engine whose every session is read-only and REPEATABLE READ; checks it connects."""
    target = moodle_url(url, password)
    try:
        engine = sa.create_engine(
            target, isolation_level="REPEATABLE READ", pool_pre_ping=True,
            connect_args={"connect_timeout": 15},
        )  # fmt: skip
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise UserError(
            f"cannot open {mask_url_password(target)}: its driver is not installed ({exc})"
        ) from None
    statement = READ_ONLY_SQL[target.get_backend_name()]

    @sa.event.listens_for(engine, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()

    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except DBAPIError as exc:
        engine.dispose()
        reason = scrub(str(exc.orig) if exc.orig else str(exc), target)
        raise UserError(
            f"cannot connect to the Moodle database {mask_url_password(target)}: {reason}"
        ) from None
    return engine


class _TableFile:
    """One contract table appended chunk by chunk to a hidden file, renamed into place last."""

    def __init__(self, folder: Path, name: str, columns: list[str], compress: bool) -> None:
        self.name, self.columns, self.rows = name, columns, 0
        self.final = folder / f"{name}.csv{'.gz' if compress else ''}"
        self.partial = folder / f".{name}.csv.partial"
        # Closed by commit() or discard(): the file stays open while the chunks arrive.
        self._fh = gzip.open(self.partial, "wb") if compress else self.partial.open("wb")  # noqa: SIM115
        self._fh.write((",".join(columns) + "\n").encode())

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame``'s rows (Arrow's CSV writer: eight times pandas' speed)."""
        table = pa.Table.from_pandas(frame.reindex(columns=self.columns), preserve_index=False)
        pa_csv.write_csv(table, self._fh, write_options=_NO_HEADER)
        self.rows += len(frame)

    def commit(self) -> None:
        """Close the file and put it in place of any earlier form of the same table."""
        self._fh.close()
        for suffix in TABLE_SUFFIXES:  # another form of the same table would be a duplicate
            (self.final.parent / f"{self.name}{suffix}").unlink(missing_ok=True)
        os.replace(self.partial, self.final)

    def discard(self) -> None:
        """Close and remove the partial file."""
        self._fh.close()
        self.partial.unlink(missing_ok=True)


def import_moodle_db(
    url: str,
    out: Path | str,
    *,
    prefix: str = "mdl_",
    since: datetime | None = None,
    as_of: datetime | None = None,
    password: str | None = None,
    enrol_sources: Mapping[str, str] | None = None,
    compress: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Read the Moodle database at ``url`` into the snapshot folder ``out``; returns the report.

    ``since`` limits the log to events from then on; ``as_of`` (default: now) is the moment the
    snapshot describes; ``enrol_sources`` maps more enrolment plugins (or overrides the default
    mapping) to a contract ``source``. Raises UserError, with the password masked, on failure.
    """
    sources = {**rows.ENROL_SOURCES, **(enrol_sources or {})}
    bad = {k: v for k, v in sources.items() if v not in rows.CONTRACT_SOURCES}
    if bad:
        raise UserError(
            f"enrolment sources must be one of {', '.join(rows.CONTRACT_SOURCES)}; got "
            + ", ".join(f"{k}={v}" for k, v in bad.items())
        )
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    target = moodle_url(url, password)
    where = mask_url_password(target)
    folder = Path(out)
    engine = connect_moodle(url, password)
    made_folder = not folder.exists()
    report = ImportReport(source=where)
    files: list[_TableFile] = []
    try:
        with engine.connect() as conn, conn.begin():
            schema = MoodleSchema(conn, prefix, where)
            folder.mkdir(parents=True, exist_ok=True)
            _read_all(conn, schema, folder, files, report, sources=sources, since=since,
                      as_of=as_of, compress=compress, chunk_rows=chunk_rows,
                      progress=progress)  # fmt: skip
    except BaseException as exc:
        for f in files:
            f.discard()
        if made_folder and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        if not isinstance(exc, SQLAlchemyError):
            raise
        orig = getattr(exc, "orig", None)
        reason = scrub(str(orig) if orig else str(exc), target)
        raise UserError(f"reading the Moodle database {where} failed: {reason}") from None
    finally:
        engine.dispose()
    for f in files:
        f.commit()
        report.counts[f"{f.final.name} rows"] = f.rows
    written = {f.name for f in files}
    for name in OUTPUT_TABLES:
        if name in written:
            continue
        for suffix in TABLE_SUFFIXES:
            stale = folder / f"{name}{suffix}"
            if stale.exists():
                stale.unlink()
                report.notes.append(f"removed {stale.name} of an earlier run: not read this time")
    write_snapshot({}, folder, as_of=as_of, source=f"moodle-db {target.host or ''}/"
                   f"{target.database}")  # fmt: skip
    return report


def _read_all(
    conn: Connection,
    schema: MoodleSchema,
    folder: Path,
    files: list[_TableFile],
    report: ImportReport,
    *,
    sources: Mapping[str, str],
    since: datetime | None,
    as_of: datetime,
    compress: bool,
    chunk_rows: int,
    progress: ProgressFn | None,
) -> None:
    left_out: Counter[str] = Counter()

    def open_file(name: str, columns: list[str]) -> _TableFile:
        f = _TableFile(folder, name, columns, compress)
        files.append(f)
        return f

    users, courses, site_courses = read_users_and_courses(conn, schema)
    if users.empty or courses.empty:
        raise UserError(
            f"{report.source} holds no {'users' if users.empty else 'courses'} (the guest "
            "account and the site's front page do not count): nothing to import"
        )
    open_file("lms_users", list(users.columns)).write(users)
    open_file("courses", list(courses.columns)).write(courses)
    user_ids, course_ids = pd.Index(users["user_id"]), pd.Index(courses["course_id"])
    stamp = int(as_of.timestamp())

    enrolments = open_file("enrollments", rows.ENROLMENT_COLUMNS)
    for chunk in read_chunks(conn, *enrolment_query(schema), chunk_rows):
        enrolments.write(rows.enrolments_to_contract(
            chunk, users=user_ids, courses=course_ids, as_of_seconds=stamp, sources=sources,
            left_out=left_out,
        ))  # fmt: skip
    if not schema.has("course_completions"):
        report.warnings.append("no course_completions table: no enrolment is marked completed")

    if schema.has("assign", "assign_submission", "course_modules", "modules"):
        submissions = open_file("submissions", rows.SUBMISSION_COLUMNS)
        for chunk in read_chunks(conn, *submission_query(schema), chunk_rows):
            submissions.write(rows.submissions_to_contract(
                chunk, users=user_ids, courses=course_ids, left_out=left_out
            ))  # fmt: skip
    else:
        report.warnings.append("the assignment module's tables are absent: no submissions")

    if schema.has("logstore_standard_log"):
        unmapped: Counter[str] = Counter()
        activity = open_file("activity", rows.ACTIVITY_COLUMNS)
        for chunk, done, total in read_log(conn, schema, since, chunk_rows):
            activity.write(rows.log_to_activity(
                chunk, users=user_ids, courses=course_ids, site_courses=site_courses,
                left_out=left_out, unmapped=unmapped,
            ))  # fmt: skip
            if progress:
                progress(done, total, f"log: {activity.rows:,} events")
        if unmapped:
            top = ", ".join(f"{n} ({c:,})" for n, c in unmapped.most_common(10))
            report.notes.append(f"most frequent log events left out: {top}")
        if since is not None:
            report.notes.append(f"log events before {since:%Y-%m-%d %H:%M} UTC were not read")
    else:
        report.warnings.append("no standard log store (logstore_standard_log): no activity")
    for reason, count in left_out.items():
        if count:
            report.counts[f"left out: {reason}"] = count
