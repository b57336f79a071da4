"""One recognised export → contract tables, with a report of what went in and what did not.

Each format has a converter (:data:`CONVERTERS`) calling that format's importer and bringing its
report to one shape, :class:`Conversion`: rows per table, rows *left out* by design (events that
are not learner activity, roles that are not learners) and rows *dropped* because they could not
be read (no time, no user, an event name Gapdesk does not know). A conversion fails, naming the
file and why, when it yields no rows or drops more than half of what it read.

Columns a format cannot carry are left out of its tables (absent is not empty): a log knows no
e-mail addresses, no account creation dates and no course owners.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from app.core.errors import UserError
from app.sources import moodle_shapes
from app.sources.canvas import (
    canvas_course_owners,
    canvas_courses_tables,
    canvas_term_dates,
    canvas_users_tables,
    import_canvas_enrollments,
)
from app.sources.containers import Part
from app.sources.conversion import DROPPED_SHARE_LIMIT as DROPPED_SHARE_LIMIT
from app.sources.conversion import STREAM_BYTES as STREAM_BYTES
from app.sources.conversion import Conversion as Conversion
from app.sources.conversion import IngestOptions as IngestOptions
from app.sources.email_events import import_email_events
from app.sources.files import read_table_file
from app.sources.moodle import moodle_log_tables, moodle_users_tables
from app.sources.moodle_columns import distinct, read_log_csv
from app.sources.moodle_stream import StreamedLog, stream_moodle_log
from app.sources.recognise import FORMATS, KNOWN_OTHERS
from app.sources.result import ImportResult
from app.sources.xlsx import iter_xlsx_rows

Converter = Callable[[list[Part], IngestOptions, Path], Conversion]


def _blank(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.replace(r"^\s*$", pd.NA, regex=True)


def read_text_table(part: Part, options: IngestOptions) -> pd.DataFrame:
    """The rows of a delimited or Excel export, every cell text (empty = null)."""
    found = part.recognition
    if found.sheet:
        rows = list(iter_xlsx_rows(part.path))
        width = max(len(r) for r in rows)
        body = [r + [""] * (width - len(r)) for r in rows[1:]]
        header = [c.strip() for c in rows[0]] + [f"column {i}" for i in range(len(rows[0]), width)]
        return _blank(pd.DataFrame(body, columns=header, dtype="str"))
    encoding = options.encoding or found.encoding
    if encoding in ("utf-8", "utf-8-sig") and found.delimiter == ",":
        frame, problem = read_table_file(part.path)
        if problem is not None:
            raise UserError(problem.message)
        assert frame is not None
        return frame
    try:
        frame = pd.read_csv(
            part.path, dtype=str, keep_default_na=False, na_values=[""], sep=found.delimiter,
            encoding=encoding, compression="gzip" if found.compressed else None,
        )  # fmt: skip
    except UnicodeDecodeError as exc:
        raise UserError(
            f"is not {encoding} text throughout (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start}); pass the right --encoding"
        ) from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise UserError(f"cannot be read as {found.delimiter!r}-separated text: {exc}") from None
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    return frame


def _from_report(conv: Conversion, result: ImportResult) -> None:
    """Bring an importer's ``left out:``/``dropped:`` counts, notes and warnings over."""
    for key, count in result.report.counts.items():
        if key.startswith("left out: "):
            conv.left_out[key.removeprefix("left out: ")] = count
        elif key.startswith("dropped: "):
            conv.dropped[key.removeprefix("dropped: ")] = count
    conv.notes.extend(result.report.notes)
    conv.warnings.extend(result.report.warnings)


def _drop_absent(tables: dict[str, pd.DataFrame], absent: dict[str, tuple[str, ...]]) -> None:
    for name, columns in absent.items():
        if name in tables:
            tables[name] = tables[name].drop(columns=[c for c in columns if c in tables[name]])


# --------------------------------------------------------------------------- converters


def _plain_log(part: Part, options: IngestOptions) -> bool:
    """Whether ``part`` is an English, UTF-8, comma-separated log CSV (read by pyarrow)."""
    found = part.recognition
    plain = (options.encoding or found.encoding) in ("utf-8", "utf-8-sig")
    return found.kind == "en" and plain and found.delimiter == "," and not found.sheet


def _read_moodle_log(part: Part, options: IngestOptions) -> pd.DataFrame:
    """An English Moodle log CSV read column by column as categoricals (fast, lean on large
    logs); any other shape, or a file pyarrow cannot read alike, as :func:`read_text_table`."""
    if _plain_log(part, options):
        frame = read_log_csv(part.path, compressed=part.recognition.compressed)
        if frame is not None:
            return frame
    return read_text_table(part, options)


