"""Hostile input, property-tested: every importer, the mapping files, snapshot ingest, exports.

Whatever arrives (random bytes, huge fields, values of the wrong type, NUL, lone surrogates, RTL
marks, combining characters, a BOM, formula-like cells) ends in an accepted result or in the
product's own UserError whose message names the file; never another exception, never anything
half written to the database or the store. Every CSV that leaves Gapdesk defuses formula cells.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.errors import UserError
from app.core.records import SnapshotRecord
from app.core.safe_csv import write_rows, write_safe_csv
from app.sources.canvas import import_canvas_enrollments
from app.sources.contract import TABLES
from app.sources.mapping import (
    SnapshotMapping,
    TableMapping,
    dump_mapping,
    import_mapped_csv,
    load_mapping,
    parse_mapping,
)
from app.sources.mapping_store import mappings_dir, save_mapping, saved_mappings
from app.sources.moodle import MOODLE_COLUMNS, import_moodle_log
from app.sources.result import ImportResult
from app.sources.store import ingest, snapshots_dir
from app.sources.validate import validate_tables
from app.sources.validation_report import RULES
from app.sources.xapi import import_xapi_file
from app.web.trend_charts import table_csv
from review_queue.decisions import decide
from review_queue.exports import (
    DECISION_COLUMNS,
    FINDING_COLUMNS,
    decision_rows,
    finding_rows,
)
from review_queue.permissions import SYSTEM, Actor
from review_queue.tables import User
from tests.app.sources.conftest import VALID_CSV
from tests.helpers.hostile import (
    INJECTIONS,
    assert_defused,
    counted,
    file_text,
    fuzz,
    hostile_text,
    to_bytes,
    wrong_type,
)
from tests.helpers.queue_fixtures import add_finding, add_people


def csv_bytes(header: list[str], rows: list[list[str]], *, bom: bool = False) -> bytes:
    """A well-quoted CSV of ``rows`` as bytes (lone surrogates become invalid UTF-8)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + to_bytes(out.getvalue())


def expect_clear(call: Any, file_name: str) -> ImportResult | None:
    """Run an importer: its result, or None after a UserError that names ``file_name``."""
    try:
        return call()
    except UserError as exc:
        message = str(exc)
        assert message.strip() and "Traceback" not in message
        assert file_name in message, f"the message does not name {file_name}: {message[:200]}"
        return None


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


# --------------------------------------------------------------------------- Moodle

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


# --------------------------------------------------------------------------- xAPI

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


# --------------------------------------------------------------------------- Canvas

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


# --------------------------------------------------------------------------- mapping files

section = st.dictionaries(
    st.sampled_from(["columns", "values", "formats", "constants", "file", "delimiter",
                     "encoding", "other"]),
    st.one_of(wrong_type, file_text,
              st.dictionaries(file_text, st.one_of(file_text, wrong_type), max_size=3)),
    max_size=5,
)  # fmt: skip
mapping_data = st.dictionaries(
    st.one_of(st.sampled_from([*TABLES, "invalid_rows"]), file_text),
    st.one_of(section, wrong_type, file_text),
    max_size=4,
)


def toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str | None:
    """``value`` as a TOML inline value, or None when TOML cannot say it (None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(str(value), repr(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        parts = [toml_value(v) for v in value]
        return "[" + ", ".join(p for p in parts if p is not None) + "]"
    parts = [f"{toml_key(k)} = {t}" for k, v in value.items() if (t := toml_value(v))]
    return "{" + ", ".join(parts) + "}"


@fuzz(50)
@given(mapping_data, st.one_of(st.none(), st.binary(max_size=200), file_text))
@counted
def test_mapping_files(data: dict[str, Any], raw: bytes | str | None) -> None:
    """Parsed or raw, a mapping file ends in a SnapshotMapping or a UserError naming it."""
    try:
        parsed = parse_mapping(data, origin="hostile.toml")
    except UserError as exc:
        assert "hostile.toml" in str(exc), str(exc)[:200]
    else:
        assert set(parsed.tables) <= set(TABLES)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hostile.toml"
        if raw is None:
            lines = [f"{toml_key(k)} = {t}" for k, v in data.items() if (t := toml_value(v))]
            path.write_bytes(to_bytes("\n".join(lines)))
        else:
            path.write_bytes(raw if isinstance(raw, bytes) else to_bytes(raw))
        try:
            load_mapping(path)
        except UserError as exc:
            assert "hostile.toml" in str(exc), str(exc)[:200]


table_mapping = st.builds(
    TableMapping,
    table=st.sampled_from(list(TABLES)),
    columns=st.dictionaries(hostile_text, st.one_of(hostile_text, st.sampled_from(
        ["person_id", "email", "full_name", "user_id", "course_id", "title"])), max_size=3),
    values=st.dictionaries(st.sampled_from(["status", "employment_status", "full_name"]),
                           st.dictionaries(hostile_text, hostile_text, max_size=2), max_size=2),
    formats=st.dictionaries(st.sampled_from(["hire_date", "created_at"]), hostile_text,
                            max_size=1),
    constants=st.dictionaries(st.sampled_from(["department", "status"]), hostile_text,
                              max_size=1),
    file=st.one_of(st.none(), hostile_text),
    delimiter=st.one_of(st.just(","), st.sampled_from([";", "\t", "|", "\x00", '"'])),
    encoding=st.one_of(st.just("utf-8"),
                       st.sampled_from(["latin-1", "utf-16", "bogus", "", "rot13", "hex"])),
)  # fmt: skip
mapping_name = st.one_of(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True),
                         hostile_text, st.just("ok\n"), st.just("../escape"))  # fmt: skip


def store_files(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@fuzz(60)
@given(mapping_name, table_mapping, st.sampled_from(["reject", "quarantine"]))
@counted
def test_saving_a_mapping(gapdesk_home: Path, name: str, tm: TableMapping, rows: str) -> None:
    """A saved mapping reads back as it was saved; a refused one leaves no file behind."""
    mapping = SnapshotMapping(tables={tm.table: tm}, invalid_rows=rows)
    before = store_files(mappings_dir())
    try:
        path = save_mapping(actor=SYSTEM, name=name, mapping=mapping)
    except UserError as exc:
        assert str(exc).strip()
        assert store_files(mappings_dir()) == before, "a refused mapping left files behind"
        return
    assert path.parent == mappings_dir() and path.name == f"{name}.toml"
    assert saved_mappings()[name] == path
    assert dump_mapping(load_mapping(path)) == dump_mapping(mapping)
    assert [f for f in store_files(mappings_dir()) if f.startswith(".")] == []


@fuzz(50)
@given(table_mapping, st.lists(st.lists(file_text, min_size=3, max_size=3), max_size=4),
       st.booleans())  # fmt: skip
@counted
def test_a_mapping_applied_to_a_csv(tm: TableMapping, rows: list[list[str]], bom: bool) -> None:
    """A CSV read through any mapping: contract-named columns, or a UserError naming the file."""
    header = [*list(tm.columns)[:2], "extra"][:3]
    header += [f"c{i}" for i in range(3 - len(header))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        path.write_bytes(csv_bytes(header, rows, bom=bom))
        spec = Path(tmp) / "map.toml"
        try:
            mapping = parse_mapping(
                {"invalid_rows": "reject", tm.table: _as_section(tm)}, origin="map.toml"
            )
        except UserError as exc:
            assert "map.toml" in str(exc)
            mapping = SnapshotMapping(tables={tm.table: TableMapping(table=tm.table)})
        try:
            spec.write_text(dump_mapping(mapping), encoding="utf-8")
        except UserError as exc:
            assert "lone surrogate" in str(exc)  # TOML cannot hold one: nothing to apply
            return
        result = expect_clear(lambda: import_mapped_csv(path, spec), "export.csv")
        if result is not None and tm.encoding == "utf-8":  # other encodings misread rows
            [frame] = result.tables.values()
            assert len(frame) == len(rows)


def _as_section(tm: TableMapping) -> dict[str, Any]:
    section: dict[str, Any] = {
        "columns": tm.columns, "values": tm.values, "formats": tm.formats,
        "constants": tm.constants, "delimiter": tm.delimiter, "encoding": tm.encoding,
    }  # fmt: skip
    if tm.file is not None:
        section["file"] = tm.file
    return section


# --------------------------------------------------------------------------- snapshot ingest

PEOPLE = [line.split(",") for line in VALID_CSV["people"].splitlines()]
COURSES = [line.split(",") for line in VALID_CSV["courses"].splitlines()]


def _records(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(SnapshotRecord)).one())


@fuzz(20)
@given(
    people_cells=st.lists(hostile_text, min_size=1, max_size=4),
    column=st.sampled_from(["full_name", "department", "job_title", "person_id", "email",
                            "hire_date"]),
    course_title=hostile_text,
    source=st.one_of(hostile_text, wrong_type.map(toml_value)),
    bom=st.booleans(),
)  # fmt: skip
@example(people_cells=["a\x00b"], column="full_name", course_title="=1+1", source="\x00", bom=True)
@example(
    people_cells=["\ud800"],
    column="department",
    course_title="\u202eevil",
    source="\ud800",
    bom=False,
)
@example(
    people_cells=["A" * 200_000], column="person_id", course_title="e\u0301", source=None, bom=False
)
@counted
def test_ingesting_a_hostile_snapshot(
    db: Engine,
    gapdesk_home: Path,
    people_cells: list[str],
    column: str,
    course_title: str,
    source: str | None,
    bom: bool,
) -> None:
    """Stored whole with its text intact, or refused with the file named and nothing written."""
    header, *people = [list(r) for r in PEOPLE]
    at = header.index(column)
    for row, cell in zip(people, people_cells, strict=False):
        row[at] = cell
    courses_header, *courses = [list(r) for r in COURSES]
    courses[0][1] = course_title
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, text in VALID_CSV.items():
            (folder / f"{name}.csv").write_text(text, encoding="utf-8")
        (folder / "people.csv").write_bytes(csv_bytes(header, people, bom=bom))
        (folder / "courses.csv").write_bytes(csv_bytes(courses_header, courses))
        if source is not None and not source.startswith(('"', "[", "{")):
            source = json.dumps(source, ensure_ascii=False)
        toml = 'as_of = "2026-11-27T00:00:00Z"\n' + (f"source = {source}\n" if source else "")
        (folder / "snapshot.toml").write_bytes(to_bytes(toml))
        records, files = _records(db), store_files(snapshots_dir())
        try:
            outcome = ingest(engine=db, actor=SYSTEM, path=folder)
        except UserError as exc:
            message = str(exc)
            assert any(f in message for f in ("people.csv", "courses.csv", "snapshot.toml")), (
                message[:300]
            )
            assert _records(db) == records, "a refused snapshot wrote a database row"
            assert store_files(snapshots_dir()) == files, "a refused snapshot left files"
            return
    assert _records(db) == records + (0 if outcome.already_known else 1)
    stored = pd.read_parquet(snapshots_dir() / outcome.record.id / "courses.parquet")
    written = course_title.strip()
    if written and "\x00" not in written:
        assert stored["title"].iloc[0].strip() == written


# --------------------------------------------------------------------------- exports


def _for_db(text: str, engine: Engine) -> str:
    # PostgreSQL text cannot hold NUL; the services refuse it (see test_nul_is_refused_*).
    return text.replace("\x00", "") if engine.dialect.name == "postgresql" else text


def _csv_cells(text: str) -> list[dict[str, str]]:
    """The rows of an exported CSV, read the way a spreadsheet would (huge cells allowed)."""
    limit = csv.field_size_limit(1 << 30)
    try:
        return list(csv.DictReader(io.StringIO(text, newline="")))
    finally:
        csv.field_size_limit(limit)


@fuzz(30)
@given(
    titles=st.lists(st.one_of(st.sampled_from(INJECTIONS), file_text), min_size=1, max_size=3),
    comment=st.one_of(st.sampled_from(INJECTIONS), file_text),
)
@counted
def test_every_export_defuses_formula_cells(db: Engine, titles: list[str], comment: str) -> None:
    """Findings and decisions exports, snapshot tables and trend tables, as CSV."""
    titles = [_for_db(t, db) or "x" for t in titles]
    comment = comment.replace("\x00", "").strip() or "=1+1"  # a NUL is refused (test below)
    with Session(db, expire_on_commit=False) as session:
        people = _people(session)
        made = [add_finding(session, next(SERIAL), title=t[:500]) for t in titles]
        decide(session=session, actor=people["ada"], finding_id=made[0].id or 0,
               action="dismiss", reason="other", comment=comment[:4000])  # fmt: skip
        session.commit()
        manager = people["max"]
        findings = _export(finding_rows(session=session, actor=manager), FINDING_COLUMNS)
        decisions = _export(decision_rows(session=session, actor=manager), DECISION_COLUMNS)
    by_id = {f.id: f.title for f in made}
    for row in (r for r in findings if int(r["finding_id"]) in by_id):
        assert_defused(row["title"], by_id[int(row["finding_id"])])
    [dismissal] = [
        r for r in decisions if r["action"] == "dismiss" and int(r["finding_id"]) == made[0].id
    ]
    assert_defused(dismissal["comment"], comment[:4000].strip())

    frame = pd.DataFrame({"department": titles, "n": range(len(titles))})
    for text in (_safe_csv(frame), table_csv(frame)):
        for row, original in zip(_csv_cells(text), titles, strict=True):
            assert_defused(row["department"], original)


SERIAL = itertools.count(10_000)


def _people(session: Session) -> dict[str, Actor]:
    """The people of queue_fixtures, made once per database (examples share it)."""
    users = {u.name: u for u in session.exec(select(User))}
    if "ada" in users:
        return {name: Actor.of(u) for name, u in users.items()}
    return add_people(session)


def _export(rows: Any, columns: tuple[str, ...]) -> list[dict[str, str]]:
    out = io.StringIO(newline="")
    write_rows(rows, columns, out, "csv")
    return _csv_cells(out.getvalue())


def _safe_csv(frame: pd.DataFrame) -> str:
    out = io.StringIO(newline="")
    write_safe_csv(frame, out)
    return out.getvalue()


@pytest.mark.parametrize("where", ["comment", "dismissal", "suppression", "report"])
def test_a_nul_in_free_text_is_refused_clearly(session: Session, where: str) -> None:
    """PostgreSQL cannot store NUL: both databases refuse it with a message, and keep nothing."""
    from datetime import UTC, datetime, timedelta

    from review_queue.comments import add_comment
    from review_queue.decisions import DecisionRefused
    from review_queue.learner_reports import file_learner_report
    from review_queue.suppressions import create_suppression
    from review_queue.tables import Comment, FeedbackEvent, Finding, Suppression

    people = add_people(session)
    finding = add_finding(session, 1)
    fid, ada = finding.id or 0, people["ada"]
    if where == "suppression":
        decide(session=session, actor=ada, finding_id=fid, action="confirm")
        session.commit()
    counts = {t: len(session.exec(select(t)).all()) for t in (Comment, FeedbackEvent,
                                                             Finding, Suppression)}  # fmt: skip
    text = "before\x00after"
    with pytest.raises(DecisionRefused, match="NUL"):
        if where == "comment":
            add_comment(session=session, actor=ada, finding_id=fid, body=text)
        elif where == "dismissal":
            decide(session=session, actor=ada, finding_id=fid, action="dismiss",
                   reason="other", comment=text)  # fmt: skip
        elif where == "suppression":
            create_suppression(session=session, actor=ada, finding_id=fid, reason=text,
                               until=datetime.now(UTC) + timedelta(days=3))  # fmt: skip
        else:
            file_learner_report(session=session, actor=ada, learner_user_id="u1",
                                course_id="C1", what_happened=text, urgency="low",
                                allowed_courses=None)  # fmt: skip
    session.rollback()
    assert counts == {t: len(session.exec(select(t)).all()) for t in counts}
