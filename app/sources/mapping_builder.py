"""The Data page's mapping builder without its widgets: read a sample, turn what a person typed
into a :class:`TableMapping` (through the same checks as a mapping file), and say what is wrong
by line.

The page offers plain text boxes, one entry a line:

* templates and constants: ``contract column = text`` (``email = {login}@example.org``);
* filters: ``source column | operator | value[, value ...]`` with an operator of
  ``equals``, ``not_equals``, ``in``, ``not_in``, ``matches``;
* day offsets: ``contract column | days column | 2013-10-01``, or one anchor per value of another
  column: ``contract column | days column | by code_presentation | 2013J=2013-10-01, 2014B=...``;
* null tokens and a headerless file's column names: comma-separated.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from app.core.errors import UserError
from app.sources.mapping_format import TableMapping, parse_mapping
from app.sources.mapping_parts import FILTER_OPERATORS
from app.sources.text_shapes import capped_samples

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_ROWS = 5000
SAMPLE_BYTES = 20 * 1024 * 1024


@dataclass
class BuilderInput:
    """What a person chose and typed in the builder."""

    table: str
    matches: dict[str, str] = field(default_factory=dict)  # source column -> contract column
    file: str = ""
    delimiter: str = ","
    column_names: str = ""  # non-empty: the file has no header row
    nulls: str = ""
    templates: str = ""
    filters: str = ""
    day_offsets: str = ""
    constants: str = ""


def split_list(text: str) -> list[str]:
    """``a, b ,c`` → ``["a", "b", "c"]`` (empty entries dropped)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def read_mapping_sample(
    data: bytes, *, delimiter: str = ",", column_names: str = "", rows: int = SAMPLE_ROWS
) -> pd.DataFrame:
    """The first rows of an uploaded sample as text; a headerless one gets ``column_names``."""
    if not data:
        raise UserError("the uploaded file is empty (0 bytes)")
    if delimiter not in DELIMITERS:
        raise UserError(f"delimiter {delimiter!r}: use one of {', '.join(DELIMITERS.values())}")
    names = split_list(column_names)
    try:
        frame = pd.read_csv(
            io.BytesIO(data[:SAMPLE_BYTES]), dtype=str, nrows=rows, keep_default_na=False,
            sep=delimiter, header=None if names else "infer",
        )  # fmt: skip
    except UnicodeDecodeError:
        raise UserError("the file is not UTF-8 text; save it as UTF-8 CSV and try again") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise UserError(f"the file cannot be read as CSV with that delimiter: {exc}") from None
    if names:
        if len(names) != len(frame.columns):
            raise UserError(
                f"the sample has {len(frame.columns)} column(s) but the column list names "
                f"{len(names)}; list one name per column, in order"
            )
        frame.columns = names
    return frame


def sample_values(frame: pd.DataFrame, *, limit: int = 50) -> dict[str, list[str]]:
    """Capped sample values per column, for suggestions."""
    return {str(c): capped_samples(frame[c].tolist(), limit=limit) for c in frame.columns}


def _pairs(text: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{what}, line {number}: write it as 'contract column = value'")
        out[key.strip()] = value.strip()
    return out


def _filters(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|", 2)]
        if len(parts) != 3 or parts[1] not in FILTER_OPERATORS:
            raise UserError(
                f"filters, line {number}: write it as 'column | operator | values' with an "
                f"operator of {', '.join(FILTER_OPERATORS)}"
            )
        column, op, values = parts
        out.append({"column": column, op: split_list(values) if op.endswith("in") else values})
    return out


def _offsets(text: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        entry: dict[str, Any] = {"column": parts[1]} if len(parts) > 1 and parts[1] else {}
        if len(parts) == 3:
            entry["anchor"] = parts[2]
        elif len(parts) == 4 and parts[2].startswith("by "):
            entry["by"] = parts[2][3:].strip()
            anchors = dict(p.partition("=")[::2] for p in split_list(parts[3]))
            entry["anchors"] = {k.strip(): v.strip() for k, v in anchors.items()}
        else:
            raise UserError(
                f"day offsets, line {number}: write it as 'contract column | days column | "
                "2013-10-01' or 'contract column | days column | by column | key=date, ...'"
            )
        out[parts[0]] = entry
    return out


def build_table_mapping(chosen: BuilderInput) -> TableMapping:
    """The mapping the person built, checked like a mapping file (UserError naming what)."""
    optional: Mapping[str, Any] = {
        "column_names": split_list(chosen.column_names),
        "nulls": split_list(chosen.nulls),
        "templates": _pairs(chosen.templates, "templates"),
        "constants": _pairs(chosen.constants, "constants"),
        "filters": _filters(chosen.filters),
        "day_offsets": _offsets(chosen.day_offsets),
    }
    # A column typed in as a template, day offset or constant wins over a suggested match.
    typed = {*optional["templates"], *optional["constants"], *optional["day_offsets"]}
    section: dict[str, Any] = {
        "columns": {s: t for s, t in chosen.matches.items() if t and t not in typed},
        "delimiter": chosen.delimiter,
    }
    if chosen.file.strip():
        section["file"] = chosen.file.strip()
    section.update({k: v for k, v in optional.items() if v})
    return parse_mapping({chosen.table: section}, origin="mapping").tables[chosen.table]