def _streamed_log(part: Part, options: IngestOptions) -> StreamedLog | None:
    """A large plain log converted chunk by chunk, or None when it is small or cannot stream."""
    if not _plain_log(part, options) or part.path.stat().st_size < options.stream_bytes:
        return None
    try:
        return stream_moodle_log(
            part.path, compressed=part.recognition.compressed, source=part.shown,
            year=options.year, tz=options.timezone, day_first=options.day_first,
            chunk_rows=options.chunk_rows,
        )  # fmt: skip
    except (pa.ArrowException, OSError, ValueError):
        return None  # read whole: the whole-file reader diagnoses what is wrong


def convert_moodle_log(parts: list[Part], options: IngestOptions, workdir: Path) -> Conversion:
    """A Moodle Logs report (CSV or Excel; English, Spanish or 2.x) → activity, users, courses."""
    part = parts[0]
    conv = Conversion(part.shown, part.recognition.label, primary="activity")
    streamed = _streamed_log(part, options)
    if streamed is not None:
        result, ignored, raw_columns = streamed.result, streamed.ignored, set(streamed.columns)
        if options.day_first is None and streamed.day_first is None and streamed.numeric_dates:
            conv.notes.append("numeric dates were read day first (pass --month-first if not)")
    else:
        raw = _read_moodle_log(part, options)
        raw_columns = set(raw.columns)
        frame, ignored = moodle_shapes.english_frame(raw)
        day_first = options.day_first
        if day_first is None:
            day_first = moodle_shapes.infer_day_first(frame["Time"])
            times = distinct(frame["Time"], ordered=False)[1].astype("str")
            if day_first is None and times.str.match(r"^\s*\d+/\d+/").any():
                conv.notes.append("numeric dates were read day first (pass --month-first if not)")
        result = moodle_log_tables(
            frame, source=part.shown, year=options.year, tz=options.timezone,
            day_first=day_first is not False,
        )  # fmt: skip
    conv.read = result.report.counts["log rows"]
    unknown: dict[str, int] = {}
    for key, count in result.report.counts.items():
        if not key.startswith("unmapped: "):
            continue
        name = key.removeprefix("unmapped: ")
        if name.strip().rstrip(".").strip().lower() in ignored:
            why = moodle_shapes.IGNORED_WHY
            conv.left_out[why] = conv.left_out.get(why, 0) + count
        else:
            unknown[name] = count
    if unknown:
        examples = ", ".join(repr(n) for n in sorted(unknown, key=lambda n: -unknown[n])[:3])
        conv.dropped[f"events whose names Gapdesk does not know (e.g. {examples})"] = sum(
            unknown.values()
        )
    lost = result.report.counts["events mapped"] - result.report.counts["activity rows"]
    if lost:
        conv.dropped["events without a readable time or a user"] = lost
    tables = dict(result.tables)
    if part.recognition.kind == "2.x" and streamed is None:
        titles = moodle_shapes.legacy_course_titles(raw)
        tables["courses"]["title"] = (
            tables["courses"]["course_id"].map(titles).fillna(tables["courses"]["title"])
        )
    if "User full name" in raw_columns or "Nombre completo del usuario" in raw_columns:
        tables["lms_users"]["full_name"] = tables["lms_users"]["user_id"]
    _drop_absent(
        tables,
        {
            "lms_users": ("email", "person_id", "created_at", "last_login_at"),
            "courses": ("department", "owner_user_id", "due_days", "grading_sla_days"),
        },
    )
    conv.tables = tables
    conv.notes.extend(n for n in result.report.notes)
    conv.notes.append(
        "lms_users from a log carry no e-mail, person, creation or last login date (absent, "
        "not empty); courses carry no owner or department"
    )
    conv.warnings.extend(w for w in result.report.warnings if not w.startswith("lms_users derived"))
    return conv


def convert_openedx(parts: list[Part], options: IngestOptions, workdir: Path) -> Conversion:
    """Open edX tracking logs (any number, plain or gzipped) → activity, users, courses."""
    from app.sources.openedx import import_openedx_logs

    shown = parts[0].shown if len(parts) == 1 else f"{len(parts)} files ({parts[0].shown}, …)"
    conv = Conversion(shown, parts[0].recognition.label, primary="activity")
    result = import_openedx_logs([p.path for p in parts], source=shown)
    conv.read = result.report.counts["events read"]
    _from_report(conv, result)
    conv.tables = dict(result.tables)
    return conv


def _users_and_courses(activity: pd.DataFrame) -> dict[str, pd.DataFrame]:
    users = pd.DataFrame({"user_id": pd.Series(sorted(set(activity["user_id"])), dtype="str")})
    users["status"] = "active"
    ids = sorted(set(activity["course_id"].dropna()))
    courses = pd.DataFrame(
        {"course_id": pd.Series(ids, dtype="str"), "title": pd.Series(ids, dtype="str")}
    )
    courses["is_compliance"] = False
    courses["status"] = "active"
    return {"lms_users": users, "courses": courses}


