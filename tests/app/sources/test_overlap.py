"""Which snapshot is current, and the rule for warning before another becomes current: below 50%
of the smaller list of user ids or of course ids shared (app/sources/overlap.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.sources.load import load_snapshot
from app.sources.overlap import (
    FEW_SHARED,
    compare_snapshots,
    current_snapshot,
    id_overlap,
    overlap_with_current,
)
from app.sources.store import store_snapshot
from models.snapshot import Snapshot
from review_queue.permissions import SYSTEM
from tests.app.sources.conftest import SnapshotMaker


def test_the_share_is_of_the_smaller_list() -> None:
    o = id_overlap(["u1", "u2", "u3", "u4"], ["u2", "u3", "x"])
    assert (o.current, o.new, o.shared) == (4, 3, 2)
    assert o.share == pytest.approx(2 / 3)
    # Blanks and nulls are not ids; ids compare as text.
    o = id_overlap([1, 2, None, " "], ["1", pd.NA, "2 "])
    assert (o.current, o.new, o.shared) == (2, 2, 2)
    assert id_overlap([], ["u1"]).share == 1.0


def test_one_course_of_the_same_site_does_not_warn() -> None:
    site_users = [f"u{i}" for i in range(1000)]
    site_courses = [f"C{i}" for i in range(50)]
    o = compare_snapshots("s1", site_users, site_courses, site_users[:30], ["C7"])
    assert not o.few_shared
    # Nor a fuller export of the same site.
    more = compare_snapshots("s1", site_users[:30], ["C7"], site_users, site_courses)
    assert not more.few_shared


def test_another_organisation_warns() -> None:
    o = compare_snapshots("s1", ["u1", "u2"], ["C1"], ["Ada Lovelace", "Alan Turing"], ["2"])
    assert o.few_shared
    assert "shares 0 of 2 user ids (0%) and 0 of 1 course ids (0%)" in o.describe()
    assert "current snapshot s1" in o.describe()


def test_the_boundary_is_half_of_users_or_of_courses() -> None:
    assert FEW_SHARED == 0.5
    half = compare_snapshots("s", ["a", "b"], ["C1", "C2"], ["a", "x"], ["C1", "C2"])
    assert half.users.share == 0.5 and not half.few_shared
    under = compare_snapshots("s", ["a", "b", "c"], ["C1"], ["a", "x", "y"], ["C1"])
    assert under.users.share == pytest.approx(1 / 3) and under.few_shared
    courses_only = compare_snapshots("s", ["a"], ["C1", "C2", "C3"], ["a"], ["C1", "X", "Y"])
    assert courses_only.few_shared


def _snapshot(make_snapshot: SnapshotMaker, **overrides: str | None) -> Snapshot:
    result = load_snapshot(make_snapshot(dict(overrides)))
    assert result.snapshot is not None, result.report.render()
    return result.snapshot


def test_against_the_stored_current_snapshot(
    db: Engine, gapdesk_home: Path, make_snapshot: SnapshotMaker
) -> None:
    with Session(db) as session:
        assert current_snapshot(session=session, actor=SYSTEM) is None
        assert overlap_with_current(
            session=session, actor=SYSTEM, snapshot=_snapshot(make_snapshot)
        ) is None  # fmt: skip
    result = load_snapshot(make_snapshot())
    stored = store_snapshot(engine=db, actor=SYSTEM, result=result, origin="test").record
    with Session(db) as session:
        current = current_snapshot(session=session, actor=SYSTEM)
        assert current is not None and current.id == stored.id
        assert (current.users, current.courses, current.enrollments, current.events) == (
            3, 3, 3, 3,
        )  # fmt: skip
        assert f"Snapshot {stored.id}, stored " in current.describe()
        assert "3 users, 3 courses, 3 enrolments, 3 activity events" in current.describe()
        # The same content again is the current snapshot itself: nothing to compare.
        assert overlap_with_current(
            session=session, actor=SYSTEM, snapshot=result.snapshot,  # type: ignore[arg-type]
            content_hash=result.content_hash,
        ) is None  # fmt: skip
        same_site = _snapshot(make_snapshot, activity=None)
        near = overlap_with_current(session=session, actor=SYSTEM, snapshot=same_site)
        assert near is not None and not near.few_shared and near.users.shared == 3
        other = _snapshot(
            make_snapshot,
            lms_users="user_id,status\nx1,active\nx2,active\n",
            courses="course_id,title,is_compliance,status\nK1,Other,no,active\n",
            enrollments=None, activity=None,
        )  # fmt: skip
        far = overlap_with_current(session=session, actor=SYSTEM, snapshot=other)
        assert far is not None and far.few_shared
        assert (far.users.shared, far.courses.shared) == (0, 0)


def test_a_snapshot_without_enrolments_says_so(
    db: Engine, gapdesk_home: Path, make_snapshot: SnapshotMaker
) -> None:
    result = load_snapshot(make_snapshot({"enrollments": None, "activity": None}))
    store_snapshot(engine=db, actor=SYSTEM, result=result, origin="test")
    with Session(db) as session:
        current = current_snapshot(session=session, actor=SYSTEM)
    assert current is not None and current.enrollments is None and current.events is None
    assert "no enrolments table, no activity events table" in current.describe()
