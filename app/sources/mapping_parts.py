"""The pieces of a mapping that compute values: templates, row filters, null tokens, day offsets.

Each piece is parsed once from the mapping file (a clear UserError naming where it is wrong) and
applied to a whole column at once. Regular expressions run on RE2 (through pyarrow), whose time is
linear in the text, so no pattern and no cell can freeze the server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from app.core.errors import UserError

FILTER_OPERATORS = ("equals", "not_equals", "in", "not_in", "matches")
MAX_PATTERN = 500
_WHOLE_DAYS = re.compile(r"[+-]?\d{1,6}")


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Template:
    """Text with ``{column}`` placeholders (``{{`` and ``}}`` for literal braces)."""

    text: str
    pieces: tuple[tuple[str, bool], ...]  # (literal text, False) or (column name, True)

    @property
    def columns(self) -> tuple[str, ...]:
        """The source columns the template names, in order, each once."""
        return tuple(dict.fromkeys(p for p, is_column in self.pieces if is_column))


def parse_template(text: str, where: str) -> Template:
    """The template in ``text``; UserError naming ``where`` when a brace is unmatched."""
    pieces: list[tuple[str, bool]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "{}" and text[i : i + 2] in ("{{", "}}"):
            literal.append(ch)
            i += 2
        elif ch == "{":
            end = text.find("}", i + 1)
            inner = text[i + 1 : end] if end != -1 else ""
            if end == -1 or "{" in inner:
                raise UserError(
                    f"{where}: the '{{' at character {i + 1} has no matching '}}' "
                    "(write '{{' for a literal brace)"
                )
            if not inner.strip():
                raise UserError(f"{where}: '{{}}' at character {i + 1} names no column")
            if literal:
                pieces.append(("".join(literal), False))
                literal = []
            pieces.append((inner, True))
            i = end + 1
        elif ch == "}":
            raise UserError(
                f"{where}: the '}}' at character {i + 1} closes nothing "
                "(write '}}' for a literal brace)"
            )
        else:
            literal.append(ch)
            i += 1
    if literal:
        pieces.append(("".join(literal), False))
    template = Template(text=text, pieces=tuple(pieces))
    if not template.columns:
        raise UserError(
            f"{where}: {text!r} names no {{column}}; a fixed value belongs in [constants]"
        )
    return template


def render_template(frame: pd.DataFrame, template: Template) -> pd.Series:
    """The template filled in for every row; empty where any column it names is empty."""
    out = pd.Series("", index=frame.index, dtype="str")
    empty = pd.Series(False, index=frame.index)
    for piece, is_column in template.pieces:
        if is_column:
            cell = frame[piece].astype("str").str.strip()
            empty |= cell.isna() | (cell == "")
            out = out + cell.fillna("")
        else:
            out = out + piece
    return out.mask(empty)


# --------------------------------------------------------------------------- row filters


@dataclass(frozen=True)
class RowFilter:
    """Keep the rows whose ``column`` passes: equals, not_equals, in, not_in or matches."""

    column: str
    operator: str
    values: tuple[str, ...]

    def describe(self) -> str:
        """The filter in words, for reports."""
        shown = ", ".join(repr(v) for v in self.values)
        return f"{self.column} {self.operator.replace('_', ' ')} {shown}"


def check_pattern(pattern: str, where: str) -> None:
    """UserError naming ``where`` unless ``pattern`` is a regular expression RE2 accepts."""
    if len(pattern) > MAX_PATTERN:
        raise UserError(f"{where}: the pattern is {len(pattern)} characters; keep it under 500")
    try:
        pc.match_substring_regex(pa.array([""]), _anchored(pattern))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise UserError(
            f"{where}: {pattern!r} is not a regular expression Gapdesk can use ({exc})"
        ) from None


def _anchored(pattern: str) -> str:
    return f"^(?:{pattern})$"


def parse_filter(entry: object, where: str) -> RowFilter:
    """A RowFilter from ``{column = "...", <operator> = ...}``; UserError naming ``where``."""
    if not isinstance(entry, dict):
        raise UserError(f'{where} must be a table such as {{ column = "role", in = ["student"] }}')
    column = entry.get("column")
    if not isinstance(column, str) or not column.strip():
        raise UserError(f'{where} needs column = "<source column>"')
    unknown = sorted(set(entry) - {"column", *FILTER_OPERATORS})
    if unknown:
        raise UserError(
            f"{where}: unknown key {unknown[0]!r}; a filter has column and one of "
            + ", ".join(FILTER_OPERATORS)
        )
    operators = [op for op in FILTER_OPERATORS if op in entry]
    if len(operators) != 1:
        raise UserError(
            f"{where} (column {column!r}) needs exactly one of {', '.join(FILTER_OPERATORS)}"
        )
    op = operators[0]
    raw = entry[op]
    if op in ("in", "not_in"):
        if not isinstance(raw, list) or not raw or not all(isinstance(v, str) for v in raw):
            raise UserError(f"{where} (column {column!r}): {op} must be a list of text values")
        values = tuple(raw)
    else:
        if not isinstance(raw, str):
            raise UserError(f"{where} (column {column!r}): {op} must be a text value")
        values = (raw,)
    if op == "matches":
        check_pattern(raw, f"{where} (column {column!r})")
    return RowFilter(column=column, operator=op, values=values)


def filter_mask(column: pd.Series, row_filter: RowFilter) -> pd.Series:
    """Which rows pass ``row_filter`` (compared after trimming blanks; an empty cell passes
    only ``not_equals`` and ``not_in``)."""
    text = column.astype("str").str.strip()
    present = text.notna()
    op = row_filter.operator
    if op == "matches":
        matched = pc.match_substring_regex(
            pa.array(text.fillna(""), pa.string()), _anchored(row_filter.values[0])
        )
        hit = pd.Series(matched.to_numpy(zero_copy_only=False), index=column.index)
        return present & hit.astype(bool)
    inside = text.isin(list(row_filter.values)) & present
    if op in ("equals", "in"):
        return inside
    return ~inside


# --------------------------------------------------------------------------- null tokens


def check_tokens(value: object, where: str) -> tuple[str, ...]:
    """A list of null tokens from the mapping file; UserError naming ``where`` otherwise."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f'{where} must be a list of text values, e.g. ["\\\\N", "NULL", "-"]')
    if any(len(v) > 100 for v in value):
        raise UserError(f"{where}: a null token must be under 100 characters")
    return tuple(dict.fromkeys(value))


