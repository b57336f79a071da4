"""Anomaly models learn from labels: model-based detectors' open findings rescored by AAD."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.learning.frames import QUEUE_STATUSES, decided_frame
from models.detectors.registry import REGISTRY
from models.learning.aad import ActiveAnomalyDetector
from review_queue.findings import proposed_by
from review_queue.tables import Finding


# ---------------------------------------------------------------- anomaly models learn from labels
def model_detector_names() -> set[str]:
    """Names of the detectors whose score is a learned anomaly score (``kind == "model"``)."""
    return {name for name, cls in REGISTRY.items() if getattr(cls, "kind", "rule") == "model"}


def anomaly_feedback_scores(
    *, session: Session, min_findings: int = 8, random_state: int = 0
) -> dict[int, float]:
    """Open findings of model-based detectors, rescored by active anomaly discovery.

    Per category, every finding those detectors proposed is an item described by its numeric
    features; an isolation forest over them, with leaf weights moved by the category's confirm
    and dismiss decisions (``models.learning.aad``), gives each open finding a new score in
    [0, 1] (its rank among the category's items), which replaces the detector's score in the
    queue priority. Categories with fewer than ``min_findings`` findings keep their scores.
    """
    names = model_detector_names()
    proposed = or_(*[proposed_by(name) for name in names])
    findings = list(session.exec(select(Finding).where(proposed).order_by(col(Finding.id))))
    if not findings:
        return {}
    decided = decided_frame(session=session)
    label_of = dict(zip(decided["finding_id"], decided["confirmed"], strict=True))
    out: dict[int, float] = {}
    by_category: dict[str, list[Finding]] = {}
    for f in findings:
        by_category.setdefault(f.category, []).append(f)
    for group in by_category.values():
        if len(group) < min_findings:
            continue
        table = pd.DataFrame([f.features or {} for f in group]).apply(
            pd.to_numeric, errors="coerce"
        )
        table = table.drop(columns=[c for c in table.columns if c == "exploration"])
        # Features most findings carry; a missing value is the category's typical one.
        table = table.loc[:, table.notna().mean() >= 0.5]
        if table.shape[1] == 0:
            continue
        X = table.fillna(table.median()).to_numpy(dtype=float)
        detector = ActiveAnomalyDetector(random_state=random_state).fit(X)
        labelled = [i for i, f in enumerate(group) if f.id in label_of]
        if labelled:
            detector.add_labels(labelled, [bool(label_of[group[i].id]) for i in labelled])
        ranks = np.empty(len(group))
        ranks[np.argsort(detector.score_samples(), kind="stable")] = np.arange(len(group))
        for f, r in zip(group, ranks, strict=True):
            if f.status in QUEUE_STATUSES and f.id is not None:
                out[f.id] = float(r / max(len(group) - 1, 1))
    return out
