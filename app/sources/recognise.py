"""Which export a file is, from its content (never its name alone), and what stops reading it.

:func:`recognise` reads the first block of a file (through gzip when it is compressed) and
answers a :class:`Recognition`: the format (a key of :data:`FORMATS`), how its text is encoded
and separated, and, when it cannot be read as it is, a ``problem`` saying what it looks like and
what to do ("this file is not UTF-8; it looks like latin-1: pass --encoding latin-1"). JSON is
told apart by the keys of its first record (xAPI statements, Open edX events, SendGrid, SES and
Mailgun events, a saved LRS result page); tables by their header (Moodle logs in English,
Spanish and the 2.x form, Moodle user lists, Canvas SIS files, contract tables). A header that
reads like data, or whose names do not fit the values under them, is reported rather than read.
"""

from __future__ import annotations

import gzip
import json
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.sources import moodle_shapes, sniff
from app.sources.contract import TABLES
from app.sources.files import GZIP_MAGIC, PARQUET_MAGIC
from app.sources.xlsx import is_xlsx, iter_xlsx_rows

# Format key → what a person calls it. Keys are what ``--format`` accepts.
FORMATS: dict[str, str] = {
    "moodle-log": "a Moodle Logs report",
    "moodle-users": "a Moodle user list",
    "xapi": "xAPI statements",
    "openedx": "an Open edX tracking log",
    "canvas-sis": "a Canvas SIS import CSV",
    "canvas-data": "a Canvas Data flat file",
    "sendgrid": "SendGrid event-webhook events",
    "ses": "Amazon SES notifications",
    "mailgun": "Mailgun events",
    "contract": "a snapshot table in contract form",
}
# Recognised, so the message can say what they are, but no table can be made of them.
KNOWN_OTHERS: dict[str, str] = {
    "moodle-quiz-results": "a Moodle quiz results report",
    "canvas-gradebook": "a Canvas gradebook export",
}
CONTAINERS = ("zip", "tar")
NOT_UTF8 = "text that is not UTF-8"
CANVAS_SIS_KINDS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (columns that must all be there, of which at least one more must be there)
    "users": ({"user_id", "status"}, {"login_id", "first_name", "last_name", "full_name"}),
    "courses": ({"course_id", "short_name", "long_name", "status"}, set()),
    "enrollments": ({"user_id", "role", "status"}, {"course_id", "section_id"}),
    "sections": ({"section_id", "course_id", "name", "status"}, set()),
    "terms": ({"term_id", "name", "status"}, set()),
    "accounts": ({"account_id", "parent_account_id", "name", "status"}, set()),
}


@dataclass(frozen=True)
class Recognition:
    """What :func:`recognise` found about one file."""

    path: Path
    format: str | None
    label: str
    kind: str = ""
    encoding: str = "utf-8"
    delimiter: str = ","
    compressed: bool = False
    sheet: bool = False
    problem: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def usable(self) -> bool:
        """Whether a converter can read the file as recognised."""
        return self.format in FORMATS and self.problem is None


def _head(path: Path) -> tuple[bytes, bool, bool]:
    """(first block, whether gzip-compressed, whether the block is the whole content)."""
    with path.open("rb") as fh:
        raw = fh.read(sniff.HEAD_BYTES)
        whole = len(raw) < sniff.HEAD_BYTES
    if not raw.startswith(GZIP_MAGIC):
        return raw, False, whole
    with gzip.open(path, "rb") as inner:
        data = inner.read(sniff.HEAD_BYTES)
        return data, True, len(data) < sniff.HEAD_BYTES


