"""The queue's order: priorities from the promoted model, and what a promotion would change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.core.errors import UserError
from app.learning.discovery import anomaly_feedback_scores
from app.learning.frames import open_frame
from app.learning.model_store import KIND, usable_model
from models.learning.priority import (
    DEFAULT_EXPLORATION_SHARE,
    DEFAULT_K,
    PriorityModel,
    combined_priority,
    explore_queue,
)
from models.taxonomy import base_priorities
from review_queue.tables import Finding, ModelVersion


def write_priorities(*, session: Session, params: list[dict[str, Any]]) -> int:
    """Write priorities computed by ``queue_priorities``: one executemany by primary key."""
    if params:
        session.execute(update(Finding), params)
    return len(params)


def queue_priorities(
    *,
    session: Session,
    model: PriorityModel | None,
    exploration_share: float = DEFAULT_EXPLORATION_SHARE,
    k: int = DEFAULT_K,
) -> list[dict[str, Any]]:
    """The new priority (and exploration mark) of every finding waiting in the queue; reads
    only."""
    frame = open_frame(session=session)
    if frame.empty:
        return []
    # Findings of model-based detectors are ranked by their leaf-reweighted anomaly score.
    learned = anomaly_feedback_scores(session=session)
    score = np.array(
        [
            learned.get(int(fid), s)
            for fid, s in zip(frame["finding_id"], frame["score"], strict=True)
        ]
    )
    if model is None:
        prob = np.full(len(frame), 0.5)
        priority = base_priorities(score, frame["severity"])
        marked = np.zeros(len(frame), dtype=bool)
    else:
        prob = model.predict_proba(frame)
        priority = combined_priority(prob, score, frame["severity"])
        priority, marked = explore_queue(priority, prob, top_n=k, share=exploration_share)
    params = []
    for fid, value, feats, flag in zip(
        frame["finding_id"], priority, frame["features"], marked, strict=True
    ):
        features = {key: v for key, v in feats.items() if key != "exploration"}
        if flag:
            features["exploration"] = 1
        params.append({"id": int(fid), "priority": float(value), "features": features})
    return params


def queue_diff(
    *, session: Session, version: str, k: int = DEFAULT_K, home: Path | None = None
) -> dict[str, list[int]]:
    """Which open findings would enter and leave the top ``k`` if ``version`` were promoted."""
    row = session.exec(
        select(ModelVersion).where(
            col(ModelVersion.kind) == KIND, col(ModelVersion.version) == version
        )
    ).first()
    if row is None:
        raise UserError(f"no priority model version {version!r}")
    frame = open_frame(session=session)
    if frame.empty:
        return {"enter": [], "leave": []}
    model = usable_model(session=session, row=row, home=home)
    new = combined_priority(model.predict_proba(frame), frame["score"], frame["severity"])
    now_top = set(frame.sort_values("priority", ascending=False)["finding_id"].head(k))
    new_top = set(frame.assign(p=new).sort_values("p", ascending=False)["finding_id"].head(k))
    return {"enter": sorted(new_top - now_top), "leave": sorted(now_top - new_top)}
