"""The active-discovery protocol run through the real queue services on a throwaway database.

Every item of a labelled CSV is proposed as an ``engagement_anomaly`` finding; at each step the
queue's top finding (highest priority) is decided by a simulated reviewer from the label column,
through ``review_queue.decisions.decide`` (the service the UI uses), the active anomaly
discovery model learns the label and the open findings' priorities are rewritten from it.
Alongside, the plain isolation-forest ranking of the same forest gives the baseline figure.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.db import open_engine, session_scope
from app.core.errors import UserError
from app.learning.ranking import write_priority_values
from models.detectors.base import Proposal
from models.learning.aad import ActiveAnomalyDetector
from review_queue.decisions import decide
from review_queue.permissions import SYSTEM
from review_queue.propose import propose_findings
from review_queue.states import Status
from review_queue.tables import Finding

DETECTOR = "bench_active_anomaly_discovery"


@dataclass(frozen=True)
class BenchRun:
    """One run: true positives found through the queue and by the plain forest, timings (s).

    ``step_seconds`` is the mean of one whole feedback step (the queue's top, the decision, the
    model's update, re-scoring every item, writing the open findings' new priorities, commit);
    ``steps`` and ``step_cpu`` hold every step's wall and this process's CPU time."""

    seed: int
    found: int
    plain: int
    update_seconds: float
    step_seconds: float
    database: str = "sqlite"
    steps: tuple[float, ...] = ()
    step_cpu: tuple[float, ...] = ()
    write_seconds: float = 0.0

    @property
    def step_median(self) -> float:
        """Median wall time of one feedback step."""
        return float(np.median(self.steps)) if self.steps else self.step_seconds

    @property
    def step_p95(self) -> float:
        """95th percentile of the steps' wall times."""
        return float(np.percentile(self.steps, 95)) if self.steps else self.step_seconds

    @property
    def cpu_median(self) -> float:
        """Median CPU time of this process in one step (the database server's is not in it)."""
        return float(np.median(self.step_cpu)) if self.step_cpu else 0.0


def read_labelled_csv(
    path: Path, label_column: str, positive: str
) -> tuple[np.ndarray, np.ndarray]:
    """Numeric features and boolean labels (``positive`` = a true gap) of a CSV."""
    if not path.is_file():
        raise UserError(f"no file {path}")
    frame = pd.read_csv(path)
    if label_column not in frame.columns:
        raise UserError(
            f"{path.name}: no column {label_column!r} (columns: {', '.join(frame.columns[:8])})"
        )
    labels = frame[label_column].astype(str).str.strip() == positive
    if not labels.any():
        raise UserError(f"{path.name}: no row has {label_column} = {positive!r}")
    features = frame.drop(columns=[label_column])
    numeric = features.apply(pd.to_numeric, errors="coerce")
    bad = [c for c in numeric.columns if numeric[c].isna().any()]
    if bad:
        raise UserError(f"{path.name}: column {bad[0]!r} has non-numeric or empty cells")
    return numeric.to_numpy(dtype=float), labels.to_numpy()


def _priorities(scores: np.ndarray) -> np.ndarray:
    """Scores squashed to [0, 1] by rank-preserving min-max scaling (the queue's scale)."""
    lo, hi = float(scores.min()), float(scores.max())
    return (scores - lo) / max(hi - lo, 1e-12)


def write_priorities_orm(*, session: Session, ids: np.ndarray, values: np.ndarray) -> None:
    """The re-ranking write as it was before the priority-only fast path: the ORM's bulk update
    by primary key of every open finding (kept to show both give the same priorities)."""
    session.execute(
        update(Finding),
        [{"id": int(i), "priority": float(v)} for i, v in zip(ids, values, strict=True)],
    )


def _fast_write(*, session: Session, ids: np.ndarray, values: np.ndarray) -> None:
    write_priority_values(session=session, ids=ids.tolist(), values=values.tolist())


Writer = Callable[..., None]


