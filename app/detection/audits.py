"""Drawing an audit sample (``gapdesk audit sample`` and the Review queue's Audits button).

Per category, a simple random sample of (a) the findings dismissed in the period and (b) the
entities its detector checked on the current snapshot and did not flag, each as large as the
target interval width asks (``GAPDESK_AUDIT_INTERVAL_WIDTH``), goes into the Audits lane.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.engine import Engine

from app.core.db import session_scope
from app.core.errors import UserError
from app.core.settings import get_settings
from app.sources.store import find_snapshot, load_stored
from models.detectors.population import POPULATIONS, unflagged_population
from models.learning.audit_stats import sample_size
from models.snapshot import Snapshot
from review_queue.audits import (
    DISMISSAL,
    UNFLAGGED,
    Dismissal,
    Draw,
    flagged_keys,
    period_dismissals,
    record_sample,
)
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.types import utcnow

MAX_PERIOD_DAYS = 366


def plan_draws(
    snapshot: Snapshot,
    *,
    flagged: Mapping[str, set[str]],
    dismissals: Mapping[str, list[Dismissal]],
    width: float,
    rng: np.random.Generator,
    categories: tuple[str, ...] = tuple(POPULATIONS),
    unflagged: Mapping[str, list[str]] | None = None,
) -> dict[str, dict[str, Draw]]:
    """The items to audit: per category, dismissals and unflagged entities drawn at random
    without replacement, ``sample_size(population, width)`` of each. ``unflagged`` may give
    each category's unflagged population already listed (a benchmark re-drawing many times)."""
    out: dict[str, dict[str, Draw]] = {}
    for category in categories:
        streams: dict[str, Draw] = {}
        pool = dismissals.get(category, [])
        if pool:
            n = sample_size(len(pool), width)
            picked = rng.choice(len(pool), size=n, replace=False)
            streams[DISMISSAL] = Draw(len(pool), dismissals=[pool[i] for i in sorted(picked)])
        passed = (
            unflagged[category]
            if unflagged is not None and category in unflagged
            else unflagged_population(snapshot, category, flagged.get(category, set()))
        )
        if passed:
            n = sample_size(len(passed), width)
            picked = rng.choice(len(passed), size=n, replace=False)
            streams[UNFLAGGED] = Draw(len(passed), keys=[passed[i] for i in sorted(picked)])
        if streams:
            out[category] = streams
    return out


@dataclass(frozen=True)
class SampleSummary:
    """What one draw put into the Audits lane."""

    sample_id: int
    snapshot_id: str | None
    dismissals: int
    unflagged: int
    categories: int

    def describe(self) -> str:
        """One line for the CLI and the page."""
        return (
            f"audit sample #{self.sample_id}: {self.dismissals} dismissals and {self.unflagged} "
            f"unflagged entities in {self.categories} categories (snapshot {self.snapshot_id})"
        )


def draw_audit_sample(
    *,
    engine: Engine,
    actor: Actor,
    period_days: int = 7,
    width: float | None = None,
    now: datetime | None = None,
    seed: int | None = None,
    snapshot: Snapshot | None = None,
) -> SampleSummary:
    """Draw this period's audit sample on the current snapshot into the Audits lane (admins)."""
    require_role(actor, ADMIN_ONLY, "drawing audit samples")
    if not 1 <= period_days <= MAX_PERIOD_DAYS:
        raise UserError(f"--period-days must be 1 to {MAX_PERIOD_DAYS}, not {period_days}")
    width = get_settings().audit_interval_width if width is None else width
    if not 0.0 < width <= 1.0:
        raise UserError(f"the interval width must lie in (0, 1], not {width}")
    end = now or utcnow()
    start = end - timedelta(days=period_days)
    if snapshot is None:
        with session_scope(engine, read_only=True) as session:
            record = find_snapshot(session=session, snapshot_id=None)
        snapshot = load_stored(record)
    with session_scope(engine, read_only=True) as session:
        flagged = flagged_keys(session=session, snapshot_id=snapshot.snapshot_id)
        dismissals = period_dismissals(session=session, start=start, end=end)
    draws = plan_draws(
        snapshot, flagged=flagged, dismissals=dismissals, width=width,
        rng=np.random.default_rng(seed),
    )  # fmt: skip
    with session_scope(engine) as session:
        sample = record_sample(
            session=session, actor=actor, period_start=start, period_end=end,
            snapshot_id=snapshot.snapshot_id, width=width, draws=draws,
        )  # fmt: skip
        assert sample.id is not None
        sample_id = sample.id
    return SampleSummary(
        sample_id=sample_id,
        snapshot_id=snapshot.snapshot_id,
        dismissals=sum(len(s[DISMISSAL].dismissals) for s in draws.values() if DISMISSAL in s),
        unflagged=sum(len(s[UNFLAGGED].keys) for s in draws.values() if UNFLAGGED in s),
        categories=len(draws),
    )
