"""The first worksheet of an Excel ``.xlsx`` file as rows of text, with the standard library only.

Moodle's "Download table data as Microsoft Excel" writes every cell as a shared string; other
spreadsheets write numbers and inline strings too. Cells are read in place (``r="C7"``), so a row
with empty cells keeps its columns; numbers stay as Excel wrote them (a date may be a serial day
number, which the importer of that format interprets).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

# The bundled expat (2.4+) refuses entity-expansion bombs and never fetches external entities,
# so the standard parser is safe on a workbook an admin uploads.
from xml.etree.ElementTree import iterparse

from app.core.errors import UserError

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_CELL_REF = re.compile(r"^([A-Z]+)\d+$")


def is_xlsx(path: Path) -> bool:
    """Whether ``path`` is a zip holding an Excel workbook."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _column_index(ref: str) -> int | None:
    match = _CELL_REF.match(ref)
    if not match:
        return None
    index = 0
    for letter in match.group(1):
        index = index * 26 + (ord(letter) - 64)
    return index - 1


def _text_of(element: object) -> str:
    # Rich text splits a string into runs, each with its own <t>.
    return "".join(t.text or "" for t in element.iter(f"{_NS}t"))  # type: ignore[attr-defined]


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in archive.namelist():
        return []
    strings: list[str] = []
    with archive.open("xl/sharedStrings.xml") as fh:
        for _, element in iterparse(fh):  # noqa: S314
            if element.tag == f"{_NS}si":
                strings.append(_text_of(element))
                element.clear()
    return strings


def _first_sheet(archive: zipfile.ZipFile) -> str:
    names = archive.namelist()
    try:
        with archive.open("xl/workbook.xml") as fh:
            found = (e for _, e in iterparse(fh) if e.tag == f"{_NS}sheet")  # noqa: S314
            sheet = next(found)
        rel_id = sheet.get(f"{_REL_NS}id")
        with archive.open("xl/_rels/workbook.xml.rels") as fh:
            for _, e in iterparse(fh):  # noqa: S314
                if e.get("Id") == rel_id:
                    target = str(e.get("Target", "")).lstrip("/")
                    return target if target.startswith("xl/") else f"xl/{target}"
    except (KeyError, StopIteration):
        pass
    listed = sorted(n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml"))
    if not listed:
        raise UserError("the Excel file holds no worksheet")
    return listed[0]


def iter_xlsx_rows(path: Path, *, limit: int | None = None) -> Iterator[list[str]]:
    """The first worksheet's rows (each a list of cell texts); at most ``limit`` rows."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{path.name} is not a readable Excel file: {exc}") from None
    with archive:
        strings = _shared_strings(archive)
        sheet = _first_sheet(archive)
        produced = 0
        with archive.open(sheet) as fh:
            for _, element in iterparse(fh):  # noqa: S314
                if element.tag != f"{_NS}row":
                    continue
                cells: dict[int, str] = {}
                for position, cell in enumerate(element.iter(f"{_NS}c")):
                    index = _column_index(cell.get("r", "")) if cell.get("r") else position
                    kind = cell.get("t")
                    value = cell.find(f"{_NS}v")
                    raw = value.text or "" if value is not None else ""
                    if kind == "s" and raw.isdigit() and int(raw) < len(strings):
                        text = strings[int(raw)]
                    elif kind == "inlineStr":
                        text = _text_of(cell)
                    elif kind == "b":
                        text = "true" if raw == "1" else "false"
                    else:
                        text = raw
                    cells[index if index is not None else position] = text
                element.clear()
                width = max(cells) + 1 if cells else 0
                row = [cells.get(i, "") for i in range(width)]
                if any(c.strip() for c in row):
                    yield row
                    produced += 1
                    if limit is not None and produced >= limit:
                        return
