"""The demo organisation's CSV cells: the fast byte encoders write what ``DataFrame.to_csv`` writes.

The expected text is spelled by the standard library (``datetime``, ``%`` formatting), not by the
encoders, so a change to an encoder that would change the demo files' bytes fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.demo.organisation import csv_bytes
from app.demo.organisation.csv_bytes import (
    byte_table,
    date_text,
    encode_dates,
    encode_ids,
    encode_lookup,
    encode_numbers,
    encode_row_ids,
    encode_timestamps,
    number_text,
    timestamp_text,
    write_table,
)
from app.demo.organisation.identifiers import text_ids
from app.demo.organisation.timeline import DAY, NA

VERBS = ["login", "viewed", "passed", ""]


def columns_of(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Random cells of every kind, with the edge values placed first."""
    stamps = rng.integers(0, 4_102_444_800, n)  # up to 2100-01-01
    stamps[:4] = [0, DAY - 1, 1_709_164_799, 1_709_164_800]  # 1970, a day's last second, leap day
    stamps[rng.random(n) < 0.2] = NA
    days = rng.integers(0, 47_000, n)
    days[:2] = [0, 19_782]  # 1970-01-01, 2024-02-29
    days[rng.random(n) < 0.2] = NA
    # The generator rounds every value to one decimal before writing it.
    numbers = np.round(rng.uniform(0, 1000, n), 1)
    numbers[:5] = [0.0, 0.1, 9.9, 100.0, 1000.0]
    numbers[rng.random(n) < 0.2] = np.nan
    return {
        "ids": rng.integers(0, 10**7, n),
        "stamps": stamps,
        "days": days,
        "numbers": numbers,
        "verbs": rng.integers(0, len(VERBS), n),
    }


def spelled(values: dict[str, np.ndarray]) -> pd.DataFrame:
    """The same cells spelled by the standard library."""

    def stamp(s: int) -> str:
        return "" if s == NA else datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def day(d: int) -> str:
        return "" if d == NA else datetime.fromtimestamp(d * DAY, UTC).date().isoformat()

    return pd.DataFrame(
        {
            "user_id": [f"U{i:07d}" for i in values["ids"]],
            "at": [stamp(int(s)) for s in values["stamps"]],
            "on": [day(int(d)) for d in values["days"]],
            "value": ["" if np.isnan(x) else f"{x:.1f}" for x in values["numbers"]],
            "verb": [VERBS[v] for v in values["verbs"]],
        }
    )


@pytest.mark.parametrize("chunk_rows", [500_000, 700])
def test_fast_writer_writes_what_to_csv_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    monkeypatch.setattr(csv_bytes, "CHUNK_ROWS", chunk_rows)
    values = columns_of(np.random.default_rng(5), 3_000)
    expected = spelled(values).assign(row_id=[f"A{i:09d}" for i in range(1, 3_001)])
    expected = expected[["row_id", "user_id", "at", "on", "value", "verb"]]
    verbs = byte_table(VERBS)

    def cells(rows: slice) -> list[np.ndarray]:
        return [
            encode_row_ids("A", rows, 9),
            encode_ids("U", values["ids"][rows], 7),
            encode_timestamps(values["stamps"][rows]),
            encode_dates(values["days"][rows]),
            encode_numbers(values["numbers"][rows]),
            encode_lookup(verbs, values["verbs"][rows]),
        ]

    written = write_table(tmp_path / "fast.csv", tuple(expected.columns), 3_000, cells)
    expected.to_csv(tmp_path / "pandas.csv", index=False, lineterminator="\n")
    assert written == 3_000
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_text_cells_are_the_encoders_cells() -> None:
    values = columns_of(np.random.default_rng(6), 3_000)
    expected = spelled(values)
    assert text_ids("U", values["ids"], 7).tolist() == expected["user_id"].tolist()
    assert timestamp_text(values["stamps"]).tolist() == expected["at"].tolist()
    assert date_text(values["days"]).tolist() == expected["on"].tolist()
    assert number_text(values["numbers"]).tolist() == expected["value"].tolist()
    assert text_ids("P", np.array([], dtype=np.int64), 6).tolist() == []


def test_an_id_wider_than_its_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="E ids need"):
        encode_ids("E", np.array([5, 100_000_000]), 8)
    with pytest.raises(ValueError, match="P ids need"):
        text_ids("P", np.array([-1]), 6)
