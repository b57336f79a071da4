"""Priority learning on the demo organisation: precision of the queue's top k before any feedback
and after N simulated decisions, through the real services.

    .venv/bin/python -m tests.bench_priority_demo [--people 2000] [--days 120] [--decisions 200]

Detection fills a throwaway SQLite database; a simulated reviewer decides N findings picked at
random (seeded) from the queue, confirming exactly those in ``ground_truth.csv``; ``retrain``
trains and gates a model; the figure is the share of true gaps among the top k of the findings
still waiting, ranked by the base priority (before) and by the promoted model (after; printed
with and without the exploration share, which trades a little precision for learning).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlmodel import col, select

from app.db import open_engine, session_scope
from app.demo_org import generate_demo_org
from app.detection import run_detection
from app.evaluation import read_ground_truth
from app.learning import QUEUE_STATUSES, promoted_version, rescore_queue, retrain, usable_model
from app.sources.load import load_snapshot
from review_queue.decisions import decide
from review_queue.permissions import SYSTEM
from review_queue.tables import Finding


def _precision_top(findings: list[Finding], truth: set[tuple[str, str]], k: int) -> float:
    top = sorted(findings, key=lambda f: (-f.priority, f.id or 0))[:k]
    return float(np.mean([(f.category, f.entity_key) in truth for f in top])) if top else 0.0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench_priority_demo")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--k", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gapdesk-bench-priority-") as tmp:
        folder = Path(tmp) / "org"
        generate_demo_org(folder, seed=args.seed, people=args.people, days=args.days)
        truth = set(read_ground_truth(folder))
        snapshot = load_snapshot(folder).raise_if_rejected()
        engine = open_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        run_detection(engine=engine, actor=SYSTEM, snapshot=snapshot)
        rng = np.random.default_rng(args.seed)
        with session_scope(engine) as session:
            queue = list(
                session.exec(select(Finding).where(col(Finding.status).in_(QUEUE_STATUSES)))
            )
            n = len(queue)
            picked = rng.choice(n, size=min(args.decisions, max(n - args.k, 0)), replace=False)
            chosen = {queue[i].id for i in picked}
            for f in queue:
                if f.id in chosen:
                    real = (f.category, f.entity_key) in truth
                    decide(
                        session=session, actor=SYSTEM, finding_id=int(f.id or 0),
                        action="confirm" if real else "dismiss",
                        reason=None if real else "false_positive_rule",
                    )  # fmt: skip
        with session_scope(engine) as session:
            waiting = list(
                session.exec(select(Finding).where(col(Finding.status).in_(QUEUE_STATUSES)))
            )
            before = _precision_top(waiting, truth, args.k)
            start = time.perf_counter()
            result = retrain(session=session, actor=SYSTEM, k=args.k, home=Path(tmp))
            seconds = time.perf_counter() - start
        with session_scope(engine) as session:
            explored = _precision_top(
                list(session.exec(select(Finding).where(col(Finding.status).in_(QUEUE_STATUSES)))),
                truth,
                args.k,
            )
            row = promoted_version(session=session)
            if row is not None:
                model = usable_model(session=session, row=row, home=Path(tmp))
                rescore_queue(session=session, model=model, exploration_share=0.0, k=args.k)
        with session_scope(engine) as session:
            pure = _precision_top(
                list(session.exec(select(Finding).where(col(Finding.status).in_(QUEUE_STATUSES)))),
                truth,
                args.k,
            )
        engine.dispose()
    m = result.version.metrics
    print(
        f"demo org (seed {args.seed}, {args.people} people, {args.days} days): {n} findings in "
        f"the queue, {len(chosen)} decided at random, {len(waiting)} still waiting"
    )
    print(
        f"retrain: {'promoted' if result.promoted else 'kept as candidate'} ({result.reason}); "
        f"held-out precision@{m['k_evaluated']} {m['precision_at_k']:.3f} vs "
        f"{m['current_precision_at_k']:.3f}; {seconds:.1f} s"
    )
    gain = (pure / before - 1.0) * 100 if before else float("inf")
    print(
        f"precision of the top {args.k} still waiting: before feedback {before:.3f}; after "
        f"{len(chosen)} decisions {pure:.3f} ({gain:+.0f}% relative), "
        f"{explored:.3f} with 10% exploration"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
