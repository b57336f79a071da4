"""Hostile input to the importers, property-tested: Moodle logs, xAPI statements, Canvas
enrolments.

Whatever arrives (random bytes, huge fields, values of the wrong type, NUL, lone surrogates, RTL
marks, combining characters, a BOM, formula-like cells) ends in contract tables that validation
judges with a clear report, or in the product's own UserError whose message names the file;
never another exception.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.sources.canvas import import_canvas_enrollments
from app.sources.contract import TABLES
from app.sources.moodle import MOODLE_COLUMNS, import_moodle_log
from app.sources.result import ImportResult
from app.sources.validate import validate_tables
from app.sources.validation_report import RULES
from app.sources.xapi import import_xapi_file
from tests.helpers.hostile import counted, csv_bytes, expect_clear, file_text, fuzz, to_bytes


def check_tables(result: ImportResult | None) -> None:
    """Importer output: contract tables (activity ids unique), which validation then judges
    with a report whose every problem names a file and a known rule."""
    if result is None:
        return
    assert result.report.render().startswith("Import from")
    assert set(result.tables) <= set(TABLES)
    activity = result.tables.get("activity")
    if activity is not None and len(activity):
        assert not activity["event_id"].duplicated().any(), "activity.event_id repeats"
    checked = validate_tables(result.tables, files={n: f"{n}.csv" for n in result.tables})
    problems = checked.report.problems
    assert problems["rule"].isin(list(RULES)).all()
    assert (problems["file"].astype(str).str.len() > 0).all()


moodle_rows = st.lists(
    st.lists(st.one_of(file_text, st.sampled_from(["Course viewed", "11 May, 09:44", "-"])),
             min_size=9, max_size=9),
    max_size=6,
)  # fmt: skip


@fuzz(50)
@given(st.one_of(st.binary(max_size=600), moodle_rows.map(lambda r: (r, False))), st.booleans())
@counted
def test_moodle_log(data: bytes | tuple[list[list[str]], bool], bom: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "logs.csv"
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_bytes(csv_bytes(list(MOODLE_COLUMNS), data[0], bom=bom))
        result = expect_clear(lambda: import_moodle_log(path, year=2026), "logs.csv")
        check_tables(result)


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), file_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)

XAPI_KEYS = ["id", "actor", "verb", "object", "context", "result", "timestamp", "stored"]

statement = st.one_of(
    json_value,
    st.fixed_dictionaries(
        {
            "actor": st.one_of(json_value, st.fixed_dictionaries({"mbox": json_value})),
            "verb": st.one_of(
                json_value,
                st.fixed_dictionaries(
                    {
                        "id": st.sampled_from(
                            [
                                "http://adlnet.gov/expapi/verbs/completed",
                                "http://adlnet.gov/expapi/verbs/progressed",
                            ]
                        )
                    }
                ),
            ),
            "timestamp": st.one_of(json_value, st.just("2026-11-20T06:00:00Z")),
        },
        optional={k: json_value for k in XAPI_KEYS if k not in ("actor", "verb", "timestamp")},
    ),
)


@fuzz(50)
@given(st.one_of(st.binary(max_size=400), st.lists(statement, max_size=5)), st.booleans())
@counted
def test_xapi_statements(data: bytes | list[Any], as_array: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "statements.jsonl"
        if isinstance(data, bytes):
            path.write_bytes(data)
        elif as_array:
            path.write_bytes(to_bytes(json.dumps(data, ensure_ascii=False)))
        else:
            lines = [json.dumps(s, ensure_ascii=False) for s in data]
            path.write_bytes(to_bytes("\n".join(lines)))
        check_tables(expect_clear(lambda: import_xapi_file(path), "statements.jsonl"))


CANVAS_HEADER = ["course_id", "user_id", "role", "section_id", "status", "start_date", "end_date",
                 "created_by_sis"]  # fmt: skip

canvas_rows = st.lists(
    st.lists(st.one_of(file_text, st.sampled_from(["student", "active", "completed",
                                                   "2026-01-01T00:00:00Z", "true"])),
             min_size=8, max_size=8),
    max_size=6,
)  # fmt: skip


@fuzz(50)
@given(st.one_of(st.binary(max_size=600), canvas_rows), st.booleans())
@counted
def test_canvas_enrollments(data: bytes | list[list[str]], bom: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "enrollments.csv"
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_bytes(csv_bytes(CANVAS_HEADER, data, bom=bom))
        result = expect_clear(
            lambda: import_canvas_enrollments(path, enrolled_at="2026-01-01"), "enrollments.csv"
        )
        check_tables(result)
