"""``gapdesk evaluate``: detection on a labelled snapshot, in a throwaway database, scored."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from sqlmodel import Session, select

from app.core.db import open_engine
from app.core.errors import UserError
from app.demo.organisation import NEAR_MISS_FILE
from app.detection.run import run_detection
from app.sources.load import load_snapshot
from models.learning.evaluation import CategoryScore, score_detections
from review_queue.permissions import SYSTEM
from review_queue.tables import Finding

GROUND_TRUTH = "ground_truth.csv"


def read_ground_truth(folder: Path) -> list[tuple[str, str]]:
    """The (category, entity_key) pairs of a snapshot's ground_truth.csv."""
    path = folder / GROUND_TRUTH
    if not path.is_file():
        raise UserError(f"{path} does not exist: evaluation needs a labelled snapshot")
    try:
        truth = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} cannot be read as CSV: {exc}") from None
    missing = {"category", "entity_key"} - set(truth.columns)
    if missing:
        raise UserError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
    return list(zip(truth["category"], truth["entity_key"], strict=True))


def read_near_misses(folder: Path) -> dict[tuple[str, str], str]:
    """(category, entity_key) -> dismissal reason of a demo organisation's near misses (look-alikes
    the rules flag and the organisation knows to be fine); empty when it has none."""
    path = folder / NEAR_MISS_FILE
    if not path.is_file():
        return {}
    try:
        near = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} cannot be read as CSV: {exc}") from None
    missing = {"category", "entity_key", "reason"} - set(near.columns)
    if missing:
        raise UserError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
    return dict(
        zip(zip(near["category"], near["entity_key"], strict=True), near["reason"], strict=True)
    )


def evaluate_folder(path: Path | str) -> dict[str, CategoryScore]:
    """Run detection on the snapshot folder into a temporary SQLite database and score it."""
    folder = Path(path)
    truth = read_ground_truth(folder)
    snapshot = load_snapshot(folder).raise_if_rejected()
    with tempfile.TemporaryDirectory(prefix="gapdesk-evaluate-") as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'evaluate.db'}")
        try:
            run_detection(engine=engine, actor=SYSTEM, snapshot=snapshot)
            with Session(engine) as session:
                found = [(f.category, f.entity_key, f.score) for f in session.exec(select(Finding))]
        finally:
            engine.dispose()
    return score_detections(found, truth)


def render_scores(scores: dict[str, CategoryScore]) -> str:
    """A table a person reads: one line per category."""
    lines = [f"{'category':<26} {'truth':>5} {'found':>5} {'tp':>4} {'precision':>9} {'recall':>6}"]
    for s in scores.values():
        label = f"{s.category} (top 2N)" if s.ranked else s.category
        lines.append(
            f"{label:<26} {s.expected:>5} {s.proposed:>5} {s.true_positives:>4} "
            f"{s.precision:>9.3f} {s.recall:>6.3f}"
        )
    return "\n".join(lines)
