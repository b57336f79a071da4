"""How the demo organisation writes its tables as CSV.

The small tables are pandas frames of text columns written by ``DataFrame.to_csv``. Every field of
the big ones is an id, an enum, a timestamp or a number (never a comma or a quote),
so each row is laid out in a fixed-width byte matrix padded with NUL bytes, and the NULs are
dropped in one pass. This is ~20x faster than ``DataFrame.to_csv`` and writes the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from app.demo.organisation.timeline import DAY, HOUR, NA

# Rows of a big table encoded at a time (bounds the byte matrices' memory).
CHUNK_ROWS = 500_000


def byte_table(strings: np.ndarray | list[str]) -> np.ndarray:
    """Strings as a NUL-padded fixed-width byte array, for lookup by integer code."""
    return np.array([str(x).encode() for x in strings], dtype=np.bytes_)


def encode_lookup(table: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows ``table[idx]`` as a (n, width) uint8 matrix (index -1 is the table's last entry)."""
    width = table.dtype.itemsize
    return table[np.asarray(idx, dtype=np.int64)].view(np.uint8).reshape(-1, width)


def encode_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Ids such as ``E00000042`` (``prefix`` and ``width`` digits) as a (n, width + 1) matrix."""
    out = np.empty((numbers.size, width + 1), dtype=np.uint8)
    out[:, 0] = ord(prefix)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    out[:, 1:] = (np.asarray(numbers, dtype=np.int64)[:, None] // powers) % 10 + 48
    return out


_SECOND_OF_DAY: np.ndarray | None = None


def encode_timestamps(arr: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DDTHH:MM:SSZ`` (20 bytes), empty where missing."""
    global _SECOND_OF_DAY
    if _SECOND_OF_DAY is None:
        text = [f"{s // HOUR:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(DAY)]
        _SECOND_OF_DAY = byte_table(text).view(np.uint8).reshape(DAY, 9)
    arr = np.asarray(arr, dtype=np.int64)
    out = np.zeros((arr.size, 20), dtype=np.uint8)
    ok = arr != NA
    if ok.any():
        day = arr[ok] // DAY
        first = int(day.min())
        days = np.arange(first, int(day.max()) + 1).astype("datetime64[D]")
        names = np.strings.add(np.datetime_as_string(days, unit="D"), "T").astype("S11")
        out[ok, :11] = names.view(np.uint8).reshape(-1, 11)[day - first]
        out[ok, 11:] = _SECOND_OF_DAY[arr[ok] % DAY]
    return out


_WHOLE = byte_table([str(i) for i in range(1001)])


def encode_numbers(arr: np.ndarray) -> np.ndarray:
    """Non-negative floats up to 1000 with one decimal (``87.5``), empty where NaN."""
    arr = np.asarray(arr, dtype=np.float64)
    out = np.zeros((arr.size, 6), dtype=np.uint8)
    ok = ~np.isnan(arr)
    tenths = np.rint(np.clip(arr[ok], 0, 1000) * 10).astype(np.int64)
    out[ok, :4] = encode_lookup(_WHOLE, tenths // 10)
    out[ok, 4] = ord(".")
    out[ok, 5] = tenths % 10 + 48
    return out


def write_rows(fh: BinaryIO, fields: list[np.ndarray]) -> None:
    """Write rows whose fields are (n, width) NUL-padded byte matrices, comma-separated."""
    n = fields[0].shape[0]
    sep = np.full((n, 1), ord(","), dtype=np.uint8)
    end = np.full((n, 1), ord("\n"), dtype=np.uint8)
    parts: list[np.ndarray] = []
    for f in fields:
        parts += [f, sep]
    parts[-1] = end
    flat = np.concatenate(parts, axis=1).ravel()
    fh.write(flat[flat != 0].tobytes())


def timestamp_text(arr: np.ndarray) -> np.ndarray:
    """ISO 8601 UTC timestamps (``...Z``), empty where missing."""
    arr = np.asarray(arr, dtype=np.int64)
    text = np.strings.add(np.datetime_as_string(arr.astype("datetime64[s]"), unit="s"), "Z")
    return np.where(arr == NA, "", text).astype(object)


def number_text(arr: np.ndarray) -> np.ndarray:
    """Floats with one decimal, empty where NaN."""
    arr = np.asarray(arr, dtype=np.float64)
    text = np.char.mod("%.1f", np.nan_to_num(arr))
    return np.where(np.isnan(arr), "", text).astype(object)


def positive_int_text(arr: np.ndarray) -> np.ndarray:
    """Positive integers as text, empty where zero (the contract's "use the default")."""
    arr = np.asarray(arr, dtype=np.int64)
    return np.where(arr > 0, arr.astype(np.str_), "").astype(object)


def bool_text(arr: np.ndarray) -> np.ndarray:
    """``true``/``false``."""
    return np.where(np.asarray(arr, dtype=bool), "true", "false").astype(object)


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a small table (text columns) as CSV with ``\n`` line ends."""
    frame.to_csv(path, index=False, lineterminator="\n")
