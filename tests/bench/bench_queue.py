"""Benchmark: the review queue's main query (filter + sort + page of 50) at scale.

    .venv/bin/python -m tests.bench.bench_queue --findings 100000 1000000 \
        [--backends sqlite postgres]

Fills a fresh database per size with synthetic findings (bulk insert; the count rows of migration
0014 follow by trigger, then one fold), then times the queries the Review queue page runs on each
load: a page of 50 open findings by priority, the same filtered by category and department, a
free-text search, the counts per status. Then a decision's cost: the median of confirming
findings one transaction each, with the count triggers in place and again with them dropped (what
a decision cost before), and the time of one fold. Prints the median milliseconds over repeated
runs. Short mode for CI: ``--findings 2000 --repeat 3``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sqlalchemy import func, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.auth.accounts import create_user
from app.core.db import build_engine, upgrade
from models.taxonomy import DETECTED_CATEGORIES
from review_queue.decisions import decide
from review_queue.permissions import SYSTEM, Actor
from review_queue.queue import QueueFilter, list_findings
from review_queue.queue_counts import (
    POSTGRES_DROP,
    POSTGRES_TRIGGERS,
    SQLITE_DROP,
    SQLITE_TRIGGERS,
    fold_queue_counts,
)
from review_queue.tables import Finding, Role
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database

STATUSES = np.array(["new"] * 6 + ["in_review", "confirmed", "dismissed", "resolved"])
SEVERITIES = np.array(["low", "medium", "high", "critical"])
DEPARTMENTS = np.array(["Sales", "Legal", "Finance", "Engineering", "Support", "Operations"])


def fill(engine: Engine, n: int, seed: int = 7) -> None:
    """Insert ``n`` synthetic findings in batches."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    batch = 20_000
    with engine.begin() as conn:
        for lo in range(0, n, batch):
            hi = min(n, lo + batch)
            size = hi - lo
            cats = rng.choice(np.array(DETECTED_CATEGORIES), size)
            rows = [
                {
                    "category": str(cats[i]),
                    "entity_key": f"enrollment=E{lo + i}",
                    "title": f"Enrolment E{lo + i} needs a look ({cats[i]})",
                    "detector": str(cats[i]),
                    "detector_version": "1",
                    "score": float(s),
                    "priority": float(p),
                    "severity": str(sev),
                    "status": str(st),
                    "first_seen_at": start + timedelta(minutes=int(m)),
                    "last_seen_at": start + timedelta(minutes=int(m)),
                    "occurrences": 1,
                    "evidence": {},
                    "features": {},
                    "explanation": "",
                    "regression": False,
                    "row_version": 1,
                    "department": str(dep),
                    "course_id": f"C{int(c):04d}",
                }
                for i, (s, p, sev, st, m, dep, c) in enumerate(
                    zip(
                        rng.random(size),
                        rng.random(size),
                        rng.choice(SEVERITIES, size),
                        rng.choice(STATUSES, size),
                        rng.integers(0, 250_000, size),
                        rng.choice(DEPARTMENTS, size),
                        rng.integers(0, 500, size),
                        strict=True,
                    )
                )
            ]
            conn.execute(insert(Finding), rows)


class Timing(NamedTuple):
    """Median milliseconds of wall time, and of this process's CPU (all of SQLite's work; for
    PostgreSQL only the client's)."""

    wall: float
    cpu: float


def median_ms(fn: Callable[[], object], repeat: int) -> Timing:
    """Median wall and CPU time of ``fn`` in milliseconds (after one warm-up call)."""
    fn()
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return Timing(float(statistics.median(times)), float(statistics.median(cpu)))


