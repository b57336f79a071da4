"""Activity validated a chunk at a time gives what validating it whole gives: the same typed rows,
problems (row numbers of the whole table), quarantined rows and reasons, on the edge cases that
cross chunks: a repeated event id in two chunks, a dangling user in the last chunk, an empty
chunk, a set-aside user whose events are in several chunks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from app.sources.validate import validate_tables

USERS = pd.DataFrame(
    {"user_id": ["u1", "u2", "u3"], "email": ["a@x.org", "b@x.org", None],
     "status": ["active", "retired", "active"]}  # u2's status breaks a rule
)  # fmt: skip
COURSES = pd.DataFrame(
    {
        "course_id": ["C1", "C2"],
        "title": ["Safety", "Excel"],
        "is_compliance": ["true", "false"],
        "status": ["active", "active"],
    }
)


def events(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "user_id": [("u1", "u3")[i % 2] for i in range(n)],
            "course_id": [("C1", "C2", None)[i % 3] for i in range(n)],
            "verb": ["viewed"] * n,
            "timestamp": [f"2026-05-0{1 + i % 9}T10:00:00Z" for i in range(n)],
            "value": [None if i % 4 else "0.5" for i in range(n)],
            "origin": pd.Categorical([("web", "ws", "cli")[i % 3] for i in range(n)]),
        }
    )


@dataclass
class Chunks:
    frames: list[pd.DataFrame]

    @property
    def columns(self) -> list[str]:
        return list(self.frames[0].columns)

    def chunks(self) -> Iterator[pd.DataFrame]:
        yield from (f.copy() for f in self.frames)


def split(frame: pd.DataFrame, sizes: list[int]) -> Chunks:
    out, at = [], 0
    for size in sizes:
        out.append(frame.iloc[at : at + size].reset_index(drop=True))
        at += size
    assert at == len(frame)
    # Each chunk's evidence column has its own categories, as a converted chunk's has.
    for part in out:
        part["origin"] = pd.Categorical(part["origin"].astype("str"))
    return Chunks(out)


def compare(tmp_path: Path, activity: pd.DataFrame, sizes: list[int], quarantine: bool) -> None:
    small = {"lms_users": USERS, "courses": COURSES}
    files = {"lms_users": "lms_users.csv", "courses": "courses.csv", "activity": "activity.parquet"}
    chunks = split(activity, sizes)
    # The whole log's evidence categories are its chunks' in the order they appear (moodle_stream).
    union = pd.api.types.union_categoricals([c["origin"].array for c in chunks.frames])
    activity = activity.assign(origin=pd.Series(union))
    whole = validate_tables({**small, "activity": activity}, files=files, quarantine=quarantine)
    streamed = validate_tables(
        small, files=files, quarantine=quarantine,
        streams={"activity": chunks}, stream_folder=tmp_path,
    )  # fmt: skip
    a, b = whole.report, streamed.report
    pd.testing.assert_frame_equal(a.problems, b.problems)
    assert (a.accepted, a.row_counts, a.quarantined_counts, a.followed_counts, a.warnings) == (
        b.accepted, b.row_counts, b.quarantined_counts, b.followed_counts, b.warnings
    )  # fmt: skip
    assert sorted(whole.quarantined) == sorted(streamed.quarantined)
    for name, held in whole.quarantined.items():
        pd.testing.assert_frame_equal(held, streamed.quarantined[name])
    if a.accepted:
        assert set(streamed.streamed) == {"activity"} and "activity" not in streamed.tables
        pd.testing.assert_frame_equal(
            whole.tables["activity"], streamed.streamed["activity"].frame()
        )
        for name in small:
            pd.testing.assert_frame_equal(whole.tables[name], streamed.tables[name])


@pytest.mark.parametrize("quarantine", [False, True])
def test_clean_activity_in_chunks_with_an_empty_one(tmp_path: Path, quarantine: bool) -> None:
    users = USERS.assign(status="active")
    activity = events(10)
    small = {"lms_users": users, "courses": COURSES}
    whole = validate_tables({**small, "activity": activity}, quarantine=quarantine)
    streamed = validate_tables(
        small, quarantine=quarantine, streams={"activity": split(activity, [3, 0, 4, 3])},
        stream_folder=tmp_path,
    )  # fmt: skip
    assert whole.report.accepted and streamed.report.accepted and streamed.report.problems.empty
    pd.testing.assert_frame_equal(whole.tables["activity"], streamed.streamed["activity"].frame())
    assert streamed.streamed["activity"].latest == whole.tables["activity"]["timestamp"].max()


@pytest.mark.parametrize("quarantine", [False, True])
def test_a_repeated_event_id_in_two_chunks(tmp_path: Path, quarantine: bool) -> None:
    activity = events(12)
    activity.loc[9, "event_id"] = "e2"  # row 11 repeats row 4's id, three chunks later
    activity.loc[10, "user_id"] = "u1"
    compare(tmp_path, activity[activity["user_id"] != "u2"].reset_index(drop=True),
            [4, 0, 4, 4], quarantine)  # fmt: skip


@pytest.mark.parametrize("quarantine", [False, True])
def test_a_dangling_user_in_the_last_chunk(tmp_path: Path, quarantine: bool) -> None:
    activity = events(9)
    activity.loc[8, "user_id"] = "u404"
    compare(tmp_path, activity, [3, 3, 3], quarantine)


@pytest.mark.parametrize("quarantine", [False, True])
def test_a_set_aside_user_takes_its_events_in_every_chunk_and_nothing_more(
    tmp_path: Path, quarantine: bool
) -> None:
    activity = events(10)
    activity.loc[[1, 6, 9], "user_id"] = "u2"  # u2 breaks a rule: its events go along
    activity.loc[4, "timestamp"] = "not a time"
    compare(tmp_path, activity, [2, 5, 0, 3], quarantine)


def test_quarantine_of_a_repeated_id_rewrites_the_file_without_both_rows(tmp_path: Path) -> None:
    activity = events(10)
    activity.loc[8, "event_id"] = "e1"
    activity.loc[3, "timestamp"] = "not a time"
    compare(tmp_path, activity.assign(user_id="u1"), [3, 3, 4], True)
