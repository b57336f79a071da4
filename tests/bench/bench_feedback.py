"""One feedback step that re-ranks the whole queue, through the real queue services.

    .venv/bin/python -m tests.bench.bench_feedback [--data CSV] [--steps 60]
        [--backends sqlite postgres] [--writers fast orm]

Issue 16's target: one step at an 11,000-finding queue (the ODDS "mammography" set: 11,183
items, 6 features, 260 anomalies) in at most 100 ms. Every item becomes an open finding; each
step takes the queue's top finding, decides it through ``review_queue.decisions.decide`` from
the label, updates the active anomaly discovery model, re-scores every item and writes the
open findings' new priorities (``app.learning.ranking.write_priority_values``, or with
``--writers orm`` the ORM bulk update used before). The step's wall time (median and p95) and
this process's CPU time are printed per database; the server's own CPU on PostgreSQL is in the
wall time only. The data file is ``mammography.csv`` from shubhomoydas/ad_examples (MIT
licence, © 2018 Shubhomoy Das; ``ad_examples/datasets/anomaly/mammography/fullsamples/
mammography_1.csv``, label column ``ground.truth``), looked for in ``GAPDESK_ANOMALY_DATA`` and
``/work/data/anomaly``; without it a synthetic set of the same size is timed instead (timing
only: its found counts mean nothing), and the output says so.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from app.core.db import open_engine
from app.learning.discovery_bench import (
    BenchRun,
    _fast_write,
    read_labelled_csv,
    run_once,
    write_priorities_orm,
)
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database

PLACES = [
    Path(os.environ.get("GAPDESK_ANOMALY_DATA", "/work/shared/data/anomaly")),
    Path("/work/data/anomaly"),
]
MAMMOGRAPHY_ITEMS, MAMMOGRAPHY_FEATURES, MAMMOGRAPHY_ANOMALIES = 11_183, 6, 260
WRITERS = {"fast": _fast_write, "orm": write_priorities_orm}


def mammography_path() -> Path | None:
    """The real mammography file, where one of the known places holds it."""
    for place in PLACES:
        if (place / "mammography.csv").is_file():
            return place / "mammography.csv"
    return None


def synthetic_set(items: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A set of mammography's shape (6 features, 2.3% anomalies shifted away): timing only."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(items, MAMMOGRAPHY_FEATURES))
    y = np.zeros(items, dtype=bool)
    n_anom = max(1, round(items * MAMMOGRAPHY_ANOMALIES / MAMMOGRAPHY_ITEMS))
    y[rng.choice(items, n_anom, replace=False)] = True
    X[y] += rng.normal(2.5, 1.0, size=(n_anom, MAMMOGRAPHY_FEATURES))
    return X, y


def load_average() -> str:
    """The machine's load average now (it is shared: wall times depend on it)."""
    out = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    return out.split("load average:")[-1].strip() if "load average" in out else "unknown"


def run_on(backend: str, X: np.ndarray, y: np.ndarray, steps: int, writer: str) -> BenchRun:
    """One run of ``steps`` feedback steps on a throwaway database of ``backend``."""
    with tempfile.TemporaryDirectory(prefix="gapdesk-bench-") as tmp:
        if backend == "sqlite":
            url, cleanup = f"sqlite:///{Path(tmp) / 'bench.db'}", None
        else:
            url = create_pg_database(PG_ADMIN_URL)
            cleanup = url
        engine = open_engine(url)
        try:
            return run_once(X, y, budget=steps, seed=0, engine=engine, writer=WRITERS[writer])
        finally:
            engine.dispose()
            if cleanup:
                drop_pg_database(PG_ADMIN_URL, cleanup)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="labelled CSV (first: label)")
    parser.add_argument("--label-column", default="ground.truth")
    parser.add_argument(
        "--items", type=int, default=MAMMOGRAPHY_ITEMS, help="synthetic set's size (no data file)"
    )
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--writers", nargs="+", default=["fast"], choices=sorted(WRITERS))
    args = parser.parse_args(argv)
    path = args.data or mammography_path()
    if path is not None and args.data is None and args.items != MAMMOGRAPHY_ITEMS:
        path = None  # a smaller size asked for: the synthetic set
    if path is not None:
        X, y = read_labelled_csv(path, args.label_column, "anomaly")
        what = f"{path.name}: {len(X):,} items, {X.shape[1]} features, {int(y.sum())} anomalies"
    else:
        X, y = synthetic_set(args.items)
        what = (
            f"synthetic set of {len(X):,} items, {X.shape[1]} features (no mammography.csv: "
            "timing only)"
        )
    print(f"feedback steps re-ranking the whole queue; {what}; {args.steps} steps")
    for backend in args.backends:
        for writer in args.writers:
            r = run_on(backend, X, y, args.steps, writer)
            print(
                f"  {backend:10s} {writer:4s} one step median {r.step_median * 1000:7.1f} ms  "
                f"p95 {r.step_p95 * 1000:7.1f} ms  CPU median {r.cpu_median * 1000:6.1f} ms  "
                f"(model update {r.update_seconds * 1000:.1f} ms, priorities written "
                f"{r.write_seconds * 1000:.1f} ms; found {r.found} of {args.steps}) "
                f"load average {load_average()}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
