"""Bring any CSV into contract shape with a TOML mapping file, and suggest such mappings.

A mapping file names, per contract table, which source column feeds which contract column,
how enum values are spelled in the source, the strptime format of date columns, and constants for
columns the source lacks::

    invalid_rows = "quarantine"        # or "reject" (the default): set bad rows aside

    [people]
    file = "hr_roster.csv"             # optional; default people.csv
    delimiter = ";"                    # optional; default ","
    encoding = "utf-8"                 # optional; default utf-8

    [people.columns]                   # source column = contract column
    "Employee ID" = "person_id"
    "Start date" = "hire_date"

    [people.values.employment_status] # source value = contract value ("" = empty)
    "Active" = "active"
    "On leave" = "leave"

    [people.formats]                   # contract column = strptime format
    hire_date = "%d/%m/%Y"

    [people.constants]                 # contract column = value, for columns the source lacks
    employment_status = "active"

:func:`suggest_mapping` proposes the ``columns`` section from column names and sample values; the
Data page shows its guesses and :func:`dump_mapping` writes the result for reuse.
"""

from __future__ import annotations

import codecs
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from app.core.errors import UserError
from app.sources.contract import FALSE_WORDS, TABLES, TRUE_WORDS, Column
from app.sources.files import read_table_file_or_raise
from app.sources.result import ImportReport, ImportResult

if TYPE_CHECKING:
    from app.sources.validation_report import ValidationReport

INVALID_ROWS = ("reject", "quarantine")
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


@dataclass
class SnapshotMapping:
    """Table mappings for a snapshot folder, and what to do with invalid rows."""

    tables: dict[str, TableMapping] = field(default_factory=dict)
    invalid_rows: str = "reject"


def _str_dict(value: Any, where: str, origin: str = "mapping") -> dict[str, str]:
    if not isinstance(value, dict):
        raise UserError(f"{origin}: {where} must be a table of names to values")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


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
        contract = TABLES[key]
        values = section.get("values", {})
        if not isinstance(values, dict):
            raise UserError(f"{origin}: [{key}.values] must be a table of columns")
        tm = TableMapping(
            table=key,
            columns=_str_dict(section.get("columns", {}), f"[{key}.columns]", origin),
            values={
                col: _str_dict(vals, f"[{key}.values.{col}]", origin)
                for col, vals in values.items()
            },
            formats=_str_dict(section.get("formats", {}), f"[{key}.formats]", origin),
            constants=_str_dict(section.get("constants", {}), f"[{key}.constants]", origin),
            file=str(section["file"]) if "file" in section else None,
            delimiter=str(section.get("delimiter", ",")),
            encoding=str(section.get("encoding", "utf-8")),
        )
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
        tables[key] = tm
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


def dump_mapping(mapping: SnapshotMapping) -> str:
    """The mapping as TOML text that :func:`load_mapping` reads back unchanged."""

    def q(text: str) -> str:
        if _SURROGATE.search(text):
            raise UserError(f"mapping: {text[:80]!r} is not valid Unicode (a lone surrogate)")
        # A JSON string is a TOML basic string, once DEL (which TOML wants escaped) is escaped.
        return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")

    lines = [f"invalid_rows = {q(mapping.invalid_rows)}"]
    for name, tm in mapping.tables.items():
        lines += ["", f"[{name}]"]
        if tm.file:
            lines.append(f"file = {q(tm.file)}")
        if tm.delimiter != ",":
            lines.append(f"delimiter = {q(tm.delimiter)}")
        if tm.encoding != "utf-8":
            lines.append(f"encoding = {q(tm.encoding)}")
        sections: list[tuple[str, Mapping[str, str]]] = [
            ("columns", tm.columns),
            *((f"values.{col}", vals) for col, vals in tm.values.items()),
            ("formats", tm.formats),
            ("constants", tm.constants),
        ]
        for title, entries in sections:
            if entries:
                lines += ["", f"[{name}.{title}]"]
                lines += [f"{q(k)} = {q(v)}" for k, v in entries.items()]
    return "\n".join(lines) + "\n"


