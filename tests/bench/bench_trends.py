"""Benchmark: the Trends page's queries over a large queue, on SQLite and PostgreSQL.

    .venv/bin/python -m tests.bench.bench_trends --findings 1000000 --events 5000000

prints the median milliseconds of each query the page runs (last 12 weeks, no filter, then
with a department and a category filter), read from the trend roll-ups (migration 0015), then the
whole page once by the full scan the roll-ups replace, and a decision's cost with the roll-up
triggers and without them. The defaults are small so CI can run it quickly.
The data is bulk-loaded (executemany in one transaction on SQLite, COPY on PostgreSQL): a year
of findings, each with a realistic review history (claim, decision, resolution or reopening,
reassignments) in the feedback log.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import build_engine, upgrade
from models.taxonomy import CATEGORIES
from review_queue.decisions import decide
from review_queue.permissions import Actor
from review_queue.tables import Role
from review_queue.trends.backlog import compliance_exposure, open_backlog
from review_queue.trends.cycle_times import cycle_times
from review_queue.trends.filters import TrendFilters, trend_filter_options
from review_queue.trends.flow import gap_flow
from review_queue.trends.locations import gap_locations
from review_queue.trends.precision import detector_precision
from review_queue.trends.report import trend_report
from review_queue.trends.rollup_triggers import create_triggers, drop_triggers
from review_queue.trends.rollups import full_computation
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database

MANAGER = Actor(id=None, name="bench", role=Role.manager)
DEPARTMENTS = [f"Dept {chr(65 + i)}" for i in range(12)]
FINDING_COLUMNS = [
    "id", "category", "entity_key", "title", "detector", "detector_version", "score", "priority",
    "severity", "status", "first_seen_at", "last_seen_at", "occurrences", "explanation",
    "evidence", "features", "row_version", "department", "course_id", "regression",
]  # fmt: skip
EVENT_COLUMNS = [
    "id", "finding_id", "at", "actor", "action", "from_status", "to_status",
    "prev_hash", "row_hash",
]  # fmt: skip
CHUNK = 200_000


# --------------------------------------------------------------------------- synthetic queue


def make_findings(n: int, now: datetime, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` findings first seen over the past year, with departments and courses."""
    ids = np.arange(1, n + 1)
    cats = np.array(list(CATEGORIES))
    category = cats[rng.integers(0, len(cats), n)]
    has_course = rng.random(n) < 0.5
    course = np.where(has_course, "C" + (ids % 800).astype(str), "")
    key = np.where(
        has_course,
        "person=P" + ids.astype(str) + ";course=" + course,
        "enrollment=E" + ids.astype(str),
    )
    # Naive UTC throughout: numpy datetime arithmetic, formatted as each database stores it.
    seen = pd.Timestamp(now.replace(tzinfo=None)) - pd.to_timedelta(
        rng.uniform(0, 365 * 86400, n), unit="s"
    )
    dept = np.array(DEPARTMENTS)[rng.integers(0, len(DEPARTMENTS), n)]
    where = rng.random(n)
    # Most findings carry their department in the column; older ones only in their evidence.
    department = np.where(where < 0.7, dept, "")
    evidence = np.where((where >= 0.7) & (where < 0.9), '{"department": "' + dept + '"}', "{}")
    return pd.DataFrame(
        {
            "id": ids,
            "category": category,
            "entity_key": key,
            "title": "gap",
            "detector": np.char.add(category.astype(str), "_rule"),
            "detector_version": "1",
            "score": rng.random(n).round(3),
            "priority": rng.random(n).round(3),
            "severity": "medium",
            "status": "new",
            "first_seen_at": seen,
            "last_seen_at": seen,
            "occurrences": 1,
            "explanation": "synthetic",
            "evidence": evidence,
            "features": "{}",
            "row_version": 1,
            "department": department,
            "course_id": course,
            "regression": False,
        }
    )


