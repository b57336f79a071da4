"""Typing raw columns: each cell as its column's contract type, null where it does not parse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from app.sources.contract import FALSE_WORDS, TRUE_WORDS, Column


def blank_to_na(raw: pd.Series) -> pd.Series:
    """Strings with only whitespace count as empty cells."""
    if not (pd.api.types.is_string_dtype(raw) or raw.dtype == object):
        return raw
    text = raw.astype("str")
    blank = text.str.strip() == ""
    # Whitespace-only cells are rare; skipping the masked copy saves a column's worth of memory.
    return text.mask(blank) if blank.any() else text


def _to_utc(values: pd.Series) -> pd.Series:
    if getattr(values.dt, "tz", None) is None:
        return values.dt.tz_localize("UTC")
    return values.dt.tz_convert("UTC")


def coerce_column(raw: pd.Series, column: Column, fmt: str | None = None) -> pd.Series:
    """``raw`` as the contract type of ``column``; values that do not parse become null.

    ``fmt`` is a strptime format for date and timestamp columns (from a mapping file); without it
    timestamps are ISO 8601 (no offset = UTC) and dates ``YYYY-MM-DD``.
    """
    return coerce_values(blank_to_na(raw), column, fmt)


def coerce_values(values: pd.Series, column: Column, fmt: str | None) -> pd.Series:
    """:func:`coerce_column` for ``values`` whose blanks are already null (:func:`blank_to_na`)."""
    kind = column.type
    if kind == "str":
        if pd.api.types.is_float_dtype(values):
            # Parquet stores integer ids with holes as floats; 7.0 is the id "7".
            whole = values.dropna()
            if (whole == np.floor(whole)).all():
                return values.astype("Int64").astype("str").mask(values.isna())
        text = values.astype("str")
        if column.enum is not None:
            # Enum spellings are forgiving about case and surrounding blanks.
            text = text.str.strip().str.lower()
        return text
    if kind in ("timestamp", "date"):
        if pd.api.types.is_datetime64_any_dtype(values):
            parsed = values
        elif values.dtype == object and not values.dropna().map(type).eq(str).all():
            parsed = pd.to_datetime(values, errors="coerce", utc=True)
        else:
            text = values.astype("str").str.strip()
            if fmt is not None:
                parsed = pd.to_datetime(text, format=fmt, errors="coerce")
            elif kind == "date":
                parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
            else:
                parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        parsed = _to_utc(parsed)
        if kind == "date":
            parsed = parsed.dt.normalize()
        return parsed.astype("datetime64[us, UTC]")
    if kind == "bool":
        if pd.api.types.is_bool_dtype(values):
            return values.astype("boolean")
        if pd.api.types.is_numeric_dtype(values):
            return values.map({1: True, 0: False}).astype("boolean")
        text = values.astype("str").str.strip().str.lower()
        out = pd.Series(pd.NA, index=values.index, dtype="boolean")
        out[text.isin(TRUE_WORDS)] = True
        out[text.isin(FALSE_WORDS)] = False
        return out
    # int and float
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
    else:
        text = values.astype("str")
        try:
            # The direct cast is twice as fast as to_numeric, and fails on any bad value.
            numbers = text.astype("float64")
        except (ValueError, TypeError, pa.ArrowException):
            numbers = pd.to_numeric(text.str.strip(), errors="coerce").astype("float64")
    numbers = numbers.where(np.isfinite(numbers))
    if kind == "int":
        numbers = numbers.where(numbers == np.floor(numbers))
        return numbers.astype("Int64")
    return numbers