def apply_table_mapping(frame: pd.DataFrame, mapping: TableMapping) -> pd.DataFrame:
    """``frame`` with mapped column names, enum spellings and constants (vectorised).

    Source columns not named in the mapping are kept as extra columns. A mapped source column
    that is absent is left absent, so validation reports the contract column as missing.
    """
    out = frame.copy()
    renames = {src: dst for src, dst in mapping.columns.items() if src in out.columns}
    # A source column already called like a mapped target would collide; the mapping wins.
    clashing = [dst for src, dst in renames.items() if dst in out.columns and dst != src]
    out = out.drop(columns=clashing).rename(columns=renames)
    for column, spellings in mapping.values.items():
        if column not in out.columns or not spellings:
            continue
        text = out[column].astype("str")
        stripped = text.str.strip()
        known = stripped.isin(list(spellings))
        mapped = stripped.map(spellings).replace("", pd.NA)
        out[column] = text.where(~known, mapped)
    for column, value in mapping.constants.items():
        if column not in out.columns:
            out[column] = pd.Series(value, index=out.index, dtype="str")
    return out


def import_mapped_csv(
    path: Path, mapping: TableMapping | Path, *, table: str | None = None
) -> ImportResult:
    """Read one CSV through a mapping into contract column names (not yet validated).

    ``mapping`` is a :class:`TableMapping` or a TOML file; with a file holding several tables,
    ``table`` says which one applies.
    """
    if not isinstance(mapping, TableMapping):
        loaded = load_mapping(Path(mapping))
        if table is None and len(loaded.tables) == 1:
            table = next(iter(loaded.tables))
        if table is None or table not in loaded.tables:
            raise UserError(
                f"mapping file {mapping} has no [{table}] section; "
                f"it maps {', '.join(loaded.tables) or 'nothing'}"
            )
        mapping = loaded.tables[table]
    frame = read_table_file_or_raise(
        Path(path), table=mapping.table, delimiter=mapping.delimiter, encoding=mapping.encoding
    )
    mapped = apply_table_mapping(frame, mapping)
    report = ImportReport(source=Path(path).name, counts={f"{mapping.table} rows": len(mapped)})
    absent = [c for c in mapping.columns if c not in frame.columns]
    if absent:
        report.warnings.append(f"source columns named in the mapping but absent: {absent}")
    contract = TABLES[mapping.table]
    if missing := contract.missing_columns(mapped.columns):
        report.warnings.append(f"contract columns still missing: {', '.join(missing)}")
    if left_out := [c for c in contract.absent_columns(mapped.columns) if c not in missing]:
        report.notes.append(f"left out, so unknown rather than empty: {', '.join(left_out)}")
    return ImportResult(tables={mapping.table: mapped}, report=report)


def preview_mapping(
    frame: pd.DataFrame, mapping: TableMapping, *, rows: int = 20
) -> tuple[pd.DataFrame, ValidationReport]:
    """The first ``rows`` mapped rows, and the validation report of the whole mapped table.

    Only this table's own rules are checked (references to other tables need the whole
    snapshot), which is what the Data page shows while a mapping is being built.
    """
    from app.sources.validate import validate_tables

    mapped = apply_table_mapping(frame, mapping)
    checked = validate_tables(
        {mapping.table: mapped},
        files={mapping.table: mapping.file or f"{mapping.table}.csv"},
        formats={mapping.table: mapping.formats},
    )
    return mapped.head(rows), checked.report


# --------------------------------------------------------------------------- suggestions


@dataclass(frozen=True)
class Suggestion:
    """A proposed source column → contract column match, how sure, and why."""

    source: str
    target: str
    score: float
    reason: str


