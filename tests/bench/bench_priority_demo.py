"""Priority learning on the demo organisation: precision of the queue's top k before any feedback
and after N simulated decisions, through the real services.

    .venv/bin/python -m tests.bench.bench_priority_demo [--people 2000] [--days 120]
                                                  [--decisions 200]
                                                  [--seeds 1 2 3 4 5] [--no-near-misses]

The demo organisation is generated with its near misses (look-alikes the rules flag and the
organisation knows to be fine: ``near_misses.csv``), as a real organisation has them; without
them the queue's top is all real gaps before any feedback and there is nothing to learn.
Detection fills a throwaway SQLite database; a simulated reviewer decides N findings picked at
random (seeded) from the queue, confirming exactly those in ``ground_truth.csv`` and dismissing
the rest (near misses with their reason, ``expected``; other false alarms as
``false_positive_rule``); ``retrain``
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

from app.core.db import open_engine, session_scope
from app.demo.organisation import generate_demo_org
from app.detection.labelled import read_ground_truth, read_near_misses
from app.detection.run import run_detection
from app.learning.frames import QUEUE_STATUSES
from app.learning.model_store import promoted_version, usable_model
from app.learning.ranking import queue_priorities, write_priorities
from app.learning.retraining import retrain
from app.learning.rule_ledger import rule_ledger_tables
from app.sources.load import load_snapshot
from models.learning.ledger import ExceptionSuggestion
from review_queue.decisions import decide
from review_queue.permissions import SYSTEM
from review_queue.tables import Finding


def _precision_top(findings: list[Finding], truth: set[tuple[str, str]], k: int) -> float:
    top = sorted(findings, key=lambda f: (-f.priority, f.id or 0))[:k]
    return float(np.mean([(f.category, f.entity_key) in truth for f in top])) if top else 0.0


def run_seed(args: argparse.Namespace, seed: int) -> tuple[float, float]:
    """One organisation: print its figures; returns precision before and after feedback."""
    with tempfile.TemporaryDirectory(prefix="gapdesk-bench-priority-") as tmp:
        folder = Path(tmp) / "org"
        summary = generate_demo_org(
            folder, seed=seed, people=args.people, days=args.days,
            near_misses=args.near_misses,
        )  # fmt: skip
        truth = set(read_ground_truth(folder))
        reasons = read_near_misses(folder)
        snapshot = load_snapshot(folder).raise_if_rejected()
        engine = open_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        run_detection(engine=engine, actor=SYSTEM, snapshot=snapshot)
        rng = np.random.default_rng(seed)
        with session_scope(engine) as session:
            queue = list(
                session.exec(select(Finding).where(col(Finding.status).in_(QUEUE_STATUSES)))
            )
            n = len(queue)
            picked = rng.choice(n, size=min(args.decisions, max(n - args.k, 0)), replace=False)
            # In the order they were picked: a reviewer's order, not the detectors' (which runs
            # category by category and would leave the held-out decisions all of a few kinds).
            for f in (queue[i] for i in picked):
                key = (f.category, f.entity_key)
                real = key in truth
                decide(
                    session=session, actor=SYSTEM, finding_id=int(f.id or 0),
                    action="confirm" if real else "dismiss",
                    reason=None if real else reasons.get(key, "false_positive_rule"),
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
                write_priorities(
                    session=session,
                    params=queue_priorities(
                        session=session, model=model, exploration_share=0.0, k=args.k
                    ),
                )
        with session_scope(engine) as session:
            pure = _precision_top(
                list(session.exec(select(Finding).where(col(Finding.status).in_(QUEUE_STATUSES)))),
                truth,
                args.k,
            )
            _, suggestions = rule_ledger_tables(session=session, actor=SYSTEM)
        engine.dispose()
    suggested = [x for x in suggestions if isinstance(x, ExceptionSuggestion)]
    # A careful admin applies the exceptions that would have removed no confirmed gap.
    exceptions = [x for x in suggested if x.removes_confirmed == 0]

    def excepted(f: Finding) -> bool:
        return any(f.detector == x.detector and getattr(f, x.place) == x.value for x in exceptions)

    near_waiting = [f for f in waiting if (f.category, f.entity_key) in reasons]
    real_waiting = [f for f in waiting if (f.category, f.entity_key) in truth]
    m = result.version.metrics
    print(
        f"demo org (seed {seed}, {args.people} people, {args.days} days, "
        f"{sum(summary.near_misses.values())} near misses): {n} findings in "
        f"the queue, {len(picked)} decided at random, {len(waiting)} still waiting"
    )
    print(
        f"  retrain: {'promoted' if result.promoted else 'kept as candidate'} ({result.reason}); "
        f"held-out precision@{m['k_evaluated']} {m['precision_at_k']:.3f} vs "
        f"{m['current_precision_at_k']:.3f}; {seconds:.1f} s"
    )
    print(
        f"  precision of the top {args.k} still waiting: before feedback {before:.3f}; after "
        f"{len(picked)} decisions {pure:.3f} ({_gain(before, pure)}), "
        f"{explored:.3f} with 10% exploration"
    )
    print(
        f"  rule ledger: {len(suggested)} exception(s) suggested, {len(exceptions)} that removed "
        "no confirmed gap; those applied, the next run would "
        f"not propose {sum(map(excepted, near_waiting))} of the {len(near_waiting)} near misses "
        f"still waiting, and {sum(map(excepted, real_waiting))} of the {len(real_waiting)} real "
        "gaps"
    )
    return before, pure


def _gain(before: float, after: float) -> str:
    return f"{(after / before - 1.0) * 100:+.0f}% relative" if before else "before was 0"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_priority_demo")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument(
        "--near-misses", action=argparse.BooleanOptionalAction, default=True,
        help="generate the organisation with its near misses (default: yes)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    figures = [run_seed(args, seed) for seed in args.seeds]
    before = float(np.mean([b for b, _ in figures]))
    after = float(np.mean([a for _, a in figures]))
    worst = min(((a / b - 1.0) * 100 if b else float("inf")) for b, a in figures)
    print(
        f"mean over {len(figures)} seed(s): precision of the top {args.k} before feedback "
        f"{before:.3f}, after feedback {after:.3f} ({_gain(before, after)}; "
        f"smallest gain of one seed {worst:+.0f}%)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
