"""The mapping file format (TOML): what it may say, read with a clear message, written back.

The README's "Mapping files" section documents it for people, with examples. Every key is checked
when the file is read: a wrong one is refused with a message naming the table, the key and what
was wrong, before any data is read.
"""

from __future__ import annotations

import codecs
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from app.core.errors import UserError
from app.sources.contract import TABLES
from app.sources.mapping_join import Join, parse_joins, parse_unique
from app.sources.mapping_parts import (
    DayOffset,
    RowFilter,
    Template,
    check_tokens,
    parse_day_offset,
    parse_filter,
    parse_template,
)

INVALID_ROWS = ("reject", "quarantine")
TABLE_KEYS = (
    "file", "delimiter", "encoding", "column_names", "nulls", "filters",
    "columns", "templates", "day_offsets", "values", "formats", "constants", "column_nulls",
    "join", "unique",
)  # fmt: skip
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class TableMapping:
    """How one source file becomes one contract table."""

    table: str
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    file: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8"
    # contract column = template over source columns, e.g. "{module}-{presentation}"
    templates: dict[str, Template] = field(default_factory=dict)
    # keep only the rows that pass every filter (on source columns, before anything else)
    filters: list[RowFilter] = field(default_factory=list)
    # cells that mean "empty": in every column, and per source column
    nulls: tuple[str, ...] = ()
    column_nulls: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # a file without a header row: the names of its columns, in order
    column_names: tuple[str, ...] = ()
    # contract date or timestamp column = whole days from an anchor date
    day_offsets: dict[str, DayOffset] = field(default_factory=dict)
    # left joins of other files of the folder, on key columns (mapping_join)
    joins: list[Join] = field(default_factory=list)
    # "first" / "last": rows repeating the table's identifier are folded into one
    unique: str | None = None

    def joined_columns(self) -> set[str]:
        """The columns the joins bring in from other files."""
        return {c for join in self.joins for c in join.columns}

    def source_columns(self) -> set[str]:
        """Every source column the mapping reads (renamed, templated, filtered, offset)."""
        named = set(self.columns)
        for template in self.templates.values():
            named |= set(template.columns)
        named |= {f.column for f in self.filters}
        for offset in self.day_offsets.values():
            named |= set(offset.source_columns)
        for join in self.joins:
            named |= set(join.on)
        return named


@dataclass
class SnapshotMapping:
    """Table mappings for a snapshot folder, and what to do with invalid rows."""

    tables: dict[str, TableMapping] = field(default_factory=dict)
    invalid_rows: str = "reject"


def check_file_name(value: object, where: str) -> str:
    """``value`` if it is a plain data-file name (no folder, no ``..``, not hidden, not TOML).

    A mapping may only name a file inside the snapshot folder it is applied to; anything else
    would let a mapping read any file the server can (security issue 15, item 1).
    """
    name = value if isinstance(value, str) else ""
    why = ""
    if not name.strip():
        why = "is empty"
    elif "\x00" in name:
        why = "holds a NUL character"
    elif (
        PurePosixPath(name).is_absolute()
        or PureWindowsPath(name).is_absolute()
        or (PureWindowsPath(name).drive)
    ):
        why = "is an absolute path"
    elif "/" in name or "\\" in name:
        why = "names a folder"
    elif name in (".", "..") or name.startswith("."):
        why = "is a hidden file or a folder"
    elif name.lower().endswith(".toml"):
        why = "is a TOML file, not a data file"
    if why:
        shown = repr(name[:120]) if isinstance(value, str) else repr(type(value).__name__)
        raise UserError(
            f"{where}: file = {shown} {why}; a mapping's file must be the plain name of a data "
            'file inside the snapshot folder, such as "hr_roster.csv"'
        )
    return name


def _str_dict(value: Any, where: str, origin: str = "mapping") -> dict[str, str]:
    if not isinstance(value, dict):
        raise UserError(f"{origin}: {where} must be a table of names to values")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UserError(f"{where} must be a list of column names, in the file's order")
    names = tuple(v.strip() for v in value)
    if any(not n for n in names):
        raise UserError(f"{where}: column {names.index('') + 1} has no name")
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise UserError(f"{where} names {', '.join(map(repr, doubled))} more than once")
    return names


