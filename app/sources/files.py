"""Reading one table file (CSV, gzipped CSV or Parquet) into raw strings, with clear failures.

A file that cannot be read at all is a *table-level* problem (the whole import fails); this
module turns each way a file can be broken into one
:class:`~app.sources.validation_report.Problem` naming the file and the rule, never a traceback.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from app.core.errors import UserError
from app.sources.validation_report import Problem

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def table_file_name(path: Path) -> tuple[str, str] | None:
    """(table name, suffix) for ``people.csv``, ``activity.csv.gz``, ``x.parquet``; else None."""
    name = path.name
    for suffix in TABLE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return None


def _problem(path: Path, rule: str, message: str, table: str) -> Problem:
    return Problem(file=path.name, table=table, rule=rule, message=message)


def read_table_file(
    path: Path,
    *,
    table: str = "",
    delimiter: str = ",",
    encoding: str = "utf-8",
    header: bool = True,
) -> tuple[pd.DataFrame | None, Problem | None]:
    """The file's rows with every cell a string (empty = null), or the problem that stops it.

    CSV is read with ``dtype=str`` so identifiers such as ``007`` keep their leading zeros;
    column names are trimmed of surrounding blanks. ``header=False`` reads a CSV without a
    header row: every line is data and the columns are named ``0``, ``1``, ...
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, _problem(path, "missing_table", f"cannot be read: {exc.strerror}", table)
    if size == 0:
        return None, _problem(
            path, "empty_file", "is empty (0 bytes); a table needs at least its header row", table
        )
    if path.name.endswith(".parquet"):
        return _read_parquet(path, table)
    return _read_csv(path, table, delimiter=delimiter, encoding=encoding, header=header)


def read_table_file_or_raise(
    path: Path, *, table: str = "", delimiter: str = ",", encoding: str = "utf-8"
) -> pd.DataFrame:
    """:func:`read_table_file` for an importer: the rows, or a UserError naming file and problem."""
    frame, problem = read_table_file(path, table=table, delimiter=delimiter, encoding=encoding)
    if problem is not None:
        raise UserError(str(problem))
    assert frame is not None
    return frame


def _read_parquet(path: Path, table: str) -> tuple[pd.DataFrame | None, Problem | None]:
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(4)
        fh.seek(max(size - 4, 0))
        tail = fh.read(4)
    if size < 8 or head != PARQUET_MAGIC or tail != PARQUET_MAGIC:
        what = "truncated" if head == PARQUET_MAGIC else "not Parquet"
        return None, _problem(
            path,
            "bad_parquet",
            f"is not a readable Parquet file ({what}: it must start and end with 'PAR1')",
            table,
        )
    try:
        frame = pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        return None, _problem(
            path, "bad_parquet", f"is not a readable Parquet file: {exc}".strip(), table
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.reset_index(drop=True), None


def _header_names(
    path: Path, *, delimiter: str, encoding: str, compression: str | None
) -> list[str]:
    """The header row's names as written (pandas renames a repeated name to ``name.1``)."""
    opener = gzip.open if compression == "gzip" else open
    with opener(path, "rt", encoding=encoding, errors="replace", newline="") as fh:
        for row in csv.reader(fh, delimiter=delimiter):
            if any(cell.strip() for cell in row):
                return [cell.strip() for cell in row]
    return []


def _read_csv_as_text(
    path: Path, *, delimiter: str, compression: str | None, **parser: Any
) -> pd.DataFrame:
    # Both parsers must read alike: every cell a string, only an empty cell null (so "NA" and
    # "null" stay text, and ids such as 007 keep their zeros).
    return pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        sep=delimiter,
        compression=compression,
        **parser,
    )


def _read_csv_fast(
    path: Path, *, delimiter: str, encoding: str, compression: str | None, header: bool = True
) -> pd.DataFrame | None:
    """Read with pyarrow's multi-threaded parser (2-3x faster on big files), or None.

    Any failure returns None: the C parser then re-reads the file, because its errors say
    precisely what is wrong and where (line numbers, byte offsets).
    """
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return None
    try:
        frame = _read_csv_as_text(
            path,
            delimiter=delimiter,
            compression=compression,
            engine="pyarrow",
            **({} if header else {"header": None}),
        )
    except Exception:  # any failure: the C parser re-reads and diagnoses it
        return None
    if frame.columns.empty or any(not str(c).strip() for c in frame.columns):
        return None  # blank header cells: let the C parser decide what the file is
    return frame


def _read_csv(
    path: Path, table: str, *, delimiter: str, encoding: str, header: bool = True
) -> tuple[pd.DataFrame | None, Problem | None]:
    compression: str | None = None
    if path.name.endswith(".gz"):
        with path.open("rb") as fh:
            if fh.read(2) != GZIP_MAGIC:
                return None, _problem(
                    path, "not_gzip", "ends in .gz but is not gzip-compressed", table
                )
        compression = "gzip"
    frame = _read_csv_fast(
        path, delimiter=delimiter, encoding=encoding, compression=compression, header=header
    )
    try:
        if frame is None:
            frame = _read_csv_as_text(
                path,
                delimiter=delimiter,
                compression=compression,
                encoding=encoding,
                encoding_errors="strict",
                skip_blank_lines=True,
                **({} if header else {"header": None}),
            )
    except UnicodeDecodeError as exc:
        return None, _problem(
            path,
            "not_utf8",
            f"is not {encoding.upper()} text (byte 0x{exc.object[exc.start]:02x} near offset "
            f"{exc.start} of the decoded block); save it as UTF-8",
            table,
        )
    except pd.errors.EmptyDataError:
        return None, _problem(path, "empty_file", "holds no header row", table)
    except pd.errors.ParserError as exc:
        return None, _problem(path, "bad_csv", f"is not well-formed CSV: {exc}".strip(), table)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        return None, _problem(
            path, "not_gzip", f"is a damaged gzip file ({exc or 'truncated'})", table
        )
    except (csv.Error, ValueError, OSError) as exc:
        return None, _problem(path, "bad_csv", f"cannot be read as CSV: {exc}", table)
    if not header:
        frame.columns = [str(i) for i in range(len(frame.columns))]
        return frame, None
    try:
        names = _header_names(path, delimiter=delimiter, encoding=encoding, compression=compression)
    except csv.Error as exc:  # e.g. a header cell longer than the csv module's field limit
        return None, _problem(
            path, "bad_csv", f"has a header row that cannot be read: {exc}", table
        )
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        return None, _problem(
            path,
            "bad_csv",
            f"the header names {', '.join(map(repr, doubled))} more than once; "
            "each column needs its own name",
            table,
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    unnamed = [c for c in frame.columns if c.startswith("Unnamed: ")]
    if unnamed and frame[unnamed].isna().all().all():
        # A trailing delimiter on every line adds an empty, nameless column; drop it.
        frame = frame.drop(columns=unnamed)
    return frame, None
