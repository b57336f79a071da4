"""What the trend metrics return: ``TrendMetric`` (one chart's data and takeaway) and
``TrendReport`` (every metric of the Trends page for one set of filters)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from review_queue.trends.filters import TrendFilters


@dataclass(frozen=True)
class TrendMetric:
    """One chart's data: a tidy frame, a one-line takeaway, and any side tables it needs."""

    key: str
    title: str
    frame: pd.DataFrame
    takeaway: str
    extras: Mapping[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class TrendReport:
    """Every metric of the Trends page, for one set of filters."""

    filters: TrendFilters
    generated_at: datetime
    sla_days: int
    metrics: tuple[TrendMetric, ...]

    def metric(self, key: str) -> TrendMetric:
        """The metric called ``key``."""
        for m in self.metrics:
            if m.key == key:
                return m
        raise KeyError(key)