def decision_costs(engine: Engine, repeat: int) -> dict[str, Timing]:
    """Median ms of one committed decision with the count triggers, then without them."""
    with Session(engine, expire_on_commit=False) as session:
        tag = f"{time.time_ns()}"
        admin = Actor.of(
            create_user(session=session, actor=SYSTEM, name=f"bench-{tag}",
                        email=f"bench-{tag}@example.org", role=Role.admin.value, password=None)
        )  # fmt: skip
        session.commit()
        waiting = [
            int(i or 0)
            for i in session.exec(
                select(col(Finding.id)).where(col(Finding.status) == "new").limit(4 * repeat + 4)
            )
        ]
    queue = iter(waiting)

    def one() -> None:
        with Session(engine) as session:
            decide(session=session, actor=admin, finding_id=next(queue), action="confirm")
            session.commit()

    out = {"decision, counts kept": median_ms(one, repeat)}
    with engine.begin() as conn:
        drops = SQLITE_DROP if engine.dialect.name == "sqlite" else POSTGRES_DROP
        for statement in drops:
            conn.exec_driver_sql(statement)
    try:
        out["decision, no counts (before)"] = median_ms(one, repeat)
    finally:
        with engine.begin() as conn:
            creates = SQLITE_TRIGGERS if engine.dialect.name == "sqlite" else POSTGRES_TRIGGERS
            for statement in creates:
                conn.exec_driver_sql(statement)
    kept, before = out["decision, counts kept"], out["decision, no counts (before)"]
    out["decision overhead"] = Timing(kept.wall - before.wall, kept.cpu - before.cpu)
    with Session(engine) as session:
        t0, c0 = time.perf_counter(), time.process_time()
        fold_queue_counts(session)
        session.commit()
        out["one fold"] = Timing(
            (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        )
    return out


def bench(engine: Engine, repeat: int) -> dict[str, Timing]:
    """Median ms of each query the queue page runs."""
    admin = Actor(id=1, name="bench", role=Role.admin)
    queries = {
        "open page 1": QueueFilter(),
        "open page 1 by category+dept": QueueFilter(
            categories=("compliance_overdue",), department="Legal"
        ),
        "open page 1, one course": QueueFilter(course="C0042"),
        "free text search": QueueFilter(text="E12345"),
        # Text in every title: the index finds every row, the page still sorts them all.
        "free text, matches all": QueueFilter(text="needs a look"),
        "all statuses": QueueFilter(statuses=()),
    }
    out: dict[str, Timing] = {}
    with Session(engine) as session:
        for label, f in queries.items():
            out[label] = median_ms(partial(list_findings, session=session, actor=admin,
                                           queue_filter=f), repeat)  # fmt: skip
        out["deep page (page 100)"] = median_ms(
            lambda: list_findings(session=session, actor=admin, queue_filter=QueueFilter(),
                                  page=100),
            repeat,
        )  # fmt: skip
    return out


def settle_after_fill(engine: Engine) -> None:
    """What a detection run leaves behind after a fill: folded counts and fresh statistics.

    The fill writes one statement per finding, so PostgreSQL's ``queue_counts`` file keeps the
    size of a million loose rows after the fold until ``VACUUM FULL`` (see the README's caveat);
    a detection run's batched inserts never leave it that large.
    """
    with Session(engine) as session:
        fold_queue_counts(session)
        session.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM FULL queue_counts")
            conn.exec_driver_sql("ANALYZE findings")


def report(engine: Engine, backend: str, n: int, filled: float, repeat: int) -> None:
    """Print the page figures and the decision costs of one filled database."""
    with Session(engine) as session:
        n = n if n >= 0 else int(session.exec(select(func.count()).select_from(Finding)).one())
        fold_queue_counts(session)  # as the detection run that filled it would have
        session.commit()
    print(f"{backend} {n:,} findings (filled in {filled:.1f} s):")
    cpu0 = time.process_time()
    figures = bench(engine, repeat)
    figures.update(decision_costs(engine, repeat))
    for label, t in figures.items():
        print(f"  {label:32s} median {t.wall:8.1f} ms (CPU {t.cpu:6.1f} ms)")
    print(
        f"  (CPU of this process while timing: {time.process_time() - cpu0:.1f} s;"
        f" load average {os.getloadavg()[0]:.1f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, nargs="+", default=[5000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--database", help="time an already filled database (URL) instead of filling new ones"
    )
    args = parser.parse_args(argv)
    if args.database:
        engine = build_engine(args.database)
        try:
            upgrade(engine)
            report(engine, args.database.split(":")[0], -1, 0.0, args.repeat)
        finally:
            engine.dispose()
        return 0
    for backend in args.backends:
        for n in args.findings:
            with tempfile.TemporaryDirectory() as tmp:
                if backend == "sqlite":
                    url, cleanup = f"sqlite:///{Path(tmp) / 'bench.db'}", None
                else:
                    url = create_pg_database(PG_ADMIN_URL)
                    cleanup = url
                engine = build_engine(url)
                try:
                    upgrade(engine)
                    t0 = time.perf_counter()
                    fill(engine, n)
                    settle_after_fill(engine)
                    filled = time.perf_counter() - t0
                    report(engine, backend, n, filled, args.repeat)
                finally:
                    engine.dispose()
                    if cleanup:
                        drop_pg_database(PG_ADMIN_URL, cleanup)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
