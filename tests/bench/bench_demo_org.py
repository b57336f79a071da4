"""Benchmark: how long the demo organisation takes to generate and how much memory it needs.

Run: ``python -m tests.bench.bench_demo_org --people 2000 --people 100000`` (one line per size);
``--people 1000000`` generates shard by shard (100,000 people each); ``--shard-people N`` sets the
shard size (memory follows it, not the total); ``--keep DIR`` keeps the files (one size only).
Not collected by pytest (the name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from app.demo.organisation import generate_demo_org


def measure(
    people: int, days: int, seed: int, out: Path, trace: bool, shard_people: int | None = None
) -> str:
    """Generate once into ``out`` and return a line of figures."""
    if trace:
        tracemalloc.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    summary = generate_demo_org(
        out, seed=seed, people=people, days=days, overwrite=True, shard_people=shard_people
    )
    seconds = time.perf_counter() - started
    # CPU time too: on a shared machine the wall time says more about the neighbours.
    cpu = time.process_time() - cpu_started
    traced = ""
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        traced = f", tracemalloc peak {peak / 2**20:,.0f} MiB"
    # ru_maxrss is the process's high-water mark (KiB on Linux), across all sizes run so far.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
    return (
        f"people={people:,} days={days}: {seconds:.2f} s ({cpu:.2f} s CPU), "
        f"{summary.total_rows:,} rows "
        f"({summary.total_rows / seconds:,.0f} rows/s; "
        f"enrollments {summary.rows['enrollments']:,}, activity {summary.rows['activity']:,}), "
        f"{size:,.0f} MiB on disk, "
        f"peak RSS {rss:,.0f} MiB{traced}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, action="append", help="repeatable; default 2000")
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python allocations (slower)"
    )
    parser.add_argument("--shard-people", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the files")
    args = parser.parse_args(argv)
    sizes = args.people or [2000]
    if args.keep is not None and len(sizes) > 1:
        parser.error("--keep takes one --people")
    for people in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            out = args.keep or Path(tmp)
            line = measure(people, args.days, args.seed, out, args.tracemalloc, args.shard_people)
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