def make_events(
    findings: pd.DataFrame, m: int, now: datetime, rng: np.random.Generator
) -> pd.DataFrame:
    """``m`` feedback-log rows: per finding, claim → decision → resolution or reopening →
    reassignments, in time order; also sets each finding's final status."""
    n = len(findings)
    per = np.full(n, m // n)
    per[rng.choice(n, m - per.sum(), replace=False)] += 1
    seen = findings["first_seen_at"].to_numpy()
    confirm = rng.random(n) < 0.6
    parts = []
    at = seen.copy()
    status = np.full(n, "new", dtype=object)
    for pos in range(int(per.max())):
        idx = np.nonzero(per > pos)[0]
        hours = {0: (0.5, 72), 1: (1, 240), 2: (24, 720)}.get(pos, (1, 480))
        at[idx] = at[idx] + pd.to_timedelta(rng.uniform(*hours, len(idx)), unit="h").to_numpy()
        frm = status[idx].copy()
        if pos == 0:
            action, to = np.full(len(idx), "claim"), np.full(len(idx), "in_review")
        elif pos == 1:
            to = np.where(confirm[idx], "confirmed", "dismissed")
            action = np.where(confirm[idx], "confirm", "dismiss")
        elif pos == 2:
            to = np.where(confirm[idx], "resolved", "new")
            action = np.where(confirm[idx], "resolve", "reopen")
        else:
            to, action = frm.astype(str), np.full(len(idx), "assign")
        status[idx] = to
        parts.append(
            pd.DataFrame(
                {
                    "finding_id": idx + 1,
                    "at": at[idx],
                    "action": action,
                    "from_status": frm,
                    "to_status": to,
                }
            )
        )
    events = pd.concat(parts, ignore_index=True)
    # A decision that would lie in the future happened "just now" instead.
    limit = pd.Timestamp(now.replace(tzinfo=None))
    events["at"] = events["at"].where(events["at"] < limit, limit - pd.Timedelta(minutes=1))
    events = events.sort_values("at", kind="stable", ignore_index=True)
    events.insert(0, "id", np.arange(1, len(events) + 1))
    events["actor"] = "admin"
    events["prev_hash"] = "p" + events["id"].astype(str)
    events["row_hash"] = "h" + events["id"].astype(str)
    findings["status"] = status
    return events[EVENT_COLUMNS]


# --------------------------------------------------------------------------- bulk loading


def _times(series: pd.Series, dialect: str) -> pd.Series:
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    out = series.dt.strftime(fmt)
    # SQLite keeps naive UTC text (as UTCDateTime writes it); PostgreSQL gets an explicit zone.
    return out if dialect == "sqlite" else out + "+00"


def _prepared(frame: pd.DataFrame, dialect: str) -> pd.DataFrame:
    frame = frame.copy()
    for column in ("first_seen_at", "last_seen_at", "at"):
        if column in frame:
            frame[column] = _times(frame[column], dialect)
    for column in ("department", "course_id", "from_status"):
        if column in frame:
            frame[column] = frame[column].replace("", None)
    return frame


def bulk_load(engine: Engine, findings: pd.DataFrame, events: pd.DataFrame) -> None:
    """Insert both tables as fast as each database allows, then refresh planner statistics."""
    dialect = engine.dialect.name
    for table, frame, columns in (
        ("findings", findings, FINDING_COLUMNS),
        ("feedback_log", events, EVENT_COLUMNS),
    ):
        for start in range(0, len(frame), CHUNK):
            chunk = _prepared(frame.iloc[start : start + CHUNK][columns], dialect)
            if dialect == "sqlite":
                _sqlite_insert(engine, table, columns, chunk)
            else:
                _pg_copy(engine, table, columns, chunk)
    with engine.begin() as conn:
        if dialect == "postgresql":
            # COPY with explicit ids leaves the id sequences at 1: later inserts (a decision)
            # must get ids after the loaded rows.
            for table in ("findings", "feedback_log"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                    )
                )
        conn.execute(text("ANALYZE"))


def _sqlite_insert(engine: Engine, table: str, columns: list[str], chunk: pd.DataFrame) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN")
        marks = ", ".join("?" for _ in columns)
        rows = chunk.astype(object).where(chunk.notna(), None).itertuples(index=False, name=None)
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608
        cur.execute("COMMIT")
    finally:
        raw.close()


def _pg_copy(engine: Engine, table: str, columns: list[str], chunk: pd.DataFrame) -> None:
    raw = engine.raw_connection()
    try:
        buf = io.StringIO()
        chunk.to_csv(buf, header=False, index=False)
        cur = raw.cursor()
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
        with cur.copy(sql) as copy:  # type: ignore[attr-defined]
            copy.write(buf.getvalue())
        raw.commit()
    finally:
        raw.close()


# --------------------------------------------------------------------------- timing


def page_queries(filters: TrendFilters) -> dict[str, Callable[[Session], Any]]:
    """The services the Trends page calls, by name, for ``filters``."""
    common: dict[str, Any] = {"actor": MANAGER, "filters": filters}
    return {
        "filter options": lambda s: trend_filter_options(session=s, actor=MANAGER),
        "gaps per week (flow)": lambda s: gap_flow(session=s, **common),
        "open backlog + weekly": lambda s: open_backlog(session=s, **common),
        "time to triage/resolve": lambda s: cycle_times(session=s, **common),
        "detector precision": lambda s: detector_precision(session=s, **common),
        "where (dept, courses)": lambda s: gap_locations(session=s, **common, learners=50_000),
        "compliance exposure": lambda s: compliance_exposure(session=s, **common),
        "whole page (report)": lambda s: trend_report(session=s, **common, learners=50_000),
    }