def recognise(path: Path, *, encoding: str | None = None) -> Recognition:
    """The format of the file at ``path``, judged from its content."""
    unknown = Recognition(path=path, format=None, label="a file Gapdesk does not know")
    try:
        head, compressed, whole = _head(path)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        return replace(unknown, problem=f"cannot be read: {exc}")
    if not head.strip(b" \t\r\n\x00"):
        return replace(unknown, label="an empty file", problem="is empty: it holds no rows")
    if compressed and len(head) > 262 and head[257:262] == b"ustar":
        return replace(unknown, format="tar", label="a tar archive", compressed=True)
    if head.startswith(b"PK\x03\x04"):
        if is_xlsx(path):
            return _recognise_xlsx(path)
        if zipfile.is_zipfile(path):
            return replace(unknown, format="zip", label="a zip archive")
    if head[257:262] == b"ustar" and tarfile.is_tarfile(path):
        return replace(unknown, format="tar", label="a tar archive")
    if head.startswith(PARQUET_MAGIC):
        return _recognise_parquet(path, unknown)
    try:
        found = encoding or sniff.detect_encoding(head)
        text = sniff.decode_head(head, found)
    except sniff.EncodingProblem as exc:
        return replace(unknown, label=NOT_UTF8, problem=str(exc))
    base = replace(unknown, encoding=found, compressed=compressed)
    if found.startswith(("utf-16", "utf-32")):
        base = replace(base, notes=(f"the file is {found.upper()} text; read as such",))
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return _recognise_json(stripped, base)
    return _recognise_table(sniff.complete_lines(text, whole=whole), base)


# --------------------------------------------------------------------------- JSON


def classify_record(record: Any) -> tuple[str, str] | None:
    """(format, kind) for one JSON record of a known export, or None."""
    if not isinstance(record, dict):
        return None
    keys = set(record)
    if {"actor", "verb", "object"} <= keys and isinstance(record.get("verb"), dict):
        return "xapi", "statement"
    if "event_type" in keys and "time" in keys and ({"username", "context"} & keys):
        return "openedx", "event"
    if {"sg_event_id", "sg_message_id"} & keys or ({"email", "event", "timestamp"} <= keys):
        return "sendgrid", "event"
    if ("notificationType" in keys or "eventType" in keys) and isinstance(record.get("mail"), dict):
        return "ses", "notification"
    if record.get("Type") == "Notification" and isinstance(record.get("Message"), str):
        try:
            inner = classify_record(json.loads(record["Message"]))
        except json.JSONDecodeError:
            return None
        return ("ses", "sns") if inner and inner[0] == "ses" else None
    if (
        "event" in keys
        and "timestamp" in keys
        and ({"envelope", "delivery-status", "log-level", "recipient"} & keys)
    ):
        return "mailgun", "event"
    return None


def _first_records(text: str) -> tuple[str, list[Any]]:
    """('array'|'lines'|'object', the first few records) of JSON text, as far as it parses."""
    decoder = json.JSONDecoder()
    if text.startswith("["):
        records: list[Any] = []
        pos = 1
        while len(records) < 5:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text) or text[pos] == "]":
                break
            try:
                item, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError:
                break
            records.append(item)
        return "array", records
    lines = [line for line in text.splitlines() if line.strip()][:5]
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    if out:
        return ("lines" if len(lines) > 1 else "object"), out
    try:
        first, _ = decoder.raw_decode(text)
    except json.JSONDecodeError:
        return "object", []
    return "object", [first]


def _recognise_json(text: str, base: Recognition) -> Recognition:
    shape, records = _first_records(text)
    if not records:
        return replace(
            base, label="text that starts like JSON", problem="starts like JSON but is not JSON"
        )
    first = records[0]
    if isinstance(first, dict) and isinstance(first.get("statements"), list):
        return replace(base, format="xapi", kind="lrs-page", label="a saved xAPI LRS result page")
    if isinstance(first, dict) and isinstance(first.get("items"), list) and "paging" in first:
        return replace(base, format="mailgun", kind="page", label="a Mailgun events API page")
    found = [classify_record(r) for r in records]
    known = [f for f in found if f]
    if known:
        fmt = known[0][0]
        label = FORMATS[fmt] + {"array": " (a JSON array)", "lines": " (JSON lines)"}.get(shape, "")
        return replace(base, format=fmt, kind=shape, label=label)
    keys = sorted(first)[:6] if isinstance(first, dict) else []
    what = f"JSON records with keys {', '.join(keys)}" if keys else "JSON Gapdesk does not know"
    return replace(
        base,
        label=what,
        problem=f"holds {what}: not xAPI statements, an Open edX tracking log or e-mail "
        "provider events; convert it to CSV and ingest it with a mapping",
    )