def _table_mapping(key: str, section: dict[str, Any], origin: str) -> TableMapping:
    where = f"{origin}: [{key}]"
    if unknown := [k for k in section if k not in TABLE_KEYS]:
        raise UserError(
            f"{where} has an unknown key {unknown[0]!r}; known: {', '.join(TABLE_KEYS)}"
        )
    values = section.get("values", {})
    if not isinstance(values, dict):
        raise UserError(f"{origin}: [{key}.values] must be a table of columns")
    templates = _str_dict(section.get("templates", {}), f"[{key}.templates]", origin)
    offsets = section.get("day_offsets", {})
    if not isinstance(offsets, dict):
        raise UserError(f"{origin}: [{key}.day_offsets] must be a table of contract columns")
    filters = section.get("filters", [])
    if not isinstance(filters, list):
        raise UserError(f"{where} filters must be a list ([[{key}.filters]] tables)")
    column_nulls = section.get("column_nulls", {})
    if not isinstance(column_nulls, dict):
        raise UserError(f"{origin}: [{key}.column_nulls] must be a table of source columns")
    tm = TableMapping(
        table=key,
        columns=_str_dict(section.get("columns", {}), f"[{key}.columns]", origin),
        values={
            col: _str_dict(vals, f"[{key}.values.{col}]", origin) for col, vals in values.items()
        },
        formats=_str_dict(section.get("formats", {}), f"[{key}.formats]", origin),
        constants=_str_dict(section.get("constants", {}), f"[{key}.constants]", origin),
        file=check_file_name(section["file"], where) if "file" in section else None,
        delimiter=str(section.get("delimiter", ",")),
        encoding=str(section.get("encoding", "utf-8")),
        templates={
            col: parse_template(text, f"{origin}: [{key}.templates] {col}")
            for col, text in templates.items()
        },
        filters=[
            parse_filter(entry, f"{origin}: [{key}] filter {n}")
            for n, entry in enumerate(filters, 1)
        ],
        nulls=check_tokens(section.get("nulls", []), f"{where} nulls"),
        column_nulls={
            str(col): check_tokens(tokens, f"{origin}: [{key}.column_nulls] {col}")
            for col, tokens in column_nulls.items()
        },
        column_names=(
            _names(section["column_names"], f"{where} column_names")
            if "column_names" in section
            else ()
        ),
        day_offsets={
            str(col): parse_day_offset(entry, f"{origin}: [{key}.day_offsets] {col}")
            for col, entry in offsets.items()
        },
        joins=parse_joins(section["join"], f"{where} join") if "join" in section else [],
        unique=parse_unique(section["unique"], where) if "unique" in section else None,
    )
    _check_table_mapping(tm, origin)
    return tm


def _check_table_mapping(tm: TableMapping, origin: str) -> None:
    key, contract = tm.table, TABLES[tm.table]
    if len(tm.delimiter) != 1 or tm.delimiter in '\x00"\r\n':
        raise UserError(
            f"{origin}: [{key}] delimiter must be one character other than a quote, "
            "NUL or a line break"
        )
    try:
        text_encoding = codecs.lookup(tm.encoding)._is_text_encoding
    except LookupError:
        text_encoding = False
    if not text_encoding:
        raise UserError(
            f"{origin}: [{key}] encoding {tm.encoding!r} is not a known text encoding "
            "(e.g. utf-8, cp1252, latin-1)"
        ) from None
    named = {
        **{t: f"[{key}.columns] value" for t in tm.columns.values()},
        **{c: f"[{key}.templates]" for c in tm.templates},
        **{c: f"[{key}.day_offsets]" for c in tm.day_offsets},
        **{c: f"[{key}.values]" for c in tm.values},
        **{c: f"[{key}.formats]" for c in tm.formats},
        **{c: f"[{key}.constants]" for c in tm.constants},
    }
    for target, where in named.items():
        if target not in contract.column_names:
            raise UserError(
                f"{origin}: {where} names {target!r}, which is not a column of {key} "
                f"({', '.join(contract.column_names)})"
            )
    targets = list(tm.columns.values())
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise UserError(
            f"{origin}: [{key}.columns] maps several source columns onto {', '.join(doubled)}"
        )
    fillers = {
        "columns": set(targets),
        "templates": set(tm.templates),
        "day_offsets": set(tm.day_offsets),
        "constants": set(tm.constants),
    }
    kinds = list(fillers)
    for i, first in enumerate(kinds):
        for second in kinds[i + 1 :]:
            if both := sorted(fillers[first] & fillers[second]):
                raise UserError(
                    f"{origin}: {key}.{both[0]} is filled by both [{key}.{first}] and "
                    f"[{key}.{second}]; keep one"
                )
    for column in tm.day_offsets:
        if contract.column(column).type not in ("date", "timestamp"):
            raise UserError(
                f"{origin}: [{key}.day_offsets] {column} is a {contract.column(column).type} "
                "column; day offsets make dates, for date and timestamp columns only"
            )
        if column in tm.formats:
            raise UserError(
                f"{origin}: {key}.{column} has both a day offset and a format; day offsets "
                "already make ISO dates, so remove the format"
            )
    if tm.column_names:
        unknown = sorted(
            c
            for c in tm.source_columns()
            if c not in tm.column_names and c not in tm.joined_columns()
        )
        unknown += sorted(c for c in tm.column_nulls if c not in tm.column_names)
        if unknown:
            raise UserError(
                f"{origin}: [{key}] reads column {unknown[0]!r}, which column_names does not "
                f"list ({', '.join(tm.column_names)})"
            )


