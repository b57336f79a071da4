"""A Moodle Logs download read and converted in chunks: the raw log is never held whole.

:func:`stream_moodle_log` gives what :func:`app.sources.moodle.moodle_log_tables` gives for the
same file read whole (:func:`app.sources.moodle_columns.read_log_csv`): the same tables, values,
categories and event ids, so the stored snapshot and its content hash do not depend on the chunk
size. It reads the file twice with pyarrow's streaming CSV reader, a chunk of record batches at a
time:

1. the distinct times and event contexts only (a log repeats its minutes and contexts), for
   what is the whole log's to decide: which course its events belong to and whether numeric
   dates are day first;
2. every column, a chunk of ``chunk_rows`` rows at a time, each converted by
   ``moodle_log_tables`` as a log of its own (the log's course names given), with its row
   numbers in warnings shifted to the file's.

What crosses chunks is merged with bounded state: the users (first name in log order, last
login), counts and warnings. Event ids need the ordinal of each row among identical rows of the
whole log: the rows' 128-bit hashes (16 bytes a row) are kept and numbered once at the end, as
the whole-file path numbers them. The converted activity itself is held (typed, categorical
evidence columns) and handed on as one frame.

Only an English, UTF-8 (BOM or not), comma-separated CSV is streamed, as ``read_log_csv`` reads
it; other shapes are read whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from app.sources import moodle_shapes
from app.sources.moodle import moodle_log_tables
from app.sources.moodle_columns import event_ids
from app.sources.result import ImportReport, ImportResult

# Rows converted at a time; memory of a chunk's conversion is about 300 bytes a row.
CHUNK_ROWS = 1_000_000
_BLOCK_BYTES = 16 << 20
_ROW_NUMBER = re.compile(r"\brow (\d+)\b")
_COUNT = re.compile(r"^(\d+) ")


def _open(
    path: Path, compressed: bool, columns: list[str] | None = None
) -> pcsv.CSVStreamingReader:
    source = pa.input_stream(str(path), compression="gzip" if compressed else None)
    read = pcsv.ReadOptions(block_size=_BLOCK_BYTES, encoding="utf8")
    header = pcsv.open_csv(source, read_options=read).schema.names
    source.close()
    convert = pcsv.ConvertOptions(
        column_types={c: pa.string() for c in header}, null_values=[""],
        strings_can_be_null=True, quoted_strings_can_be_null=True, include_columns=columns,
    )  # fmt: skip
    parse = pcsv.ParseOptions(newlines_in_values=True)
    again = pa.input_stream(str(path), compression="gzip" if compressed else None)
    return pcsv.open_csv(again, read_options=read, parse_options=parse, convert_options=convert)


def _names(header: list[str]) -> list[str]:
    return [str(c).strip().lstrip("\ufeff").strip() for c in header]


def log_header(path: Path, compressed: bool) -> list[str] | None:
    """The log's column names as ``read_log_csv`` names them, or None when it cannot stream."""
    try:
        reader = _open(path, compressed)
        names = _names(reader.schema.names)
        reader.close()
    except (pa.ArrowException, OSError, ValueError):
        return None
    if not names or any(not n for n in names) or len(set(names)) != len(names):
        return None
    return names


def _chunks(path: Path, compressed: bool, chunk_rows: int, columns: list[str] | None = None
            ) -> Iterator[pa.Table]:  # fmt: skip
    """The log in tables of about ``chunk_rows`` rows (whole record batches), in file order."""
    reader = _open(path, compressed, columns)
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        held.append(batch)
        count += batch.num_rows
        while count >= chunk_rows:
            table = pa.Table.from_batches(held, reader.schema)
            yield table.slice(0, chunk_rows)
            rest = table.slice(chunk_rows)
            held, count = rest.to_batches(), rest.num_rows
    if count or not held:
        yield pa.Table.from_batches(held, reader.schema)


def _frame(table: pa.Table, names: list[str]) -> pd.DataFrame:
    """A chunk as ``read_log_csv`` gives a log: each column a categorical of its text."""
    columns = {
        name: table.column(i).dictionary_encode().to_pandas() for i, name in enumerate(names)
    }
    return pd.DataFrame(columns)


