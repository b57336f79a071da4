"""Benchmark: validation + ingest of the demo organisation (rows per second, peak memory).

    .venv/bin/python -m tests.bench.bench_ingest --people 2000 --people 100000

Each size is generated first (not timed), then ingested by a separate process into a fresh
GAPDESK_HOME and SQLite database, so the peak memory printed is the ingest's own (max RSS).
Short mode for CI: ``--people 300``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(folder: str) -> int:
    from app.core.db import open_engine
    from app.sources.store import ingest
    from review_queue.permissions import SYSTEM

    engine = open_engine(f"sqlite:///{Path(os.environ['GAPDESK_HOME']) / 'bench.db'}")
    started = time.perf_counter()
    outcome = ingest(engine=engine, actor=SYSTEM, path=folder)
    seconds = time.perf_counter() - started
    rows = sum(int(n) for n in outcome.record.row_counts.values())
    print(f"{rows} {seconds:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, action="append", help="repeatable; default 2000")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child)
    from app.demo.organisation import generate_demo_org

    for people in args.people or [2000]:
        with tempfile.TemporaryDirectory(prefix="gapdesk-bench-ingest-") as tmp:
            folder = Path(tmp) / "org"
            generate_demo_org(folder, seed=1, people=people, days=120 if people > 300 else 40)
            env = {**os.environ, "GAPDESK_HOME": str(Path(tmp) / "home"),
                   "GAPDESK_DATABASE_URL": ""}  # fmt: skip
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            done = subprocess.run(
                [sys.executable, "-m", "tests.bench.bench_ingest", "--child", str(folder)],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            peak_kib = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
            rows, seconds = done.stdout.split()
            n, s = int(rows), float(seconds)
            print(
                f"ingest of the demo organisation, {people:,} people: {n:,} rows in {s:.1f} s "
                f"= {n / s:,.0f} rows/s; peak memory {peak_kib / 1024:,.0f} MiB"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
