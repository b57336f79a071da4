"""What each detector declares it reads (``requires``, ``optional``, ``reads``) against the
contract and against what its code really reads: run on the demo organisation cut down to the
declared columns, a detector finds exactly what it finds on everything; cut down to the needed
ones it still runs, and a rule never finds more; a needed column taken away skips it."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from app.sources.contract import TABLES
from app.sources.load import load_snapshot
from models.detectors import (
    DETECTOR_CLASSES,
    REGISTRY,
    build_detectors,
    common,
    event_passes,
    run_detectors,
    series,
)
from models.detectors.base import Columns, Detector, MissingTableError, Proposal, carried_columns
from models.snapshot import Snapshot

NAMES = [cls.name for cls in DETECTOR_CLASSES]


@pytest.fixture(scope="module")
def demo(demo_folder: Path) -> Snapshot:
    return load_snapshot(demo_folder).raise_if_rejected()


def _cut(snapshot: Snapshot, cls: type[Detector], *, optional: bool) -> Snapshot:
    """``snapshot`` with only the tables and columns ``cls`` declares (optional ones too, or
    only the needed columns of its required tables)."""
    tables = {}
    for name, cols in cls.reads.items():
        if name not in snapshot.tables or (not optional and name not in cls.requires):
            continue
        keep = cols.all if optional else cols.needed
        # an optional column the demo organisation does not carry (object_id) stays absent
        tables[name] = snapshot[name][[c for c in keep if c in snapshot[name].columns]].copy()
    return Snapshot(tables=tables, as_of=snapshot.as_of, source=snapshot.source)


def _seen(proposals: list[Proposal]) -> list[tuple[Any, ...]]:
    # Evidence shows whole rows, extra columns included: everything else must be identical.
    return sorted(
        (p.category, p.entity_key, p.title, p.score, p.severity, p.explanation, str(p.features))
        for p in proposals
    )


def test_every_detector_declares_the_columns_of_each_table_it_reads() -> None:
    for cls in DETECTOR_CLASSES:
        assert set(cls.reads) == set(cls.requires) | set(cls.optional), cls.name
        assert not set(cls.requires) & set(cls.optional), cls.name
        for table, cols in cls.reads.items():
            assert cols.needed or cols.optional, (cls.name, table)
            assert not set(cols.needed) & set(cols.optional), (cls.name, table)
            contract = set(TABLES[table].column_names)
            assert set(cols.all) <= contract, (cls.name, table, set(cols.all) - contract)
        for item in cls.unchecked_without:
            table, _, column = item.partition(".")
            assert table in cls.optional or column in cls.reads[table].optional, (cls.name, item)


def _named_but_undeclared(code: Callable[..., Any] | type, reads: Mapping[str, Columns]) -> set:
    """Columns of the tables ``reads`` names that ``code``'s source spells out as a string but
    ``reads`` does not declare (a column read without being declared, most likely)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(code)))
    spelled = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    columns = {c for t in reads for c in TABLES[t].column_names}
    return (spelled & columns) - {c for cols in reads.values() for c in cols.all}


def test_the_columns_a_detector_spells_out_are_declared() -> None:
    for cls in DETECTOR_CLASSES:
        assert _named_but_undeclared(cls, cls.reads) == set(), cls.name
    helpers = {
        common.person_names: common.PERSON_NAME_READS,
        common.user_labels: common.USER_LABEL_READS,
        common.course_labels: common.COURSE_LABEL_READS,
        common.compliance_courses: common.COMPLIANCE_READS,
        event_passes.events: common.ACTIVITY_READS,
        event_passes.event_span: common.ACTIVITY_READS,
        event_passes.course_week_counts: common.ACTIVITY_READS,
        event_passes.course_day_counts: common.ACTIVITY_READS,
        event_passes.verb_day_counts: common.ACTIVITY_READS,
        event_passes.active_pairs: common.ACTIVITY_READS,
        event_passes.learner_weeks: common.ACTIVITY_READS,
        event_passes.stream_users: common.ACTIVITY_READS,
        event_passes.progress_reports: common.ACTIVITY_READS,
        series.course_windows: series.COURSE_WINDOW_READS,
    }
    for helper, reads in helpers.items():
        assert _named_but_undeclared(helper, reads) == set(), helper.__name__


@pytest.mark.parametrize("name", NAMES)
def test_a_detector_on_only_its_declared_columns_finds_the_same(demo: Snapshot, name: str) -> None:
    cls = REGISTRY[name]
    full = cls().detect(demo)
    assert full, f"the demo organisation should give {name} something to find"
    assert _seen(cls().detect(_cut(demo, cls, optional=True))) == _seen(full)


@pytest.mark.parametrize("name", NAMES)
def test_a_detector_on_only_its_needed_columns_runs_and_a_rule_finds_no_more(
    demo: Snapshot, name: str
) -> None:
    cls = REGISTRY[name]
    cut = _cut(demo, cls, optional=False)
    assert cls.lacking(carried_columns(cut)) == []
    found = cls().detect(cut)
    if cls.kind == "rule":
        # What the source could not carry never makes a finding.
        assert {p.entity_key for p in found} <= {p.entity_key for p in cls().detect(demo)}


@pytest.mark.parametrize("name", NAMES)
def test_each_needed_column_taken_away_skips_the_detector_and_says_which(
    demo: Snapshot, name: str
) -> None:
    cls = REGISTRY[name]
    carried = carried_columns(demo)
    for table, cols in cls.reads.items():
        for column in cols.needed:
            less = {**carried, table: carried[table] - {column}}
            assert cls.lacking(less) == [f"{table}.{column}"]
    table, cols = next(iter(cls.reads.items()))
    cut = Snapshot(
        tables={**demo.tables, table: demo[table].drop(columns=[cols.needed[0]])},
        as_of=demo.as_of,
    )
    reason = cls().skip_reason(cut)
    assert reason == f"needs column {table}.{cols.needed[0]}, absent"
    with pytest.raises(MissingTableError, match=f"{table}.{cols.needed[0]}"):
        cls().detect(cut)


def test_run_detectors_skips_on_an_absent_column_and_an_empty_one_is_data(demo: Snapshot) -> None:
    # Absent is not empty: no owner column says nothing; an owner column left empty says
    # nobody owns the course.
    emptied = demo["courses"].assign(owner_user_id=None).astype({"owner_user_id": "str"})
    empty = Snapshot(tables={**demo.tables, "courses": emptied}, as_of=demo.as_of)
    absent = Snapshot(
        tables={**demo.tables, "courses": demo["courses"].drop(columns=["owner_user_id"])},
        as_of=demo.as_of,
    )
    dets = build_detectors(enabled=["unowned_course"])
    assert len(run_detectors(empty, dets).proposals) == int(
        (demo["courses"]["status"] == "active").sum()
    )
    run = run_detectors(absent, dets)
    assert run.proposals == []
    assert run.skipped == {"unowned_course": "needs column courses.owner_user_id, absent"}
