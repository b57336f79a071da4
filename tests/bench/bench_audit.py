"""Quality benchmark of the audit estimates: do the recall intervals bracket the true recall?

    .venv/bin/python -m tests.bench.bench_audit [--people 1000] [--seed 1] [--runs 100]

It generates one demo organisation (which knows its injected gaps, ``ground_truth.csv``), runs
the detectors once with deliberately weak thresholds (``WEAK`` below: some injected gaps are
missed), then, for each of ``--runs`` seeds, draws a weekly audit sample of the documented
default size (``GAPDESK_AUDIT_INTERVAL_WIDTH`` = 0.3) with the product's own drawing
(``app.detection.audits.plan_draws``), lets auditors answer from the truth and computes the
product's estimates (``models.learning.audit_stats``). Reviewers of the flagged findings answer
from the truth too, except that they wrongly dismiss each real flagged gap with probability
``--wrong-dismissals`` (0.15), so the dismissal-error interval is checked as well.

Printed per category: the true recall, the mean estimate and interval, and the share of runs
whose 95% interval holds the truth (target: at least 90% in every category). The exit status is
1 when a category misses it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from app.core.settings import Settings
from app.detection.audits import plan_draws
from models.detectors import build_detectors, skipped_detectors
from models.detectors.population import POPULATIONS, unflagged_population
from models.learning.audit_stats import count_interval, recall_estimate
from review_queue.audits import DISMISSAL, UNFLAGGED, Dismissal
from tests.bench.bench_detectors import read_fast

# Thresholds loose enough that the detectors miss some of the organisation's injected gaps.
WEAK: dict[str, dict[str, object]] = {
    "enrollment_missing": {"default_grace_days": 45},
    "enrollment_failed": {"stale_after_days": 45.0},
    "notification_undelivered": {"min_sent": 6, "min_bounced": 6},
    "feedback_delayed": {"default_sla_days": 14.0},
    "compliance_overdue": {"derive_due_from_due_days": False},
    "sync_failure": {"overdue_factor": 4.0},
    "access_failure": {"z_threshold": 9.0, "count_ratio": 6.0},
    "notification_outage": {"z_threshold": 9.0},
}
TARGET = 0.90


def detect_weakly(folder: Path) -> tuple[object, dict[str, set[str]]]:
    """The snapshot and, per category, the entity keys the weak detectors flag."""
    snapshot = read_fast(folder)
    params = {name: dict(values) for name, values in WEAK.items()}
    detectors = build_detectors(params)
    skipped = skipped_detectors(snapshot, detectors)
    flagged: dict[str, set[str]] = defaultdict(set)
    for det in detectors:
        if det.name in skipped:
            continue
        for p in det.detect(snapshot):
            flagged[p.category].add(p.entity_key)
    return snapshot, flagged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1, help="the organisation's seed")
    parser.add_argument("--runs", type=int, default=100, help="seeded audit samples")
    parser.add_argument("--wrong-dismissals", type=float, default=0.15)
    parser.add_argument("--width", type=float, default=None,
                        help="target interval width (default: the documented default)")  # fmt: skip
    parser.add_argument("--keep", type=Path, default=None, help="write the organisation here")
    args = parser.parse_args(argv)
    default_width = Settings.model_fields["audit_interval_width"].default
    width = default_width if args.width is None else args.width
    from app.demo.organisation import generate_demo_org

    cpu0, t0 = time.process_time(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        if not (folder / "ground_truth.csv").exists():
            generate_demo_org(folder, seed=args.seed, people=args.people, overwrite=True)
        truth_rows = pd.read_csv(folder / "ground_truth.csv", dtype=str)
        snapshot, flagged = detect_weakly(folder)
    truth: dict[str, set[str]] = defaultdict(set)
    for cat, key in zip(truth_rows["category"], truth_rows["entity_key"], strict=True):
        truth[cat].add(key)
    t_detect = time.perf_counter() - t0
    print(f"demo organisation seed {args.seed}, {args.people} people; weak detection "
          f"{t_detect:.1f} s; width {width}, {args.runs} runs")  # fmt: skip

    # The populations do not change between runs: listed once, re-drawn per seed.
    unflagged = {
        cat: unflagged_population(snapshot, cat, flagged.get(cat, set()))  # type: ignore[arg-type]
        for cat in POPULATIONS
    }
    stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    t1 = time.perf_counter()
    for run in range(args.runs):
        rng = np.random.default_rng(1000 + run)
        # The week's reviewing: every flagged finding decided, some real ones wrongly dismissed.
        dismissals: dict[str, list[Dismissal]] = defaultdict(list)
        for cat, keys in flagged.items():
            for i, key in enumerate(sorted(keys)):
                real = key in truth[cat]
                if not real or rng.random() < args.wrong_dismissals:
                    dismissals[cat].append(Dismissal(i, cat, key, 1, "reviewer", None))
        draws = plan_draws(snapshot, flagged=flagged, dismissals=dismissals,  # type: ignore[arg-type]
                           width=width, rng=rng, unflagged=unflagged)  # fmt: skip
        for cat, streams in draws.items():
            if UNFLAGGED in streams:
                d = streams[UNFLAGGED]
                found = sum(1 for k in d.keys if k in truth[cat])
                caught = len(flagged.get(cat, set()) & truth[cat])
                est = recall_estimate(caught, found, len(d.keys), d.population)
                misses = len(truth[cat] - flagged.get(cat, set()))
                if caught + misses == 0:
                    continue
                true_recall = caught / (caught + misses)
                s = stats[cat]
                s["true"].append(true_recall)
                s["covered"].append(float(est.brackets(true_recall)))
                s["estimate"].append(est.estimate if est.estimate is not None else np.nan)
                s["low"].append(est.low if est.low is not None else np.nan)
                s["high"].append(est.high if est.high is not None else np.nan)
                s["sampled"].append(len(d.keys))
                s["population"].append(d.population)
            if DISMISSAL in streams:
                d = streams[DISMISSAL]
                wrong = sum(1 for x in d.dismissals if x.entity_key in truth[cat])
                c = count_interval(wrong, len(d.dismissals), d.population)
                true_wrong = sum(1 for x in dismissals[cat] if x.entity_key in truth[cat])
                stats[cat]["dismissal_covered"].append(float(c.low <= true_wrong <= c.high))
    t_runs, cpu = time.perf_counter() - t1, time.process_time() - cpu0
    print(f"{args.runs} audit samples in {t_runs:.1f} s (total CPU {cpu:.1f} s, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n")  # fmt: skip
    print(f"{'category':26s} {'true R':>6} {'est.':>5} {'mean 95% interval':>18} "
          f"{'n / N':>12} {'covered':>7} {'dism. cov.':>10}")  # fmt: skip
    ok = True
    all_cov: list[float] = []
    for cat in sorted(stats):
        s = stats[cat]
        if not s["covered"]:
            continue
        cov = float(np.mean(s["covered"]))
        all_cov += s["covered"]
        dcov = f"{np.mean(s['dismissal_covered']):.2f}" if s["dismissal_covered"] else "-"
        good = cov >= TARGET
        ok &= good
        print(
            f"{cat:26s} {np.mean(s['true']):6.3f} {np.nanmean(s['estimate']):5.2f} "
            f"[{np.nanmean(s['low']):5.2f}, {np.nanmean(s['high']):5.2f}]     "
            f"{int(np.mean(s['sampled'])):>4} / {int(np.mean(s['population'])):<6} "
            f"{cov:7.2f} {dcov:>10} {'' if good else 'BELOW TARGET'}"
        )
    print(f"\nall categories: the interval held the true recall in {np.mean(all_cov):.1%} of "
          f"{len(all_cov)} category-runs (target ≥ {TARGET:.0%} in each category)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