def read_lrs_pages(path: Path) -> list[object]:
    """The statements of saved LRS result pages (one page, or several one after another)."""
    import gzip
    import json

    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        text = fh.read()
    decoder, pos = json.JSONDecoder(), 0
    statements: list[object] = []
    while pos < len(text):  # one page, or several saved one after another
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            break
        try:
            page, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise UserError(f"is not a readable LRS result page: {exc}") from None
        if isinstance(page, dict):
            statements.extend(page.get("statements") or [])
    return statements


def convert_xapi(parts: list[Part], options: IngestOptions, workdir: Path) -> Conversion:
    """xAPI statements (JSON lines, a JSON array, saved LRS pages) → activity, users, courses."""
    from app.sources.result import ImportReport
    from app.sources.xapi import iter_jsonl_statements, statements_to_activity

    shown = parts[0].shown if len(parts) == 1 else f"{len(parts)} files ({parts[0].shown}, …)"
    conv = Conversion(shown, parts[0].recognition.label, primary="activity")
    pre = ImportReport(source=shown)
    statements: list[object] = []
    for part in parts:
        if part.recognition.kind == "lrs-page":
            statements.extend(read_lrs_pages(part.path))
        else:
            statements.extend(iter_jsonl_statements(part.path, pre))
    result = statements_to_activity(statements, source=shown)  # type: ignore[arg-type]
    counts = result.report.counts
    conv.read = counts["statements read"]
    if counts.get("statements with an unmapped verb"):
        conv.left_out["statements whose verb has no contract verb"] = counts[
            "statements with an unmapped verb"
        ]
    if counts.get("voided statements removed"):
        conv.left_out["voided statements"] = counts["voided statements removed"]
    for key, count in counts.items():
        if key.startswith("skipped: "):
            why = key.removeprefix("skipped: ")
            (conv.left_out if "progress share" in why else conv.dropped)[why] = count
    conv.warnings.extend(pre.warnings + result.report.warnings)
    activity = result.tables["activity"]
    conv.tables = {"activity": activity, **_users_and_courses(activity)}
    conv.notes.append(
        "lms_users and courses are the actors and courses the statements name: no e-mail, "
        "name or title (absent, not empty)"
    )
    return conv


def convert_contract(parts: list[Part], options: IngestOptions, workdir: Path) -> Conversion:
    """A table already in contract form, taken as it is (validation checks it)."""
    part = parts[0]
    table = part.recognition.kind
    conv = Conversion(part.shown, part.recognition.label, primary=table)
    if part.path.name.endswith(".parquet"):
        frame, problem = read_table_file(part.path, table=table)
        if problem is not None:
            raise UserError(problem.message)
        assert frame is not None
    else:
        frame = read_text_table(part, options)
    conv.read = len(frame)
    conv.tables = {table: frame}
    return conv


UNDATED_ENROLMENTS = (
    "learner enrolments with no enrolment date (the SIS format has none; the contract needs one)"
)


def convert_canvas_enrollments(
    parts: list[Part], options: IngestOptions, workdir: Path
) -> Conversion:
    """A Canvas SIS enrollments.csv → enrollments (learner roles); teachers own the courses."""
    part = parts[0]
    conv = Conversion(part.shown, part.recognition.label, primary="enrollments")
    path = _as_plain_csv(part, options, workdir)
    result = import_canvas_enrollments(path)
    conv.read = result.report.counts["rows read"]
    for key, count in result.report.counts.items():
        if key.startswith("skipped role: "):
            conv.left_out[f"role {key.removeprefix('skipped role: ')} (not a learner)"] = count
    enrolments = result.tables["enrollments"]
    if len(enrolments) and enrolments["enrolled_at"].isna().all():
        # The SIS import format has no enrolment date and the contract requires one: the
        # table is left out (unknown, not empty), so the rest goes in as it comes; a file
        # where only some rows carry a date stays a problem validation names.
        conv.left_out[UNDATED_ENROLMENTS] = len(enrolments)
        result.tables.pop("enrollments")
        result.report.warnings = [w for w in result.report.warnings if "carry no date" not in w]
    conv.warnings.extend(result.report.warnings)
    conv.tables = {n: f for n, f in result.tables.items() if len(f)}
    owners = canvas_course_owners(read_text_table(part, options))
    if len(owners):
        conv.extras["course owners"] = owners
        conv.notes.append(f"{len(owners):,} course(s) get their owner from a teacher enrolment")
    return conv