def blank_null_tokens(
    frame: pd.DataFrame, everywhere: Sequence[str], per_column: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """``frame`` with cells equal to a null token (after trimming blanks) made empty."""
    if not everywhere and not per_column:
        return frame
    out = frame.copy()
    for column in out.columns:
        tokens = [*everywhere, *per_column.get(str(column), ())]
        if tokens:
            text = out[column].astype("str").str.strip()
            out[column] = out[column].mask(text.isin(tokens))
    return out


# --------------------------------------------------------------------------- day offsets


@dataclass(frozen=True)
class DayOffset:
    """A date counted in whole days from an anchor: one ``anchor``, or one per value of ``by``.

    ``column`` holds the days (may be negative); without it the date is the anchor itself.
    """

    column: str | None = None
    anchor: str | None = None
    by: str | None = None
    anchors: dict[str, str] = field(default_factory=dict)

    @property
    def source_columns(self) -> tuple[str, ...]:
        """The source columns this offset reads."""
        return tuple(c for c in (self.column, self.by) if c)


def _check_date(value: object, where: str) -> str:
    if not isinstance(value, str):
        value = str(value)  # TOML dates arrive as datetime.date
    try:
        stamp = pd.Timestamp(value.strip())
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise UserError(f"{where}: {value!r} is not an ISO 8601 date such as 2013-10-01")
    return value.strip()


def parse_day_offset(entry: object, where: str) -> DayOffset:
    """A DayOffset from ``{column = ..., anchor = ...}`` or ``{..., by = ..., anchors = {...}}``."""
    if not isinstance(entry, dict):
        raise UserError(
            f'{where} must be a table such as {{ column = "date", anchor = "2013-10-01" }}'
        )
    unknown = sorted(set(entry) - {"column", "anchor", "by", "anchors"})
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r}; use column, anchor, by, anchors")
    column = entry.get("column")
    if column is not None and (not isinstance(column, str) or not column.strip()):
        raise UserError(f"{where}: column must name the source column holding the days")
    if ("anchor" in entry) == ("by" in entry or "anchors" in entry):
        raise UserError(f'{where} needs either anchor = "<date>", or by and anchors (not both)')
    if "anchor" in entry:
        return DayOffset(column=column, anchor=_check_date(entry["anchor"], f"{where} anchor"))
    by, anchors = entry.get("by"), entry.get("anchors")
    if not isinstance(by, str) or not by.strip():
        raise UserError(f"{where}: by must name the source column that picks the anchor")
    if not isinstance(anchors, dict) or not anchors:
        raise UserError(f"{where}: anchors must be a table of {by} values to dates")
    checked = {str(k): _check_date(v, f"{where} anchors.{k}") for k, v in anchors.items()}
    return DayOffset(column=column, by=by, anchors=checked)


@dataclass
class OffsetResult:
    """Dates from day offsets, as ISO text, and the rows whose days or anchor were unusable."""

    values: pd.Series
    not_whole_days: pd.Series
    no_anchor: pd.Series


def apply_day_offset(frame: pd.DataFrame, offset: DayOffset, *, as_date: bool) -> OffsetResult:
    """The date (``YYYY-MM-DD``) or midnight UTC timestamp of each row; empty days stay empty."""
    index = frame.index
    if offset.column is not None:
        text = frame[offset.column].astype("str").str.strip()
        empty = text.isna() | (text == "")
        whole = text.str.fullmatch(_WHOLE_DAYS.pattern).fillna(False).astype(bool)
        days = pd.to_numeric(text.where(whole), errors="coerce")
        not_whole = ~empty & ~whole
    else:
        days = pd.Series(0, index=index, dtype="float64")
        empty = not_whole = pd.Series(False, index=index)
    if offset.anchor is not None:
        anchor = pd.Series(_utc(offset.anchor), index=index)
        no_anchor = pd.Series(False, index=index)
    else:
        assert offset.by is not None
        key = frame[offset.by].astype("str").str.strip()
        stamps = {k: _utc(v) for k, v in offset.anchors.items()}
        anchor = pd.to_datetime(key.map(stamps), utc=True)
        no_anchor = anchor.isna() & ~empty & ~not_whole
    when = anchor + pd.to_timedelta(days, unit="D")
    fmt = "%Y-%m-%d" if as_date else "%Y-%m-%dT%H:%M:%SZ"
    values = when.dt.strftime(fmt).astype("str")
    return OffsetResult(values=values, not_whole_days=not_whole, no_anchor=no_anchor)


def _utc(text: str) -> pd.Timestamp:
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
