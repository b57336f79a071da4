"""Property tests: whatever bytes or text arrive, loading and mapping end in a clear answer.

"Clear" means: an accepted snapshot, or a report whose every problem names a file and a known
rule, or a UserError. Never another exception, never a half-loaded result.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import UserError
from app.sources.load import load_snapshot
from app.sources.mapping import TableMapping, apply_table_mapping, load_mapping, suggest_mapping
from app.sources.validation_report import RULES
from tests.app.sources.conftest import VALID_CSV
from tests.helpers.hostile import counted

FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PEOPLE_HEADER = VALID_CSV["people"].splitlines()[0]

cell = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "007", "active", "2024-01-15", "=1+1", "@x", "-", '"', ",", "\n"]),
)


def check_outcome(folder: Path) -> None:
    try:
        result = load_snapshot(folder)
    except UserError:
        return
    if result.accepted:
        assert result.snapshot is not None and result.content_hash
        return
    assert result.snapshot is None and not result.quarantined
    problems = result.report.problems
    assert len(problems) > 0
    assert problems["rule"].isin(list(RULES)).all()
    assert (problems["file"].astype(str).str.len() > 0).all()
    assert result.report.render().startswith("Snapshot rejected")


def write_folder(root: Path, people: bytes) -> Path:
    for name, text in VALID_CSV.items():
        if name != "activity":  # required tables only: keeps each example fast
            (root / f"{name}.csv").write_text(text, encoding="utf-8")
    (root / "people.csv").write_bytes(people)
    return root


@FUZZ
@given(st.binary(max_size=400))
@counted
def test_random_bytes_as_a_table(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        check_outcome(write_folder(Path(tmp), data))


@FUZZ
@given(st.binary(max_size=300))
@counted
def test_random_bytes_after_a_valid_header(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        check_outcome(write_folder(Path(tmp), PEOPLE_HEADER.encode() + b"\n" + data))


@FUZZ
@given(st.lists(st.lists(cell, min_size=9, max_size=9), max_size=6))
@counted
def test_random_unicode_cells(rows: list[list[str]]) -> None:
    frame = pd.DataFrame(rows, columns=PEOPLE_HEADER.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        root = write_folder(Path(tmp), b"")
        frame.to_csv(root / "people.csv", index=False)
        check_outcome(root)


@FUZZ
@given(st.text(max_size=200))
@counted
def test_random_mapping_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.toml"
        path.write_text(text, encoding="utf-8")
        with contextlib.suppress(UserError):
            load_mapping(path)


@FUZZ
@given(
    st.dictionaries(st.text(max_size=8), st.lists(st.text(max_size=10), max_size=4), max_size=5),
    st.sampled_from(["people", "lms_users", "courses", "enrollments", "activity"]),
)
@counted
def test_random_columns_to_map_and_suggest(samples: dict[str, list[str]], table: str) -> None:
    suggestions = suggest_mapping(list(samples), samples, table)
    assert set(suggestions) <= set(samples)
    targets = [s.target for s in suggestions.values()]
    assert len(targets) == len(set(targets))
    width = max((len(v) for v in samples.values()), default=0)
    frame = pd.DataFrame({k: (v + [""] * width)[:width] for k, v in samples.items()})
    mapping = TableMapping(
        table=table,
        columns={s.source: s.target for s in suggestions.values()},
        values={t: {"x": "y"} for t in targets},
    )
    mapped = apply_table_mapping(frame, mapping)
    assert len(mapped) == len(frame)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["people.parquet", "people.csv.gz"]))
@counted
def test_random_bytes_as_parquet_or_gzip(data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = write_folder(Path(tmp), b"")
        (root / "people.csv").unlink()
        (root / name).write_bytes(data)
        check_outcome(root)