def time_queries(engine: Engine, repeat: int) -> Iterator[tuple[str, str, float, float]]:
    """(filters, query, median ms, min ms) for each of the page's queries, as each finishes."""
    base = TrendFilters.last_weeks(12)
    variants = {
        "12 weeks": base,
        "12 weeks, 1 dept + 1 category": TrendFilters(
            base.start, base.end, departments=(DEPARTMENTS[0],), categories=("compliance_overdue",)
        ),
    }
    for label, filters in variants.items():
        for name, query in page_queries(filters).items():
            runs = []
            with Session(engine) as session:
                query(session)  # warm the caches once; the page is opened more than once
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    query(session)
                    runs.append((time.perf_counter() - t0) * 1000)
            yield label, name, statistics.median(runs), min(runs)


def full_scan_ms(engine: Engine) -> float:
    """One whole page by the full scan (the computation before the roll-ups), in ms."""
    with Session(engine) as session, full_computation():
        t0 = time.perf_counter()
        trend_report(session=session, actor=MANAGER, filters=TrendFilters.last_weeks(12))
        return (time.perf_counter() - t0) * 1000


def decision_costs(engine: Engine, repeat: int) -> tuple[float, float]:
    """Median ms of one committed confirm with the roll-up triggers, and without them."""
    with Session(engine) as session:
        admin_id = session.execute(text("SELECT min(id) FROM users")).scalar()
        waiting = iter(
            int(i)
            for (i,) in session.execute(
                text("SELECT id FROM findings WHERE status = 'new' LIMIT :n"), {"n": 4 * repeat + 4}
            )
        )
    admin = Actor(id=admin_id, name="bench", role=Role.admin)

    def one() -> float:
        with Session(engine) as session:
            t0 = time.perf_counter()
            decide(session=session, actor=admin, finding_id=next(waiting), action="confirm")
            session.commit()
            return (time.perf_counter() - t0) * 1000

    one()  # warm up
    kept = statistics.median(one() for _ in range(repeat))
    dialect = engine.dialect.name
    with engine.begin() as conn:
        for statement in drop_triggers(dialect):
            conn.exec_driver_sql(statement)
    try:
        without = statistics.median(one() for _ in range(repeat))
    finally:
        with engine.begin() as conn:
            for statement in create_triggers(dialect):
                conn.exec_driver_sql(statement)
    return kept, without


def ensure_admin(engine: Engine) -> None:
    """A reviewer for the decisions (the bulk load adds findings, not people)."""
    from app.auth.accounts import create_user
    from review_queue.permissions import SYSTEM

    with Session(engine) as session:
        create_user(
            session=session,
            actor=SYSTEM,
            name="bench-admin",
            email="bench-admin@example.org",
            role=Role.admin.value,
            password=None,
        )
        session.commit()


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[Engine]:
    """A migrated, empty database of ``backend`` for the run, removed afterwards."""
    if backend == "sqlite":
        engine = build_engine(f"sqlite:///{workdir / 'bench.db'}")
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    url = create_pg_database(PG_ADMIN_URL)
    engine = build_engine(url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        drop_pg_database(PG_ADMIN_URL, url)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per query."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if args.events < args.findings:
        parser.error("--events must be at least --findings (every finding has a history)")
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    rng = np.random.default_rng(7)
    findings = make_findings(args.findings, now, rng)
    events = make_events(findings, args.events, now, rng)
    print(
        f"generated {len(findings):,} findings and {len(events):,} feedback-log rows "
        f"in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp, database(backend, Path(tmp)) as engine:
            t0 = time.perf_counter()
            bulk_load(engine, findings, events)
            print(f"[{backend}] loaded in {time.perf_counter() - t0:.1f} s", flush=True)
            for label, name, median, best in time_queries(engine, args.repeat):
                print(
                    f"[{backend}] {label:<30} {name:<24} median {median:9.1f} ms"
                    f"   (best {best:9.1f} ms, {args.repeat} runs)",
                    flush=True,
                )
            print(f"[{backend}] whole page by the full scan (1 run): {full_scan_ms(engine):.1f} ms")
            ensure_admin(engine)
            kept, without = decision_costs(engine, max(args.repeat, 5))
            print(
                f"[{backend}] decision: median {kept:.1f} ms with the roll-up triggers,"
                f" {without:.1f} ms without: overhead {kept - without:+.1f} ms"
                f" (load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
