"""What a text export is made of: its encoding, its delimiter, and whether its header is one.

Real exports arrive re-saved by spreadsheets and scripts: UTF-16 from Excel's "Unicode text",
latin-1 from an old Windows export, semicolons from a European locale, no header at all (Canvas
Data), or a header moved against its data. Each function here reads only the first block of a
file, so recognising a gigabyte log costs the same as a small one.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.sources.text_shapes import looks_like_email

HEAD_BYTES = 256 * 1024
SAMPLE_ROWS = 200
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_WORDS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
NULL_TOKENS = ("\\N",)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class EncodingProblem(ValueError):
    """The bytes are not in the encoding they were taken to be; the message says what to do."""


def detect_encoding(head: bytes) -> str:
    """The encoding of text starting with ``head``: a BOM, UTF-16 by its zero bytes, else UTF-8.

    Raises EncodingProblem naming the likely encoding (latin-1, cp1252) when ``head`` is not
    UTF-8; the caller passes ``encoding=`` to read such a file.
    """
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    sample = head[:4096]
    if len(sample) >= 4:
        even_zero = sample[0::2].count(0) / len(sample[0::2])
        odd_zero = sample[1::2].count(0) / len(sample[1::2])
        # ASCII-range text in UTF-16 has a zero in every other byte; no UTF-8 text has many zeros.
        if odd_zero > 0.3 and even_zero < 0.05:
            return "utf-16-le"
        if even_zero > 0.3 and odd_zero < 0.05:
            return "utf-16-be"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut at the block's end is not an error
    except UnicodeDecodeError as exc:
        raise EncodingProblem(_not_utf8(head, exc.start)) from None
    return "utf-8"


def _not_utf8(head: bytes, offset: int) -> str:
    high = [b for b in head if b >= 0x80]
    # Bytes 0x80-0x9f are control characters in latin-1 but curly quotes and dashes in cp1252.
    likely = "cp1252 (Windows-1252)" if any(0x80 <= b <= 0x9F for b in high) else "latin-1"
    flag = "cp1252" if likely.startswith("cp1252") else "latin-1"
    return (
        f"this file is not UTF-8 (byte 0x{head[offset]:02x} at offset {offset}); it looks like "
        f"{likely}: pass --encoding {flag}, or save it as UTF-8"
    )


def decode_head(head: bytes, encoding: str) -> str:
    """``head`` decoded, dropping a character cut at the end; EncodingProblem if it cannot be."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        text = decoder.decode(head, final=False)
    except UnicodeDecodeError as exc:
        if encoding.replace("_", "-").lower() in ("utf-8", "utf-8-sig", "utf8"):
            raise EncodingProblem(_not_utf8(head, exc.start)) from None
        raise EncodingProblem(
            f"this file is not {encoding} text (byte 0x{head[exc.start]:02x} at offset "
            f"{exc.start}); pass the right --encoding"
        ) from None
    except LookupError:
        raise EncodingProblem(f"{encoding!r} is not an encoding Python knows") from None
    return text.lstrip("\ufeff")


def complete_lines(text: str, *, whole: bool) -> str:
    """``text`` without its last, possibly cut, line (unless ``whole``: the file ended there)."""
    if whole or "\n" not in text:
        return text
    return text[: text.rindex("\n") + 1]


@dataclass(frozen=True)
class Table:
    """The first rows of a delimited text file, split by the delimiter found."""

    delimiter: str
    header: list[str]
    rows: list[list[str]]

    @property
    def delimiter_word(self) -> str:
        """The delimiter as a person names it: comma, semicolon, tab, pipe."""
        return DELIMITER_WORDS.get(self.delimiter, repr(self.delimiter))

    def column(self, name: str) -> list[str]:
        """The sample's values of column ``name`` (compared without case), blanks left out."""
        wanted = name.strip().lower()
        for index, cell in enumerate(self.header):
            if cell.strip().lower() == wanted:
                return [r[index].strip() for r in self.rows if index < len(r) and r[index].strip()]
        return []


def _split(text: str, delimiter: str, limit: int) -> list[list[str]]:
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            if any(cell.strip() for cell in row):
                rows.append(row)
            if len(rows) > limit:
                break
    except csv.Error:
        pass  # a cut quoted field at the block's end: what was read so far is the sample
    return rows


def sniff_table(text: str, *, delimiter: str | None = None) -> Table | None:
    """Split ``text`` by the delimiter (given, or the one giving a steady column count > 1).

    None when ``text`` holds no line at all.
    """
    best: tuple[float, int, str] | None = None
    for candidate in (delimiter,) if delimiter else DELIMITERS:
        rows = _split(text, candidate, 40)
        if not rows:
            continue
        widths = Counter(len(r) for r in rows)
        width, count = widths.most_common(1)[0]
        steady = count / len(rows)
        score = (steady if width > 1 else 0.0, width, candidate)
        if best is None or score[:2] > best[:2]:
            best = score
    if best is None:
        return None
    rows = _split(text, best[2], SAMPLE_ROWS)
    return Table(delimiter=best[2], header=[c.strip() for c in rows[0]], rows=rows[1:])


# --------------------------------------------------------------------------- value shapes

