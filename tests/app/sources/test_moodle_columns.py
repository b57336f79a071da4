"""Large-log column work: the categorical reader and the per-distinct-value importer give the
same tables and event ids as the text reader, on the real shared log and on edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.sources.files import read_table_file_or_raise
from app.sources.moodle import moodle_log_tables
from app.sources.moodle_columns import distinct, read_log_csv, row_event_ids
from tests.app.sources.conftest import SHARED_LMS

REAL_LOG = SHARED_LMS / "moodle_course_activity_log.csv"


def _both(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    fast = read_log_csv(path, compressed=False)
    assert fast is not None
    assert all(isinstance(t, pd.CategoricalDtype) for t in fast.dtypes)
    return fast, read_table_file_or_raise(path)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({c: "str" for c in frame.columns if str(frame[c].dtype) == "category"})


def test_the_real_log_reads_and_converts_alike_either_way() -> None:
    if not REAL_LOG.exists():
        pytest.skip(f"{REAL_LOG} is absent (it may not be copied into the repository)")
    fast, text = _both(REAL_LOG)
    pd.testing.assert_frame_equal(_as_text(fast), text, check_dtype=False)
    a = moodle_log_tables(fast, source="log", year=2021)
    b = moodle_log_tables(text, source="log", year=2021)
    assert a.report == b.report
    for name in a.tables:
        pd.testing.assert_frame_equal(
            _as_text(a.tables[name]), _as_text(b.tables[name]), check_dtype=False
        )
    ids = a.tables["activity"]["event_id"]
    assert ids.is_unique and ids.str.fullmatch(r"moodle-[0-9a-f]{20}-\d+").all()


def test_identical_rows_get_ordinals_and_nulls_hash_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    row = '"11 May, 09:44",Ann,-,Course: X,System,Course viewed,d,web,\n'
    path.write_text(
        "Time,User full name,Affected user,Event context,Component,Event name,Description,"
        "Origin,IP address\n" + row * 3 + row.replace(",web,", ",,"),
        encoding="utf-8",
    )
    fast, text = _both(path)
    keep = np.ones(len(fast), dtype=bool)
    ids = row_event_ids(fast, keep, "moodle").tolist()
    assert ids == row_event_ids(text, keep, "moodle").tolist()
    assert [i.rsplit("-", 1)[1] for i in ids] == ["0", "1", "2", "0"]
    assert len({i.rsplit("-", 1)[0] for i in ids}) == 2  # the row without an origin differs


def test_distinct_values_come_in_order_of_first_appearance() -> None:
    values = pd.Series(["b", None, "a", "b", "c"], dtype="category")
    codes, uniques = distinct(values)
    assert uniques.tolist()[:1] == ["b"] and pd.isna(uniques.iloc[1])
    assert uniques.tolist()[2:] == ["a", "c"] and codes.tolist() == [0, 1, 2, 0, 3]
    codes, uniques = distinct(pd.Series(["b", None, "a", "b"], dtype="str"))
    assert pd.isna(uniques.iloc[1]) and uniques.take(codes).iloc[[0, 2, 3]].tolist() == [
        "b",
        "a",
        "b",
    ]


def test_a_file_pyarrow_reads_otherwise_is_left_to_the_text_reader(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("Time,Time,Event name\n1,2,3\n", encoding="utf-8")
    assert read_log_csv(path, compressed=False) is None  # a doubled name: diagnosed elsewhere
    path.write_text("Time,Event name\n1,2,3\n", encoding="utf-8")
    assert read_log_csv(path, compressed=False) is None  # a ragged row
