"""Column work for large Moodle logs: read each column once, compute on its distinct values.

A Moodle log repeats itself: a few hundred users, a few dozen contexts and event names, and
times to the minute (at most 525,600 a year) over millions of rows. So :func:`read_log_csv`
reads a log's columns dictionary-encoded (pandas categoricals, with pyarrow's multi-threaded
parser), and :func:`distinct` gives any column as codes into its distinct values, in the order
they first appear: the importer trims, parses and maps the distinct values once and spreads the
answers back to the rows by code. :func:`row_event_ids` hashes the rows the same way, per
distinct value of each column.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

_BLOCK_BYTES = 16 << 20
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' "str"


def read_log_csv(path: Path, *, compressed: bool) -> pd.DataFrame | None:
    """A UTF-8, comma-separated log with every column a categorical of its text (empty = null),
    or None when pyarrow cannot read it alike (the caller's reader then diagnoses the file).

    Reads as :func:`app.sources.files.read_table_file` does: every cell text, only an empty cell
    null, column names trimmed of blanks and of a byte-order mark.
    """
    try:
        source = pa.input_stream(str(path), compression="gzip" if compressed else None)
        read = pcsv.ReadOptions(block_size=_BLOCK_BYTES, encoding="utf8")
        with source:
            header = pcsv.open_csv(source, read_options=read).schema.names
        names = [str(c).strip().lstrip("\ufeff").strip() for c in header]
        if not names or any(not n for n in names) or len(set(names)) != len(names):
            return None
        text = pa.dictionary(pa.int32(), pa.string())
        # Quoted values may hold line breaks (descriptions, names): slower to split, but exact.
        parse = pcsv.ParseOptions(newlines_in_values=True)
        convert = pcsv.ConvertOptions(
            column_types={c: text for c in header}, null_values=[""],
            strings_can_be_null=True, quoted_strings_can_be_null=True,
        )  # fmt: skip
        with pa.input_stream(str(path), compression="gzip" if compressed else None) as again:
            table = pcsv.read_csv(
                again, read_options=read, parse_options=parse, convert_options=convert
            )
    except (pa.ArrowException, OSError, ValueError):
        return None
    frame = table.to_pandas()
    frame.columns = names
    return frame


def distinct(values: pd.Series, *, ordered: bool = True) -> tuple[np.ndarray, pd.Series]:
    """(codes, uniques): ``values`` is ``uniques.take(codes)``, null among the uniques when the
    column has nulls. With ``ordered`` the uniques are in the order they first appear (what a
    first-come choice needs); without, a categorical's own order (one pass less)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw = values.cat.codes.to_numpy()
        categories = values.cat.categories.array
        if not ordered:
            none = len(categories)
            codes = np.where(raw < 0, none, raw).astype(_code_type(none + 1), copy=False)
            every = np.append(np.arange(none), -1)
            return codes, pd.Series(categories.take(every, allow_fill=True))
    else:
        raw, found = pd.factorize(values.to_numpy(dtype=object) if values.dtype == object
                                  else values.array, use_na_sentinel=True)  # fmt: skip
        categories = found if isinstance(found, pd.api.extensions.ExtensionArray) else (
            pd.array(found, dtype=values.dtype)
        )  # fmt: skip
    codes, first = pd.factorize(raw)
    uniques = categories.take(first, allow_fill=True)
    return codes.astype(_code_type(len(first)), copy=False), pd.Series(uniques)


def _code_type(count: int) -> type[np.signedinteger]:
    return np.int32 if count < 2**31 else np.int64


def spread(uniques: pd.Series, codes: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """``uniques`` taken by ``codes``: one value per row (with ``index`` when given)."""
    out = pd.Series(uniques.array.take(codes), name=uniques.name)
    if index is not None:
        out.index = index
    return out


def spread_categorical(uniques: pd.Series, codes: np.ndarray) -> pd.Series:
    """:func:`spread` as a categorical: a column of few distinct texts in a few bytes a row."""
    inverse, categories = pd.factorize(uniques.array, use_na_sentinel=True)
    inverse = inverse.astype(_code_type(len(categories)), copy=False)
    return pd.Series(pd.Categorical.from_codes(inverse[codes], categories=categories))


# A 64-bit mix (splitmix64's finaliser) and two odd multipliers for the per-column combination.
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_P1, _P2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)


def _mix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


def _value_words(uniques: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Two 64-bit words of the SHA-1 of each distinct value's text (null hashes as empty)."""
    texts = uniques.astype("str").fillna("")
    digests = [hashlib.sha1(t.encode(), usedforsecurity=False).digest() for t in texts]
    words = np.frombuffer(b"".join(d[:16] for d in digests), dtype=">u8").astype(np.uint64)
    return words[0::2].copy(), words[1::2].copy()


# Byte -> its two hex digits.
_HEX_PAIRS = np.frombuffer(
    b"".join(f"{b:02x}".encode() for b in range(256)), dtype=np.uint8
).reshape(256, 2)


def _hex_digits(words: np.ndarray, digits: int) -> np.ndarray:
    """The first ``digits`` (even) hex digits of each 64-bit word, as an (n, digits) uint8 array."""
    big_endian = words.astype(">u8").view(np.uint8).reshape(-1, 8)[:, : digits // 2]
    return _HEX_PAIRS[big_endian].reshape(-1, digits)


_ID_CHUNK_ROWS = 1_000_000


def _formatted(prefix: str, h1: np.ndarray, h2: np.ndarray, ordinal: np.ndarray) -> pa.Array:
    """``<prefix>-<16 hex digits of h1><4 of h2>-<ordinal>`` as an Arrow string array."""
    start = len(prefix) + 1
    width = start + 21
    digits = np.empty((len(h1), width), dtype=np.uint8)
    digits[:, :start] = np.frombuffer(f"{prefix}-".encode(), dtype=np.uint8)
    digits[:, start : start + 16] = _hex_digits(h1, 16)
    digits[:, start + 16 : start + 20] = _hex_digits(h2, 4)
    digits[:, start + 20] = ord("-")
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(h1), [None, pa.py_buffer(digits)]
    )
    head = pc.cast(pc.cast(fixed, pa.binary()), pa.string())
    return pc.binary_join_element_wise(head, pc.cast(pa.array(ordinal), pa.string()), "")


def row_hashes(
    frame: pd.DataFrame,
    keep: np.ndarray,
    known: dict[str, tuple[np.ndarray, pd.Series]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The two 64-bit hashes of the text of each row where ``keep`` (every column, in order;
    null as empty): what :func:`event_ids` numbers. A row's hashes depend on its text alone, so
    a log hashed in chunks gives the same as hashed whole."""
    known = known or {}
    n = len(frame)
    h1 = np.full(n, np.uint64(len(frame.columns)), dtype=np.uint64)
    h2 = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in frame.columns:
            codes, uniques = known.get(name) or distinct(frame[name], ordered=False)
            w1, w2 = _value_words(uniques)
            h1 = h1 * _P1 + w1[codes]
            h2 = h2 * _P2 + w2[codes]
        h1, h2 = _mix(h1), _mix(h2 ^ h1)
    rows = np.flatnonzero(keep)
    return h1[rows], h2[rows]


def event_ids(prefix: str, h1: np.ndarray, h2: np.ndarray) -> pd.Series:
    """``<prefix>-<20 hex digits>-<ordinal>`` for rows hashed by :func:`row_hashes`, in order:
    the ordinal counts earlier identical rows, so identical rows get distinct ids."""
    repeated = pd.Series(h1).duplicated(keep=False).to_numpy()
    ordinal = np.zeros(len(h1), dtype=np.int64)
    if repeated.any():
        pairs = pd.DataFrame({"a": h1[repeated], "b": h2[repeated]})
        ordinal[repeated] = pairs.groupby(["a", "b"], sort=False).cumcount().to_numpy()
    chunks = [
        _formatted(prefix, h1[part], h2[part], ordinal[part])
        for part in np.array_split(np.arange(len(h1)), max(1, -(-len(h1) // _ID_CHUNK_ROWS)))
    ]
    ids = pa.chunked_array(chunks, type=pa.string())
    return pd.Series(ids.to_pandas(types_mapper={pa.string(): TEXT}.get))


def row_event_ids(
    frame: pd.DataFrame,
    keep: np.ndarray,
    prefix: str,
    known: dict[str, tuple[np.ndarray, pd.Series]] | None = None,
) -> pd.Series:
    """``<prefix>-<20 hex digits>-<ordinal>`` for the rows where ``keep``: the digits hash the
    row's text (every column, in order; null as empty), the ordinal counts earlier identical
    rows, so the same log imported twice gives the same ids and identical rows distinct ones.
    ``known`` holds columns' :func:`distinct` already computed by the caller. Identical rows are
    kept or left out alike (``keep`` depends on a row's text), so numbering the kept rows alone
    gives the same ordinals as numbering every row."""
    h1, h2 = row_hashes(frame, keep, known)
    return event_ids(prefix, h1, h2)