def parse_mapping(data: Mapping[str, Any], *, origin: str = "mapping") -> SnapshotMapping:
    """A :class:`SnapshotMapping` from parsed TOML; UserError naming the wrong key otherwise."""
    invalid_rows = str(data.get("invalid_rows", "reject"))
    if invalid_rows not in INVALID_ROWS:
        raise UserError(
            f"{origin}: invalid_rows = {invalid_rows!r}; use one of {', '.join(INVALID_ROWS)}"
        )
    tables: dict[str, TableMapping] = {}
    for key, section in data.items():
        if key == "invalid_rows":
            continue
        if key not in TABLES:
            raise UserError(
                f"{origin}: [{key}] is not a contract table; known: {', '.join(TABLES)}"
            )
        if not isinstance(section, dict):
            raise UserError(f"{origin}: [{key}] must be a table")
        tables[key] = _table_mapping(key, section, origin)
    return SnapshotMapping(tables=tables, invalid_rows=invalid_rows)


def load_mapping(path: Path) -> SnapshotMapping:
    """Read a TOML mapping file; UserError with the file name and reason when it is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"mapping file {path} does not exist") from None
    except UnicodeDecodeError:
        raise UserError(f"mapping file {path} is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"mapping file {path} is not valid TOML: {exc}") from None
    return parse_mapping(data, origin=path.name)


def _q(text: str) -> str:
    if _SURROGATE.search(text):
        raise UserError(f"mapping: {text[:80]!r} is not valid Unicode (a lone surrogate)")
    # A JSON string is a TOML basic string, once DEL (which TOML wants escaped) is escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _inline(entries: Mapping[str, object]) -> str:
    parts = []
    for key, value in entries.items():
        if isinstance(value, Mapping):
            shown = _inline(value)
        elif isinstance(value, list | tuple):
            shown = "[" + ", ".join(_q(str(v)) for v in value) + "]"
        else:
            shown = _q(str(value))
        parts.append(f"{_q(key)} = {shown}")
    return "{ " + ", ".join(parts) + " }"


def _offset_entry(offset: DayOffset) -> dict[str, object]:
    entry: dict[str, object] = {}
    if offset.column:
        entry["column"] = offset.column
    if offset.anchor is not None:
        entry["anchor"] = offset.anchor
    else:
        entry["by"] = offset.by or ""
        entry["anchors"] = offset.anchors
    return entry


def dump_mapping(mapping: SnapshotMapping) -> str:
    """The mapping as TOML text that :func:`load_mapping` reads back unchanged."""
    lines = [f"invalid_rows = {_q(mapping.invalid_rows)}"]
    for name, tm in mapping.tables.items():
        lines += ["", f"[{name}]"]
        if tm.file:
            lines.append(f"file = {_q(tm.file)}")
        if tm.delimiter != ",":
            lines.append(f"delimiter = {_q(tm.delimiter)}")
        if tm.encoding != "utf-8":
            lines.append(f"encoding = {_q(tm.encoding)}")
        if tm.unique:
            lines.append(f"unique = {_q(tm.unique)}")
        if tm.joins:
            lines.append("join = [" + ", ".join(_inline(j.entry()) for j in tm.joins) + "]")
        if tm.column_names:
            lines.append("column_names = [" + ", ".join(map(_q, tm.column_names)) + "]")
        if tm.nulls:
            lines.append("nulls = [" + ", ".join(map(_q, tm.nulls)) + "]")
        if tm.filters:
            shown = [
                _inline({"column": f.column, f.operator: _filter_value(f)}) for f in tm.filters
            ]
            lines.append("filters = [" + ", ".join(shown) + "]")
        sections: list[tuple[str, Mapping[str, str]]] = [
            ("columns", tm.columns),
            ("templates", {c: t.text for c, t in tm.templates.items()}),
            *((f"values.{col}", vals) for col, vals in tm.values.items()),
            ("formats", tm.formats),
            ("constants", tm.constants),
        ]
        for title, entries in sections:
            if entries:
                lines += ["", f"[{name}.{title}]"]
                lines += [f"{_q(k)} = {_q(v)}" for k, v in entries.items()]
        if tm.column_nulls:
            lines += ["", f"[{name}.column_nulls]"]
            lines += [
                f"{_q(c)} = [" + ", ".join(map(_q, tokens)) + "]"
                for c, tokens in tm.column_nulls.items()
            ]
        if tm.day_offsets:
            lines += ["", f"[{name}.day_offsets]"]
            lines += [f"{_q(c)} = {_inline(_offset_entry(o))}" for c, o in tm.day_offsets.items()]
    return "\n".join(lines) + "\n"


def _filter_value(row_filter: RowFilter) -> object:
    if row_filter.operator in ("in", "not_in"):
        return list(row_filter.values)
    return row_filter.values[0]
