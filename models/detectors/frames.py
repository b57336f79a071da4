"""Snapshot tables as narwhals frames: one expression, run by pandas, DuckDB or Spark.

A detector's heavy pass (a filter, a group-by or a join over events, enrolments or notifications)
is written once against narwhals' lazy API. On a snapshot whose frames are in memory it runs on
pandas, eagerly; on a table the detection engine holds (``Snapshot.lazy``: a LazyFrame over the
stored Parquet, on DuckDB or Spark) it runs there, and only its result is loaded. The engines
differ in a few corners narwhals does not hide (DuckDB has no ``dt.timestamp``, Spark no
``dt.total_seconds`` and no sum of booleans), so the helpers below use what all three do alike:
calendar fields and integer arithmetic.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import narwhals as nw
import pandas as pd

from models.snapshot import NOT_CARRIED, Snapshot


def lazy_table(snapshot: Snapshot, table: str) -> nw.LazyFrame[Any]:
    """``table`` as a narwhals LazyFrame: the engine's when it holds it, else over the frame."""
    if table in snapshot.lazy:
        frame: nw.LazyFrame[Any] = snapshot.lazy[table]
        return frame
    return nw.from_native(snapshot.tables[table], eager_only=True).lazy()


def to_pandas(frame: nw.LazyFrame[Any]) -> pd.DataFrame:
    """Run ``frame`` on its engine and load the result as a pandas DataFrame."""
    out: pd.DataFrame = frame.collect(backend="pandas").to_native()
    return out


def day_number(column: str) -> nw.Expr:
    """Whole UTC days since 1970-01-01 of a timestamp column (null stays null).

    Calendar fields and integer arithmetic only, so that pandas, DuckDB and Spark agree (each
    engine reads timestamps in UTC: the engine sets its session time zone so)."""
    year = nw.col(column).dt.year().cast(nw.Int64)
    before_year = (
        365 * (year - 1970) + (year - 1969) // 4 - (year - 1901) // 100 + (year - 1601) // 400
    )
    return before_year + nw.col(column).dt.ordinal_day().cast(nw.Int64) - 1


def with_day(frame: nw.LazyFrame[Any], column: str, name: str) -> nw.LazyFrame[Any]:
    """``frame`` with ``name``: the UTC day number of ``column`` (as :func:`day_number`).

    On DuckDB and Spark through the engine's own epoch seconds, several times faster there than
    calendar fields (DuckDB extracts a year and a day of year of a zoned timestamp through its
    calendar, for every event); on pandas :func:`day_number`. Tests compare the engines."""
    impl = frame.implementation
    if impl is nw.Implementation.DUCKDB:
        sql = f'*, CAST(floor(epoch("{column}") / 86400) AS BIGINT) AS "{name}"'
        return nw.from_native(frame.to_native().project(sql))
    if impl in (nw.Implementation.PYSPARK, nw.Implementation.PYSPARK_CONNECT):
        expr = f"CAST(floor(unix_timestamp(`{column}`) / 86400) AS BIGINT) AS `{name}`"
        return nw.from_native(frame.to_native().selectExpr("*", expr))
    return frame.with_columns(day_number(column).alias(name))


def as_count(condition: nw.Expr) -> nw.Expr:
    """1 where ``condition`` holds, else 0: summed in a group-by, how many rows meet it (Spark
    sums no booleans, and pandas runs a group-by fast only over plain columns, so this is a
    column made before the group-by)."""
    return condition.cast(nw.Int64)


def not_carried(column: str) -> nw.Expr:
    """Whether a row's source did not carry ``column`` (named in its ``not_carried`` cell)."""
    pattern = rf"(^|;){re.escape(column)}(;|$)"
    return nw.col(NOT_CARRIED).fill_null("").str.contains(pattern)


def at_or_before(column: str, moment: datetime | pd.Timestamp) -> nw.Expr:
    """``column <= moment`` (a missing value is not before anything)."""
    return nw.col(column) <= nw.lit(pd.Timestamp(moment).to_pydatetime())
