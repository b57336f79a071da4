"""A large table validated a chunk at a time and written to Parquet as it goes, never held whole.

:func:`validate_stream` gives, for a table handed over as chunks (a Moodle log's activity,
``app.sources.activity_parts``), what :func:`app.sources.validate.validate_tables` gives for the
same rows in one frame: the same typed rows, problems (row numbers count the whole table, as a
file of it would: the header is row 1), quarantined rows and their reasons. Each chunk is typed
and checked by :func:`app.sources.table_checks.check_table` on its own (rows numbered by their
place in the whole table); its references are checked against the key sets of the small tables
they name (``lms_users``, ``courses``: validated whole before it); its good rows are appended
to one Parquet file in the work folder, a row group per chunk. What needs the whole table is
done without it:

* uniqueness of the id column: every row's id (and its row number) goes to a side file, and
  DuckDB groups them out of core; only the repeated ids come back;
* the latest timestamp (for ``as_of``) and the categories of the evidence columns, in the
  order they first appear, are kept as the chunks go by (a few values).

In quarantine, rows that broke a rule are set aside chunk by chunk (held, like the whole-file
path holds them); rows with a repeated id are set aside after the pass, which then rewrites the
file without them (only when there are any). Nothing is stored here: the store moves the file
into the snapshot's folder once everything is accepted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from app.sources.contract import TABLES, Table
from app.sources.table_checks import check_table, row_problems

# Rows of the side file of ids DuckDB groups; and the rows of a row group rewritten.
_ID_BATCH = 1_000_000


class ChunkSource(Protocol):
    """A table given as chunks: its columns (every chunk has them, in this order) and the
    chunks, read afresh on each call."""

    columns: list[str]

    def chunks(self) -> Iterator[pd.DataFrame]: ...


@dataclass
class StreamedTable:
    """A validated table on disk: its Parquet file (a row group per chunk), row count, columns,
    the categories of its categorical columns over the whole table, its latest timestamp."""

    name: str
    path: Path
    rows: int
    columns: list[str]
    categories: dict[str, pd.Index] = field(default_factory=dict)
    latest: pd.Timestamp | None = None

    def row_groups(self) -> Iterator[pd.DataFrame]:
        """The table a row group at a time, categoricals over the whole table's categories."""
        if not self.rows:
            return
        reader = pq.ParquetFile(self.path)
        for i in range(reader.num_row_groups):
            yield self._uniform(reader.read_row_group(i).to_pandas())

    def _uniform(self, frame: pd.DataFrame) -> pd.DataFrame:
        for name, cats in self.categories.items():
            frame[name] = frame[name].cat.set_categories(cats)
        return frame

    def empty_frame(self) -> pd.DataFrame:
        """No rows, the table's dtypes (for its schema)."""
        reader = pq.ParquetFile(self.path)
        frame = reader.schema_arrow.empty_table().to_pandas()
        return self._uniform(frame)

    def windows(self, rows: int) -> Iterator[pd.DataFrame]:
        """The table in frames of exactly ``rows`` rows (the last shorter), in order."""
        held: list[pd.DataFrame] = []
        count = 0
        for group in self.row_groups():
            held.append(group)
            count += len(group)
            while count >= rows:
                joined = pd.concat(held, ignore_index=True) if len(held) > 1 else held[0]
                yield joined.iloc[:rows].reset_index(drop=True)
                rest = joined.iloc[rows:].reset_index(drop=True)
                held, count = ([rest] if len(rest) else []), len(rest)
        if count:
            yield pd.concat(held, ignore_index=True) if len(held) > 1 else held[0]

    def frame(self) -> pd.DataFrame:
        """The whole table in memory (small tables and tests only)."""
        if not self.rows:
            return self.empty_frame()
        return pd.concat(list(self.row_groups()), ignore_index=True)


@dataclass
class StreamCheck:
    """What :func:`validate_stream` found: the table (None when a required column is missing),
    the problems' frames, the rows set aside (quarantine), and the rows that went only because
    a row they name was set aside."""

    table: StreamedTable | None
    found: list[pd.DataFrame]
    quarantined: pd.DataFrame | None = None
    followed: int = 0


def _reasons(group: pd.DataFrame) -> pd.Series:
    """Row number → its problems as the whole-file path words them for quarantine."""
    rows = group["row"].astype("int64")
    text = (
        group["rule"] + ": " + group["column"].astype("str") + "="
        + group["value"].astype("str").fillna("").str.slice(0, 80)
    )  # fmt: skip
    return group.assign(reason=text).groupby(rows)["reason"].agg("; ".join)