# --------------------------------------------------------------------------- tables


def _recognise_parquet(path: Path, unknown: Recognition) -> Recognition:
    stem = path.name.removesuffix(".parquet")
    if stem in TABLES:
        return replace(unknown, format="contract", kind=stem, label=f"the {stem} table (Parquet)")
    return replace(
        unknown,
        label="a Parquet file",
        problem=f"is Parquet, which Gapdesk reads only as a contract table (name it "
        f"<table>.parquet, one of {', '.join(TABLES)})",
    )


def _recognise_xlsx(path: Path) -> Recognition:
    base = Recognition(path=path, format=None, label="an Excel workbook", sheet=True)
    rows = list(iter_xlsx_rows(path, limit=sniff.SAMPLE_ROWS + 1))
    if not rows:
        return replace(base, problem="is an Excel workbook with an empty first sheet")
    table = sniff.Table(delimiter=",", header=[c.strip() for c in rows[0]], rows=rows[1:])
    return _classify_table(table, base)


def _recognise_table(text: str, base: Recognition) -> Recognition:
    table = sniff.sniff_table(text)
    if table is None:
        return replace(base, label="an empty file", problem="is empty: it holds no rows")
    base = replace(base, delimiter=table.delimiter)
    if len(table.header) == 1 and not table.rows:
        return replace(base, label="a single line of text", problem="holds one line and no rows")
    return _classify_table(table, base)


def _contract_table(header: set[str], stem: str) -> str | None:
    """The contract table whose required columns the header holds, preferring the file's name."""

    def fits(name: str) -> bool:
        t = TABLES[name]
        return t.id_column in header and {c.name for c in t.columns if not c.nullable} <= header

    if stem in TABLES and fits(stem):
        return stem
    for name, t in TABLES.items():
        # By header alone only when the header is mostly the contract's own names.
        if fits(name) and len(header & set(t.column_names)) * 2 > len(header):
            return name
    return None