def _distinct_texts(path: Path, compressed: bool, raw: list[str], chunk_rows: int) -> pd.DataFrame:
    """Pass 1: the distinct values of ``raw`` columns, in the order they first appear."""
    seen: dict[str, dict[str, None]] = {c: {} for c in raw}
    nulls = dict.fromkeys(raw, False)
    for table in _chunks(path, compressed, chunk_rows, raw):
        for name in raw:
            column = table.column(name)
            nulls[name] |= column.null_count > 0
            for value in pc.unique(column.drop_null()).to_pylist():
                seen[name].setdefault(value, None)
    width = max((len(v) for v in seen.values()), default=0)
    return pd.DataFrame(
        {name: pd.Series([*values, *([None] * (width - len(values)))], dtype=object)
         for name, values in seen.items()}
    )  # fmt: skip


def _shift_rows(text: str, offset: int) -> str:
    return _ROW_NUMBER.sub(lambda m: f"row {int(m.group(1)) + offset}", text)


def _merge_messages(messages: list[str]) -> list[str]:
    """Warnings of the chunks as one log's: counts added up, the first example kept."""
    out: dict[str, tuple[int, str]] = {}
    for text in messages:
        match = _COUNT.match(text)
        key = _ROW_NUMBER.sub(
            "row", re.sub(r"\(first: .*?\)|\(e\.g\. .*?\)", "", text[match.end() if match else 0 :])
        )
        count = int(match.group(1)) if match else 0
        if key in out:
            total, first = out[key]
            out[key] = (total + count, first)
        else:
            out[key] = (count, text)
    merged = []
    for count, first in out.values():
        merged.append(_COUNT.sub(f"{count} ", first, count=1) if _COUNT.match(first) else first)
    return merged


def _categorical(parts: list[pd.Series]) -> pd.Series:
    """One categorical of the chunks' pieces, categories in the order they first appear."""
    cats = [pd.Categorical(p) for p in parts]
    typed = [c.categories.dtype for c in cats if len(c.categories)]
    if typed:  # a chunk of nulls alone has categories of another dtype: none to keep
        cats = [
            pd.Categorical.from_codes(c.codes, categories=c.categories.astype(typed[0]))
            for c in cats
        ]
    return pd.Series(pd.api.types.union_categoricals(cats, sort_categories=False))