def _dedupe(problems: pd.DataFrame) -> pd.DataFrame:
    """As ``validate_tables`` does: a value that did not parse is reported once, as wrong_type."""
    problems = problems.drop_duplicates(["table", "row", "column", "rule"])
    return problems[~problems.duplicated(["table", "row", "column"], keep="first")]


def _final(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    from app.sources.validate import final_dtypes

    return final_dtypes(frame, table)


class _Writer:
    """Appends typed chunks to one Parquet file (dictionary indices widened to int32 so that a
    chunk with more categories fits the file's schema)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.schema is None:
            fields = [
                pa.field(f.name, pa.dictionary(pa.int32(), f.type.value_type))
                if pa.types.is_dictionary(f.type) else f
                for f in table.schema
            ]  # fmt: skip
            self.schema = pa.schema(fields, metadata=table.schema.metadata)
            self.writer = pq.ParquetWriter(self.path, self.schema)
        assert self.writer is not None
        self.writer.write_table(table.cast(self.schema))

    def close(self, empty: pd.DataFrame) -> None:
        if self.writer is None:  # no rows at all: a file of the table's columns
            empty.to_parquet(self.path, index=False)
            return
        self.writer.close()


def _merge_categories(held: dict[str, pd.Index], frame: pd.DataFrame) -> None:
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            cats = frame[name].cat.categories
            if name not in held:
                held[name] = cats
            elif len(new := cats[~cats.isin(held[name])]):
                held[name] = held[name].append(new)


def validate_stream(
    name: str,
    source: ChunkSource,
    *,
    columns: list[str],
    file: str,
    folder: Path,
    targets: Mapping[str, pd.DataFrame],
    target_bad_rows: Mapping[str, set[int]],
    quarantine: bool,
    formats: Mapping[str, str] | None = None,
) -> StreamCheck:
    """Check table ``name`` given as ``source``'s chunks (all with ``columns``) and write its
    rows to a Parquet file in ``folder``; ``targets`` are the typed tables its references name and
    ``target_bad_rows`` their rows set aside (row numbers)."""
    from app.sources.validate import reference_problems

    contract = TABLES[name]
    carried = contract.carried(columns)
    key = contract.id_column
    per_chunk = replace(
        carried, columns=tuple(replace(c, unique=False) if c.name == key else c
                               for c in carried.columns)
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    out = _Writer(folder / f"{name}.parquet")
    ids_path = folder / f".{name}-ids.parquet"
    ids_writer: pq.ParquetWriter | None = None
    found: list[pd.DataFrame] = []
    held: list[pd.DataFrame] = []
    removed: list[np.ndarray] = []  # row numbers set aside, in order (file rows → table rows)
    categories: dict[str, pd.Index] = {}
    raw_categories: dict[str, pd.Index] = {}
    latest: pd.Timestamp | None = None
    stamps = [c.name for c in carried.columns if c.type == "timestamp"]
    offset = kept = followed = 0
    empty: pd.DataFrame | None = None
    for chunk in source.chunks():
        raw = chunk.reset_index(drop=True)
        raw.index = pd.RangeIndex(offset, offset + len(raw))
        offset += len(raw)
        typed, chunk_found = check_table(raw, per_chunk, file, formats or {}, 0)
        typed_tables = {**targets, name: typed}
        chunk_found += reference_problems(
            typed_tables, {name: raw}, {name: file}, target_bad_rows, quarantine, only=name
        )
        if empty is None:
            empty = typed.iloc[:0]
        if key in typed:
            ids = pa.table({"id": pa.array(typed[key], type=pa.string(), from_pandas=True),
                            "row": pa.array(raw.index.to_numpy() + 2, pa.int64())})  # fmt: skip
            if ids_writer is None:
                ids_writer = pq.ParquetWriter(ids_path, ids.schema)
            ids_writer.write_table(ids)
        _merge_categories(categories, typed)
        _merge_categories(raw_categories, raw)
        problems = _dedupe(pd.concat(chunk_found, ignore_index=True)) if chunk_found else None
        if problems is not None and len(problems):
            found.append(problems)
        good = typed
        if quarantine and problems is not None and len(problems):
            problems = problems.sort_values("row", kind="stable")
            reasons = _reasons(problems)
            bad = np.isin(raw.index.to_numpy() + 2, reasons.index.to_numpy())
            part = raw[bad].copy()
            part.insert(0, "_row", part.index + 2)
            part["_reasons"] = reasons.reindex(part["_row"]).to_numpy()
            held.append(part.reset_index(drop=True))
            removed.append(part["_row"].to_numpy())
            only = problems.groupby(problems["row"].astype("int64"))["rule"].agg(
                lambda r: bool((r == "reference_set_aside").all())
            )
            followed += int(only.sum())
            good = typed[~bad]
        if problems is None or not len(problems) or quarantine:
            good = _final(good, carried)
        if len(good):
            for column in stamps:
                value = good[column].max()
                if pd.notna(value) and (latest is None or value > latest):
                    latest = value
            out.write(good.reset_index(drop=True))
            kept += len(good)
    if ids_writer is not None:
        ids_writer.close()
    out.close(_final(empty, carried) if empty is not None else pd.DataFrame(columns=columns))
    table = StreamedTable(name, out.path, kept, list(columns), categories, latest)
    repeated = _repeated_ids(ids_path) if ids_path.exists() else pd.DataFrame()
    ids_path.unlink(missing_ok=True)
    if len(repeated):
        dup = row_problems(
            repeated["id"].set_axis(repeated["row"] - 2), np.ones(len(repeated), bool),
            file=file, table=name, column=key, rule="duplicate_id",
        )  # fmt: skip
        found.append(dup)
        if quarantine:
            _set_aside_repeated(
                table, dup, held, np.concatenate(removed) if removed else None, source
            )
    for part in held:  # the whole table's categories, as a slice of the whole table has them
        for column, cats in {**raw_categories, **categories}.items():
            if column in part and isinstance(part[column].dtype, pd.CategoricalDtype):
                part[column] = part[column].cat.set_categories(cats)
    quarantined = pd.concat(held, ignore_index=True) if held else None
    if quarantined is not None:
        quarantined = quarantined.sort_values("_row", kind="stable").reset_index(drop=True)
    return StreamCheck(table, found, quarantined, followed)


def _repeated_ids(path: Path) -> pd.DataFrame:
    """Every row (number, id) whose id appears more than once, grouped by DuckDB on disk."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET preserve_insertion_order = false")
        return con.execute(
            "WITH ids AS (SELECT * FROM read_parquet(?)), "
            "rep AS (SELECT id FROM ids WHERE id IS NOT NULL GROUP BY id HAVING count(*) > 1) "
            "SELECT ids.row, ids.id FROM ids JOIN rep USING (id) ORDER BY ids.row",
            [str(path)],
        ).df()
    finally:
        con.close()