def run_once(
    X: np.ndarray,
    y: np.ndarray,
    *,
    budget: int,
    seed: int,
    workdir: Path | None = None,
    engine: Engine | None = None,
    writer: Writer = _fast_write,
) -> BenchRun:
    """One run of the protocol on ``engine`` (an empty database), else a fresh SQLite database
    in ``workdir``."""
    own = engine is None
    if engine is None:
        if workdir is None:
            raise ValueError("run_once needs an engine or a workdir")
        engine = open_engine(f"sqlite:///{workdir / f'bench-{seed}.db'}")
    try:
        detector = ActiveAnomalyDetector(random_state=seed).fit(X)
        budget = min(budget, len(X))
        scores = detector.score_samples()
        plain = int(y[np.argsort(-scores, kind="stable")[:budget]].sum())
        initial = _priorities(scores)
        proposals = [
            Proposal(
                category="engagement_anomaly",
                entity_key=f"item={i}",
                title=f"Item {i} is unlike the others",
                score=float(np.clip(initial[i], 0.0, 1.0)),
                severity="medium",
                detector=DETECTOR,
                detector_version="1",
            )
            for i in range(len(X))
        ]
        with session_scope(engine) as session:
            propose_findings(session=session, proposals=proposals)
        with session_scope(engine) as session:
            ids = {
                f.entity_key: f.id
                for f in session.exec(select(Finding).where(col(Finding.detector) == DETECTOR))
            }
        finding_of = np.array([ids[f"item={i}"] for i in range(len(X))], dtype=np.int64)
        item_of = {int(fid): i for i, fid in enumerate(finding_of)}
        found = 0
        updates: list[float] = []
        writes: list[float] = []
        steps: list[float] = []
        cpu: list[float] = []
        for _ in range(budget):
            start, start_cpu = time.perf_counter(), time.process_time()
            with session_scope(engine) as session:
                top = session.exec(
                    select(Finding)
                    .where(col(Finding.status) == Status.new.value)
                    .order_by(col(Finding.priority).desc(), col(Finding.id))
                    .limit(1)
                ).one()
                item = item_of[int(top.id or 0)]
                is_gap = bool(y[item])
                found += is_gap
                decide(
                    session=session,
                    actor=SYSTEM,
                    finding_id=int(top.id or 0),
                    action="confirm" if is_gap else "dismiss",
                    reason=None if is_gap else "false_positive_rule",
                )
                t0 = time.perf_counter()
                detector.add_labels([item], [is_gap])
                updates.append(time.perf_counter() - t0)
                # Reorder the queue by the updated model: the open findings' priorities.
                open_items = np.ones(len(X), dtype=bool)
                open_items[detector.labelled_] = False
                new = _priorities(detector.score_samples())
                t1 = time.perf_counter()
                writer(session=session, ids=finding_of[open_items], values=new[open_items])
                writes.append(time.perf_counter() - t1)
            steps.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        return BenchRun(
            seed=seed,
            found=found,
            plain=plain,
            update_seconds=float(np.mean(updates)),
            step_seconds=float(np.mean(steps)),
            database=engine.dialect.name,
            steps=tuple(steps),
            step_cpu=tuple(cpu),
            write_seconds=float(np.median(writes)),
        )
    finally:
        if own:
            engine.dispose()


def bench_discovery(
    path: Path,
    *,
    label_column: str = "label",
    positive: str = "anomaly",
    budget: int = 300,
    runs: int = 10,
    echo: Callable[[str], None] = print,
) -> list[BenchRun]:
    """Run the protocol ``runs`` times (seeds 0..runs-1), echoing one line per run and the mean."""
    if budget < 1 or runs < 1:
        raise UserError("--budget and --runs must be at least 1")
    X, y = read_labelled_csv(path, label_column, positive)
    results = []
    with tempfile.TemporaryDirectory(prefix="gapdesk-bench-") as tmp:
        for seed in range(runs):
            r = run_once(X, y, budget=budget, seed=seed, workdir=Path(tmp))
            results.append(r)
            echo(
                f"run {seed}: found {r.found} with feedback, {r.plain} by isolation forest alone; "
                f"update {r.update_seconds * 1000:.1f} ms, "
                f"whole step {r.step_seconds * 1000:.1f} ms "
                f"(median {r.step_median * 1000:.1f}, p95 {r.step_p95 * 1000:.1f}, "
                f"CPU median {r.cpu_median * 1000:.1f})"
            )
    echo(
        f"{path.stem} @ {budget}, mean of {runs}: found {np.mean([r.found for r in results]):.1f} "
        f"with feedback, {np.mean([r.plain for r in results]):.1f} by isolation forest alone; "
        f"one feedback update {np.mean([r.update_seconds for r in results]) * 1000:.1f} ms"
    )
    return results