def _concat_activity(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The chunks' activity as one frame laid out as the whole-file conversion lays it out
    (one Arrow chunk per text column, categoricals over the whole log's categories)."""
    first = parts[0]
    columns: dict[str, pd.Series] = {}
    for name in list(first.columns):
        pieces = [p[name] for p in parts]
        if isinstance(first[name].dtype, pd.CategoricalDtype):
            columns[name] = _categorical(pieces)
            del pieces
            for p in parts:
                del p[name]
            continue
        joined = pd.concat(pieces, ignore_index=True)
        array = getattr(joined, "array", None)
        arrow = getattr(array, "_pa_array", None)
        if arrow is not None:  # an Arrow-backed text column: one contiguous chunk
            combined = pa.chunked_array([arrow.combine_chunks()])
            mapper = {combined.type: joined.dtype}.get
            joined = pd.Series(combined.to_pandas(types_mapper=mapper), name=name)
        columns[name] = joined
        del pieces, joined
        for p in parts:  # free each column of the chunks once it is joined: not held twice
            del p[name]
    return pd.DataFrame(columns)


def _merge_users(parts: list[pd.DataFrame]) -> pd.DataFrame:
    users = pd.concat(parts, ignore_index=True)
    named = "full_name" in users.columns
    agg: dict[str, str] = {"status": "first", "last_login_at": "max"}
    if named:
        agg = {"full_name": "first", **agg}
    merged = users.groupby("user_id", sort=True).agg(agg).reset_index()
    merged["user_id"] = merged["user_id"].astype("str")
    if named:
        merged["full_name"] = merged["full_name"].astype("str")
    merged["last_login_at"] = merged["last_login_at"].astype("datetime64[us, UTC]")
    return merged[list(parts[0].columns)]


@dataclass
class StreamedLog:
    """A log converted in chunks: the conversion, the log's column names, the day-first reading
    inferred from its times (None when they prove nothing), whether any time is a numeric date,
    and the event names left out by design."""

    result: ImportResult
    columns: list[str]
    day_first: bool | None
    numeric_dates: bool
    ignored: set[str]


def stream_moodle_log(
    path: Path,
    *,
    compressed: bool,
    source: str,
    year: int | None,
    tz: str,
    day_first: bool | None,
    chunk_rows: int = CHUNK_ROWS,
) -> StreamedLog:
    """Convert the log at ``path`` chunk by chunk, as ``moodle_log_tables`` converts it whole
    (``day_first`` None: inferred from the whole log's times). Raises ValueError when the file
    cannot be read in chunks (the caller then reads it whole)."""
    names = log_header(path, compressed)
    if names is None:
        raise ValueError(f"{source} cannot be read in chunks")
    raw = _open(path, compressed).schema.names
    by_name = dict(zip(names, raw, strict=True))
    wanted = [by_name[c] for c in ("Time", "Event context") if c in by_name]
    texts = _distinct_texts(path, compressed, wanted, chunk_rows)
    inferred, numeric = day_first, False
    if "Time" in by_name:
        times = texts[by_name["Time"]].dropna().astype("str")
        numeric = bool(times.str.match(r"^\s*\d+/\d+/").any())
        if day_first is None:
            inferred = moodle_shapes.infer_day_first(times)
    course_names: list[str] | None = None
    if "Event context" in by_name:
        contexts = texts[by_name["Event context"]].dropna().astype("str")
        found = contexts.str.extract(r"^Course:\s*(.+)$")[0].str.strip().dropna()
        course_names = list(pd.unique(found))

    hashes: list[tuple[np.ndarray, np.ndarray]] = []
    activity: list[pd.DataFrame] = []
    users: list[pd.DataFrame] = []
    courses: pd.DataFrame | None = None
    report = ImportReport(source=source)
    counts: dict[str, int] = {}
    warnings: list[str] = []
    ignored: set[str] = set()
    offset = 0
    for table in _chunks(path, compressed, chunk_rows):
        frame, ignored = moodle_shapes.english_frame(_frame(table, names))
        part = moodle_log_tables(
            frame, source=source, year=year, tz=tz, day_first=inferred is not False,
            course_names=course_names, hashes=hashes,
        )  # fmt: skip
        for key, value in part.report.counts.items():
            counts[key] = counts.get(key, 0) + int(value)
        for note in part.report.notes:
            if note not in report.notes:
                report.notes.append(note)
        warnings.extend(_shift_rows(w, offset) for w in part.report.warnings)
        activity.append(part.tables["activity"])
        users.append(part.tables["lms_users"])
        courses = part.tables["courses"] if courses is None else courses
        offset += len(frame)
    assert courses is not None
    h1 = np.concatenate([h for h, _ in hashes]) if hashes else np.zeros(0, np.uint64)
    h2 = np.concatenate([h for _, h in hashes]) if hashes else np.zeros(0, np.uint64)
    del hashes
    merged = _concat_activity(activity)
    del activity
    merged["event_id"] = event_ids("moodle", h1, h2)
    tables = {"activity": merged, "lms_users": _merge_users(users), "courses": courses}
    counts["lms_users revealed"] = len(tables["lms_users"])
    counts["courses revealed"] = len(courses)
    report.counts = _ordered_counts(counts)
    report.warnings = _merge_messages(warnings)
    result = ImportResult(tables=tables, report=report)
    return StreamedLog(result, names, inferred, numeric, ignored)


def _ordered_counts(counts: dict[str, int]) -> dict[str, int]:
    """Counts in the order the whole-file conversion gives them (unmapped names by count)."""
    plain = {k: v for k, v in counts.items() if not k.startswith("unmapped: ")}
    unmapped = sorted(
        ((k, v) for k, v in counts.items() if k.startswith("unmapped: ")), key=lambda kv: -kv[1]
    )
    head = ("log rows", "events mapped", "events unmapped")
    out = {k: plain.pop(k) for k in head if k in plain}
    out.update(unmapped)
    out.update(plain)
    return out