def _set_aside_repeated(
    table: StreamedTable,
    dup: pd.DataFrame,
    held: list[pd.DataFrame],
    removed: np.ndarray | None,
    source: ChunkSource,
) -> None:
    """Quarantine the rows of repeated ids: rows already set aside take the reason along, the
    others leave the file (rewritten without them) and are read again from ``source``, as
    given."""
    reasons = _reasons(dup)
    for part in held:
        extra = reasons.reindex(part["_row"])
        hit = extra.notna().to_numpy()
        part.loc[hit, "_reasons"] = part.loc[hit, "_reasons"] + "; " + extra[hit].to_numpy()
    removed = np.sort(removed) if removed is not None else np.zeros(0, np.int64)
    leaving = reasons.index[~np.isin(reasons.index.to_numpy(), removed)].to_numpy()
    if not len(leaving):
        return
    written = pq.ParquetFile(table.path)
    rewritten = _Writer(table.path.with_name(f".{table.name}-rewritten.parquet"))
    file_row = 0
    kept = 0
    for i in range(written.num_row_groups):
        group = written.read_row_group(i).to_pandas()
        positions = np.arange(file_row, file_row + len(group))
        file_row += len(group)
        # The table row of each file row: file rows skip the rows set aside before them.
        rows = positions + 2
        rows = rows + np.searchsorted(removed, rows, side="right")
        while True:  # a row set aside at or before the shifted number shifts it further
            again = positions + 2 + np.searchsorted(removed, rows, side="right")
            if (again == rows).all():
                break
            rows = again
        out = np.isin(rows, leaving)
        if (~out).any():
            rewritten.write(group[~out].reset_index(drop=True))
            kept += int((~out).sum())
    rewritten.close(table.empty_frame())
    rewritten.path.replace(table.path)
    table.rows = kept
    offset = 0
    for chunk in source.chunks():
        rows = np.arange(offset, offset + len(chunk)) + 2
        offset += len(chunk)
        out = np.isin(rows, leaving)
        if out.any():
            part = chunk.reset_index(drop=True)[out].copy()
            part.insert(0, "_row", rows[out])
            part["_reasons"] = reasons.reindex(part["_row"]).to_numpy()
            held.append(part.reset_index(drop=True))