# Words real exports use for contract columns (compared after normalising names).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "person_id": ("employeeid", "employeenumber", "empid", "hrid", "workerid", "staffid"),
    "user_id": ("userid", "username", "login", "lmsuserid", "learnerid", "accountid"),
    "course_id": ("courseid", "coursecode", "shortname", "courseshortname", "offeringid"),
    "email": ("email", "emailaddress", "mail", "workemail", "useremail"),
    "full_name": ("fullname", "name", "employeename", "displayname"),
    "department": ("department", "dept", "division", "orgunit", "costcentre", "team"),
    "job_title": ("jobtitle", "title", "position", "role", "jobname"),
    "manager_person_id": ("managerid", "manageremployeeid", "supervisorid", "reportsto"),
    "employment_status": ("employmentstatus", "status", "workerstatus", "empstatus"),
    "hire_date": ("hiredate", "startdate", "dateofhire", "joined", "joindate"),
    "termination_date": ("terminationdate", "enddate", "leavingdate", "leftdate"),
    "enrolled_at": ("enrolledat", "enrolmentdate", "enrollmentdate", "enrolled", "startdate"),
    "completed_at": ("completedat", "completiondate", "completed", "datecompleted"),
    "due_at": ("dueat", "duedate", "deadline"),
    "progress_pct": ("progress", "progresspct", "percentcomplete", "completionpercent"),
    "enrollment_id": ("enrollmentid", "enrolmentid", "registrationid"),
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _name_score(source: str, target: str) -> float:
    s = _norm(source)
    if not s:
        return 0.0
    candidates = {_norm(target), *SYNONYMS.get(target, ())}
    if s in candidates:
        return 1.0
    return max(SequenceMatcher(None, s, c).ratio() for c in candidates)


def _value_score(samples: Sequence[str], column: Column) -> float | None:
    """How well sample values fit ``column`` (0-1), or None when the samples say nothing."""
    values = [str(v).strip() for v in samples if v is not None and str(v).strip() != ""]
    if not values:
        return None
    series = pd.Series(values, dtype="str")
    if column.enum is not None:
        return float(series.str.lower().isin(column.enum).mean())
    if column.type in ("timestamp", "date"):
        parsed = pd.to_datetime(series, errors="coerce", format="mixed")
        return float(parsed.notna().mean())
    if column.type == "bool":
        return float(series.str.lower().isin(TRUE_WORDS + FALSE_WORDS).mean())
    if column.type in ("int", "float"):
        return float(pd.to_numeric(series, errors="coerce").notna().mean())
    if column.name == "email":
        return float(series.str.match(_EMAIL).mean())
    return None


def suggest_mapping(
    columns: Sequence[str],
    sample_values: Mapping[str, Sequence[str]],
    table: str,
    *,
    threshold: float = 0.55,
) -> dict[str, Suggestion]:
    """Best guess of a contract column for each source column of ``table`` (source → Suggestion).

    A score mixes name similarity (with common export synonyms) and how well sample values fit
    the contract column's type or enum; each contract column is used at most once, best first.
    """
    contract = TABLES[table]
    scored: list[Suggestion] = []
    for source in columns:
        samples = sample_values.get(source, ())
        for col in contract.columns:
            by_name = _name_score(source, col.name)
            by_value = _value_score(samples, col)
            if by_value is None:
                score, why = by_name, f"name {by_name:.0%} alike"
            else:
                score = 0.6 * by_name + 0.4 * by_value
                why = f"name {by_name:.0%} alike, {by_value:.0%} of samples fit {col.type}"
                if col.enum is not None:
                    why = f"name {by_name:.0%} alike, {by_value:.0%} of samples are known values"
                if by_value == 0 and (col.type != "str" or col.enum is not None):
                    score = min(score, by_name * 0.5)  # values that cannot fit veto the name
            scored.append(Suggestion(source, col.name, round(score, 3), why))
    scored.sort(key=lambda s: (-s.score, s.source, s.target))
    chosen: dict[str, Suggestion] = {}
    used: set[str] = set()
    for suggestion in scored:
        if suggestion.score < threshold:
            break
        if suggestion.source in chosen or suggestion.target in used:
            continue
        chosen[suggestion.source] = suggestion
        used.add(suggestion.target)
    return {c: chosen[c] for c in columns if c in chosen}
