"""The queue's order: priorities from the promoted model, and what a promotion would change."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import bindparam, text, update
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
    """Write priorities computed by ``queue_priorities``; returns how many findings were
    rescored. Rows whose exploration mark changed carry their features (the ORM's executemany
    by primary key); the others, nearly all, go through ``write_priority_values``."""
    with_features = [p for p in params if "features" in p]
    if with_features:
        session.execute(update(Finding), with_features)
    plain = [p for p in params if "features" not in p]
    if plain:
        write_priority_values(
            session=session, ids=[p["id"] for p in plain], values=[p["priority"] for p in plain]
        )
    return len(params)


# Only rows whose priority differs are rewritten: on PostgreSQL every rewritten row is a new
# tuple with an entry in each of the table's indexes (the queue index holds the priority, so
# the update is never HOT), which is most of a re-ranking's cost.
_POSTGRES_PRIORITIES = text(
    "UPDATE findings SET priority = v.priority"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:values AS double precision[]))"
    " AS v(id, priority)"
    " WHERE findings.id = v.id AND findings.priority IS DISTINCT FROM v.priority"
)
_SQLITE_PRIORITIES = "UPDATE findings SET priority = ? WHERE id = ? AND priority IS NOT ?"


def write_priority_values(*, session: Session, ids: Sequence[int], values: Sequence[float]) -> None:
    """Set the priority of findings ``ids`` to ``values`` in one statement, rewriting only the
    rows whose priority changes; the priority-only fast path of a re-ranking (11,000 rows in
    tens of milliseconds, where the ORM's bulk update took hundreds)."""
    ids = [int(i) for i in ids]
    values = [float(v) for v in values]
    if len(ids) != len(values):
        raise ValueError("ids and values must have the same length")
    if not ids:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(_POSTGRES_PRIORITIES, {"ids": ids, "values": values})
    elif conn.dialect.name == "sqlite":
        # The driver's own executemany of one prepared statement, in id order (page locality).
        rows = sorted(zip(values, ids, values, strict=True), key=lambda r: r[1])
        conn.exec_driver_sql(_SQLITE_PRIORITIES, rows)
    else:
        table = Finding.__table__  # type: ignore[attr-defined]
        conn.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(priority=bindparam("b_priority")),
            [{"b_id": i, "b_priority": v} for i, v in zip(ids, values, strict=True)],
        )
    # Findings this session has loaded must not keep the old priority.
    changed = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Finding) and obj.id in changed:
            session.expire(obj, ["priority"])


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
    params: list[dict[str, Any]] = []
    for fid, value, feats, flag in zip(
        frame["finding_id"], priority, frame["features"], marked, strict=True
    ):
        row: dict[str, Any] = {"id": int(fid), "priority": float(value)}
        # Features are rewritten only where the exploration mark comes or goes.
        if bool(flag) != ("exploration" in feats):
            features = {key: v for key, v in feats.items() if key != "exploration"}
            if flag:
                features["exploration"] = 1
            row["features"] = features
        params.append(row)
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