_ISO = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$"
)
_SLASH = re.compile(
    r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}(,?\s+\d{1,2}:\d{2}(:\d{2})?(\s?[AaPp][Mm])?)?$"
)
_WORDY = re.compile(
    r"^(\w+,\s+)?\d{1,2}\s+[^\W\d_]+\.?(\s+\d{4})?,?\s+\d{1,2}:\d{2}(\s?[AaPp][Mm])?$"
)
_YEAR_FIRST = re.compile(r"^\d{4}\s+[^\W\d_]+\s+\d{1,2}\s+\d{1,2}:\d{2}$")
_IPV4 = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$")
_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ORIGIN_WORDS = frozenset({"web", "ws", "cli", "restore", "webservice"})
CANVAS_STATUS_WORDS = frozenset(
    {
        "active", "deleted", "completed", "published", "unpublished", "inactive", "invited",
        "creation_pending", "rejected", "deleted_last_completed", "suspended", "claimed",
    }
)  # fmt: skip


def is_time(value: str) -> bool:
    """Whether ``value`` reads as a date or time in one of the shapes exports write."""
    v = value.strip()
    return bool(_ISO.match(v) or _SLASH.match(v) or _WORDY.match(v) or _YEAR_FIRST.match(v))


def is_email(value: str) -> bool:
    """Whether ``value`` is an e-mail address (a linear check: no crafted cell can stall it)."""
    return looks_like_email(value)


def is_ip(value: str) -> bool:
    """Whether ``value`` is an IP address (v4, v6, or masked like ``X.Y.Z``)."""
    v = value.strip()
    return bool(_IPV4.match(v)) or (v.count(":") >= 2 and all(
        c in "0123456789abcdefABCDEF:" for c in v
    )) or v in ("X.Y.Z", "x.x.x.x")  # fmt: skip


def is_number(value: str) -> bool:
    """Whether ``value`` is a plain number."""
    return bool(_NUMBER.match(value.strip()))


def is_origin(value: str) -> bool:
    """Whether ``value`` is one of Moodle's event origins (web, ws, cli, restore)."""
    return value.strip().lower() in ORIGIN_WORDS


SHAPES: dict[str, Callable[[str], bool]] = {
    "time": is_time,
    "e-mail address": is_email,
    "IP address": is_ip,
    "Moodle origin": is_origin,
    "Canvas status": lambda v: v.strip().lower() in CANVAS_STATUS_WORDS,
}


def looks_like_data(cell: str) -> str | None:
    """What a header cell looks like when it is a value, not a name (``None`` for a name)."""
    v = cell.strip()
    if v in NULL_TOKENS:
        return "a null marker"
    if _UUID.match(v):
        return "an identifier"
    for shape in ("time", "e-mail address", "IP address"):
        if SHAPES[shape](v):
            return f"a {shape}" if shape == "time" else f"an {shape}"
    return None


def header_looks_like_data(header: Sequence[str]) -> str | None:
    """Why the first row is data rather than a header, or None when it reads as names."""
    for cell in header:
        shape = looks_like_data(cell)
        if shape:
            return f"its cell {cell.strip()!r} is {shape}"
    numbers = [c for c in header if is_number(c)]
    if len(numbers) >= 2 or (numbers and len(numbers) * 2 >= len(header)):
        return f"its cells {', '.join(repr(c) for c in numbers[:3])} are numbers"
    return None


def _share(values: Sequence[str], test: Callable[[str], bool]) -> float:
    return sum(1 for v in values if test(v)) / len(values) if values else 0.0


def name_implies(name: str) -> str | None:
    """The shape a column's name promises (``Time`` a time, ``email`` an address), if any."""
    n = name.strip().lower()
    if n in ("time", "hora", "datetime", "date", "fecha", "timestamp") or n.endswith(
        ("_at", "_date", " date", " time")
    ):
        return "time"
    if n in ("email", "e-mail", "email address", "mail", "correo"):
        return "e-mail address"
    if n in ("ip address", "ip", "ip_address", "dirección ip"):
        return "IP address"
    if n in ("origin", "origen"):
        return "Moodle origin"
    return None


def shuffled_header(table: Table, expected: dict[str, str] | None = None) -> str | None:
    """Why the header names do not fit the values under them, or None when they fit.

    A column whose name promises a shape (a time, an address) but whose values are not of it,
    while another column's values are, means the header was moved against its data.
    ``expected`` adds column → shape promises a format knows (Moodle's ``Origin``).
    """
    if len(table.rows) < 3:
        return None
    promises = {c: name_implies(c) for c in table.header}
    promises.update({c: s for c, s in (expected or {}).items() if c in table.header})
    for column, shape in promises.items():
        if shape is None:
            continue
        values = table.column(column)
        holders = [
            other
            for other in table.header
            if other != column
            and len(table.column(other)) >= 3
            and _share(table.column(other), SHAPES[shape]) >= 0.8
        ]
        # An empty column is normal (no end date yet) unless the format says it is never empty
        # and its values sit in another column.
        empty_but_elsewhere = not values and column in (expected or {}) and holders
        if not empty_but_elsewhere and (len(values) < 3 or _share(values, SHAPES[shape]) >= 0.5):
            continue
        holds = (
            f"holds values like {', '.join(repr(v) for v in values[:2])}" if values else "is empty"
        )
        where = f"; values of that kind are under {', '.join(repr(h) for h in holders[:2])}"
        return (
            f"column {column!r} should hold a {shape} but {holds}{where if holders else ''}: the "
            "header does not match its data (columns moved or a row missing); fix the header, or "
            "export the file again"
        )
    if "Moodle origin" not in (expected or {}).values():
        return None
    for column in table.header:
        if promises.get(column) == "Moodle origin":
            continue
        values = table.column(column)
        if len(values) >= 3 and _share(values, is_origin) >= 0.9:
            return (
                f"column {column!r} holds Moodle origins ({', '.join(repr(v) for v in values[:2])}"
                "), not its own values: the header does not match its data (columns moved); "
                "fix the header, or export the file again"
            )
    return None
