"""The re-ranking's priority-only fast path writes what the ORM's bulk update wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.db import open_engine, session_scope
from app.learning.discovery_bench import _fast_write, run_once, write_priorities_orm
from app.learning.ranking import write_priority_values
from review_queue.tables import Finding
from tests.conftest import empty_tables
from tests.helpers.queue_fixtures import add_finding


def _labelled_set(items: int = 240) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(items, 4))
    y = np.zeros(items, dtype=bool)
    y[rng.choice(items, 12, replace=False)] = True
    X[y] += 2.0
    return X, y


def _queue(engine: Engine) -> dict[str, tuple[str, float]]:
    with session_scope(engine, read_only=True) as session:
        return {
            f.entity_key: (f.status, f.priority)
            for f in session.exec(select(Finding).order_by(col(Finding.id)))
        }


def test_fast_path_gives_the_queue_the_same_priorities_as_the_orm_update(
    db: Engine, tmp_path: Path
) -> None:
    X, y = _labelled_set()
    fast = run_once(X, y, budget=25, seed=3, engine=db, writer=_fast_write)
    after_fast = _queue(db)
    if db.dialect.name == "postgresql":
        empty_tables(db)
        other = db
    else:
        other = open_engine(f"sqlite:///{tmp_path / 'orm.db'}")
    orm = run_once(X, y, budget=25, seed=3, engine=other, writer=write_priorities_orm)
    after_orm = _queue(other)
    if other is not db:
        other.dispose()
    assert fast.found == orm.found > 0
    # The same findings decided, every one at exactly the same priority.
    assert after_fast == after_orm
    assert sum(status == "new" for status, _ in after_fast.values()) == len(X) - 25


def test_priority_values_rewrite_only_what_changes(db: Engine) -> None:
    with Session(db) as session:
        a, b = add_finding(session, 1, priority=0.25), add_finding(session, 2, priority=0.5)
        session.commit()
        write_priority_values(
            session=session, ids=[int(a.id or 0), int(b.id or 0)], values=[0.875, 0.5]
        )
        # Objects the session holds show the new value, not a stale one.
        assert (a.priority, b.priority) == (0.875, 0.5)
        session.commit()
    with session_scope(db, read_only=True) as session:
        stored = dict(session.exec(select(Finding.entity_key, Finding.priority)).all())
    assert stored == {"enrollment=E1": 0.875, "enrollment=E2": 0.5}