def _classify_table(table: sniff.Table, base: Recognition) -> Recognition:
    sep = table.delimiter_word
    encoded = f", {base.encoding.upper()}" if base.encoding not in ("utf-8", "utf-8-sig") else ""
    how = "(Excel" if base.sheet else f"(CSV, {sep}-separated{encoded}"
    if table.delimiter != "," and not base.sheet:
        base = replace(base, notes=(*base.notes, f"{sep}-separated: read with {table.delimiter!r}"))
    data_like = sniff.header_looks_like_data(table.header)
    if data_like:
        if table.delimiter == "\t" and any("\\N" in r for r in [*table.rows[:50], table.header]):
            return replace(
                base, format="canvas-data", kind=_canvas_data_table(base.path),
                label=f"{FORMATS['canvas-data']} (headerless, tab-separated, \\N for null)",
            )  # fmt: skip
        return replace(
            base,
            label=f"a table without a header row {how})",
            problem=f"its first row looks like data, not a header ({data_like}): the file has no "
            "header row, so its columns cannot be told apart; export it again with headers, or "
            "ingest it with a mapping that lists its columns",
        )
    names = {h.strip().lower() for h in table.header}
    stem = base.path.name.split(".", 1)[0]
    contract = _contract_table({h.strip() for h in table.header}, stem) if stem in TABLES else None
    found: Recognition | None = None
    if contract:
        found = replace(base, format="contract", kind=contract, label=f"the {contract} table")
    elif moodle_shapes.is_legacy_header(table.header):
        found = replace(base, format="moodle-log", kind="2.x", label=f"a Moodle 2.x log {how})")
    elif moodle_shapes.is_modern_header(table.header):
        lang = "Spanish, " if moodle_shapes.is_spanish(table.header) else ""
        found = replace(
            base, format="moodle-log", kind="es" if lang else "en",
            label=f"a Moodle Logs report {how.replace('(', '(' + lang, 1)})",
        )  # fmt: skip
    elif "username" in names and ({"email"} & names or {"firstname", "lastname"} <= names):
        found = replace(base, format="moodle-users", label=f"a Moodle user list {how})")
    elif {"surname", "first name", "state", "started on"} <= names:
        return replace(
            base, format="moodle-quiz-results", label=f"a Moodle quiz results report {how})",
            problem="is a Moodle quiz results report: it names learners by surname and first "
            "name only and no course, so its rows cannot be attributed; export the course's "
            "Logs report or grade book instead",
        )  # fmt: skip
    elif {"student", "id", "section"} <= names:
        return replace(
            base, format="canvas-gradebook", label=f"a Canvas gradebook export {how})",
            problem="is a Canvas gradebook export (scores per assignment, no dates), which "
            "Gapdesk does not read; use the Canvas SIS or Canvas Data exports",
        )  # fmt: skip
    else:
        for kind, (needed, one_of) in CANVAS_SIS_KINDS.items():
            if needed <= names and (not one_of or one_of & names):
                found = replace(base, format="canvas-sis", kind=kind,
                                label=f"a Canvas SIS {kind}.csv {how})")  # fmt: skip
                break
    if found is None:
        contract = _contract_table({h.strip() for h in table.header}, stem)
        if contract:
            found = replace(base, format="contract", kind=contract, label=f"the {contract} table")
    if found is None:
        named = (
            f"; it is named like the {stem} table but lacks its columns "
            f"{', '.join(c.name for c in TABLES[stem].columns if not c.nullable and c.name not in table.header)}"  # noqa: E501
            if stem in TABLES
            else ""
        )
        return replace(
            base,
            label=f"a table Gapdesk does not know {how})",
            problem=f"is a table with columns {', '.join(table.header[:8])} that is not an "
            f"export Gapdesk knows{named}; ingest it with a mapping (gapdesk import csv)",
        )
    promised = {
        "moodle-log": {"Origin": "Moodle origin"},
        "canvas-sis": {"status": "Canvas status"},
    }
    expected = promised.get(found.format or "", {})
    if found.format == "moodle-log":
        renamed = [moodle_shapes.SPANISH_HEADERS.get(h.lower(), h) for h in table.header]
        table = replace(table, header=renamed)
    shuffled = sniff.shuffled_header(table, expected)
    if shuffled:
        return replace(found, problem=shuffled)
    return found


CANVAS_DATA_TABLES = (
    "user_dim", "pseudonym_dim", "course_dim", "enrollment_dim", "enrollment_fact",
    "course_section_dim", "enrollment_term_dim", "submission_dim", "submission_fact",
    "assignment_dim", "requests", "account_dim", "role_dim",
)  # fmt: skip


def _canvas_data_table(path: Path) -> str:
    """The Canvas Data table a flat file belongs to: its folder's or its own name says it."""
    for name in (path.parent.name, path.name):
        for table in CANVAS_DATA_TABLES:
            if name == table or name.startswith(table + "-") or name.startswith(table + "."):
                return table
    return ""


def mismatch(forced: str, found: Recognition) -> str | None:
    """The message for a file given as ``forced`` that looks like another known format."""
    if found.format is None or found.format == forced or found.format in CONTAINERS:
        return None
    what = FORMATS.get(forced, forced)
    return f"this looks like {found.label}, not {what}"