def _frame_converter(build: Callable[..., ImportResult], primary: str) -> Converter:
    """A converter for an importer taking the file's rows as text: ``build(frame, source=)``."""

    def convert_frame(parts: list[Part], options: IngestOptions, workdir: Path) -> Conversion:
        part = parts[0]
        conv = Conversion(part.shown, part.recognition.label, primary=primary)
        result = build(read_text_table(part, options), source=part.shown)
        conv.read = result.report.counts["rows read"]
        _from_report(conv, result)
        conv.tables = dict(result.tables)
        return conv

    return convert_frame


def convert_canvas_context(parts: list[Part], options: IngestOptions, workdir: Path) -> Conversion:
    """Canvas SIS terms, accounts and sections: facts joined to the courses, no table of theirs."""
    part = parts[0]
    kind = part.recognition.kind
    frame = read_text_table(part, options)
    conv = Conversion(part.shown, part.recognition.label, read=len(frame))
    if kind == "terms":
        conv.extras["term dates"] = canvas_term_dates(frame)
        conv.notes.append("term dates become the start and end of the courses in each term")
    elif kind == "accounts":
        conv.extras["account names"] = frame[["account_id", "name"]].dropna()
        conv.notes.append("account names become the department of the courses in each account")
    else:
        conv.notes.append(f"{kind} are not needed: courses and enrolments name what they need")
    return conv


def convert_email_events(parts: list[Part], options: IngestOptions, workdir: Path) -> Conversion:
    """SendGrid, SES or Mailgun events → notifications (users matched by address later)."""
    shown = parts[0].shown if len(parts) == 1 else f"{len(parts)} files ({parts[0].shown}, …)"
    conv = Conversion(shown, parts[0].recognition.label, primary="notifications")
    provider = parts[0].recognition.format or ""
    result = import_email_events([p.path for p in parts], provider=provider, source=shown)
    conv.read = result.report.counts["rows read"]
    _from_report(conv, result)
    conv.tables = dict(result.tables)
    return conv


def _as_plain_csv(part: Part, options: IngestOptions, workdir: Path) -> Path:
    """The part as a UTF-8, comma-separated file an importer reading paths can open."""
    found = part.recognition
    plain = (options.encoding or found.encoding) in ("utf-8", "utf-8-sig")
    if plain and found.delimiter == "," and not found.sheet:
        return part.path
    out = workdir / f"plain-{abs(hash(part.shown))}-{part.path.name.removesuffix('.gz')}"
    read_text_table(part, options).to_csv(out, index=False)
    return out


CONVERTERS: dict[tuple[str, str], Converter] = {
    ("moodle-log", ""): convert_moodle_log,
    ("openedx", ""): convert_openedx,
    ("xapi", ""): convert_xapi,
    ("contract", ""): convert_contract,
    ("canvas-sis", "enrollments"): convert_canvas_enrollments,
    ("canvas-sis", "users"): _frame_converter(canvas_users_tables, "lms_users"),
    ("canvas-sis", "courses"): _frame_converter(canvas_courses_tables, "courses"),
    ("canvas-sis", ""): convert_canvas_context,
    ("moodle-users", ""): _frame_converter(moodle_users_tables, "lms_users"),
    ("sendgrid", ""): convert_email_events,
    ("ses", ""): convert_email_events,
    ("mailgun", ""): convert_email_events,
}
# Formats whose files are read together into one conversion (rotated logs, split dumps).
GROUPED = frozenset({"openedx", "xapi", "sendgrid", "ses", "mailgun"})


def converter_for(fmt: str, kind: str) -> Converter | None:
    """The converter of a format (and kind, for formats whose kinds differ), if there is one."""
    return CONVERTERS.get((fmt, kind)) or CONVERTERS.get((fmt, ""))


def convert(parts: list[Part], options: IngestOptions, workdir: Path) -> Conversion:
    """Convert ``parts`` (one file, or several of a grouped format) and judge the result."""
    found = parts[0].recognition
    shown = parts[0].shown
    if found.problem is not None:
        conv = Conversion(shown, found.label, problem=found.problem)
        return conv
    fmt = found.format or ""
    convert_fn = converter_for(fmt, found.kind)
    if convert_fn is None:
        what = FORMATS.get(fmt) or KNOWN_OTHERS.get(fmt) or found.label
        kind = f" ({found.kind})" if found.kind else ""
        return Conversion(
            shown, found.label,
            problem=f"is {what}{kind}, which Gapdesk recognises but has no importer for yet",
        )  # fmt: skip
    try:
        conv = convert_fn(parts, options, workdir)
    except UserError as exc:
        return Conversion(shown, found.label, problem=str(exc))
    conv.format = fmt
    conv.notes[:0] = list(found.notes)
    conv.judge()
    return conv
