"""Benchmark: the review queue's main query (filter + sort + page of 50) at scale.

    .venv/bin/python -m tests.bench.bench_queue --findings 100000 1000000 \
        [--backends sqlite postgres]

Fills a fresh database per size with synthetic findings (bulk insert), then times the queries the
Review queue page runs on each load: a page of 50 open findings by priority, the same filtered by
category and department, a free-text search, and the counts per status. Prints the median
milliseconds over repeated runs. Short mode for CI: ``--findings 5000``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import build_engine, upgrade
from models.taxonomy import DETECTED_CATEGORIES
from review_queue.permissions import Actor
from review_queue.queue import QueueFilter, list_findings
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


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` in milliseconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench(engine: Engine, repeat: int) -> dict[str, float]:
    """Median ms of each query the queue page runs."""
    admin = Actor(id=1, name="bench", role=Role.admin)
    queries = {
        "open page 1": QueueFilter(),
        "open page 1 by category+dept": QueueFilter(
            categories=("compliance_overdue",), department="Legal"
        ),
        "free text search": QueueFilter(text="E12345"),
        # Text in every title: the index finds every row, the page still sorts them all.
        "free text, matches all": QueueFilter(text="needs a look"),
        "all statuses": QueueFilter(statuses=()),
    }
    out = {}
    with Session(engine) as session:
        for label, f in queries.items():
            out[label] = median_ms(
                lambda f=f: list_findings(session=session, actor=admin, queue_filter=f), repeat
            )
        out["deep page (page 100)"] = median_ms(
            lambda: list_findings(session=session, actor=admin, queue_filter=QueueFilter(),
                                  page=100),
            repeat,
        )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, nargs="+", default=[5000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
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
                    if backend == "postgres":
                        with engine.begin() as conn:
                            conn.exec_driver_sql("ANALYZE findings")
                    filled = time.perf_counter() - t0
                    print(f"{backend} {n:,} findings (filled in {filled:.1f} s):")
                    for label, ms in bench(engine, args.repeat).items():
                        print(f"  {label:32s} median {ms:8.1f} ms")
                finally:
                    engine.dispose()
                    if cleanup:
                        drop_pg_database(PG_ADMIN_URL, cleanup)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
