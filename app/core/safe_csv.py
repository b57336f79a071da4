"""Writing tables and exports for people: CSV (formula-like cells defused) or JSON lines.

Data keeps a cell such as ``=HYPERLINK(...)`` exactly as it arrived (it is evidence). Only when a
table leaves Gapdesk as CSV for a spreadsheet is it defused (OWASP's advice against CSV
injection), so Excel or LibreOffice show it as text instead of evaluating it.

The rule: a ``'`` goes before every ``=``, ``+``, ``-`` or ``@`` that starts the cell or follows
a character a spreadsheet may split cells on (``,`` ``;`` ``|`` tab, CR, LF), with only spaces
between; a cell starting with a tab or CR gets one too. A spreadsheet that opens the file with
another separator (``;`` in many locales) or a paste that splits on tabs then still finds no
formula: ``ok;=1+1`` becomes ``ok;'=1+1``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import pandas as pd

# Leading characters that make spreadsheets treat a cell as a formula (tab and CR included).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Where a spreadsheet may start a new cell inside ours: the start, or after a separator.
CELL_SPLITS = ",;|\t\r\n"
_FORMULA_AT_A_CELL_START = re.compile(r"(^|[" + re.escape(CELL_SPLITS) + r"])( *)(?=[=+\-@])")
_LEADING_CONTROL = re.compile(r"^(?=[\t\r])")
_RISKY = re.compile(r"(?:^|[" + re.escape(CELL_SPLITS) + r"]) *[=+\-@]|^[\t\r]")


def neutralise_text(text: str) -> str:
    """``text`` with a ``'`` before every formula start a spreadsheet could see (module rule)."""
    if not _RISKY.search(text):
        return text
    text = _FORMULA_AT_A_CELL_START.sub(r"\1\2'", text)
    return _LEADING_CONTROL.sub("'", text)


def neutralise_csv_cell(value: Any) -> Any:
    """``value`` defused if it is text a spreadsheet would run as a formula (module rule)."""
    if isinstance(value, str):
        return neutralise_text(value)
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text columns are neutralised (numbers stay numbers)."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_string_dtype(column) or column.dtype == object:
            text = column.astype("str")
            risky = text.str.contains(_RISKY, regex=True).fillna(False).astype(bool)
            if risky.any():
                out[name] = text.where(~risky, text[risky].map(neutralise_text))
    return out


def write_safe_csv(frame: pd.DataFrame, target: Path | IO[str]) -> None:
    """Write ``frame`` as UTF-8 CSV for spreadsheets, with formula-like cells neutralised.

    Lines end in CRLF (RFC 4180): with a bare LF, a cell holding a lone CR is written unquoted
    and a spreadsheet starts a new row there, bringing the rest of the cell to a row's start.
    """
    neutralise_frame(frame).to_csv(target, index=False, lineterminator="\r\n")


def write_rows(
    rows: Iterable[dict[str, Any]], columns: Sequence[str], out: IO[str], fmt: str
) -> int:
    """Write ``rows`` in ``fmt`` ('csv' or 'jsonl'); returns how many were written."""
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        # Cells stay as they are in Gapdesk; only the CSV copy is defused for spreadsheets.
        writer.writerow([neutralise_csv_cell("" if row[c] is None else row[c]) for c in columns])
        count += 1
    return count
