"""The shared state of one generation run: the random stream, the size, the ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from app.core.errors import UserError
from app.demo.organisation.timeline import DAY


@dataclass
class GenerationContext:
    """Shared state of one generation run; ``truth`` collects the ground truth."""

    rng: np.random.Generator
    people: int
    days: int
    as_of: int  # epoch seconds, a UTC midnight
    scale: float
    truth: set[tuple[str, str]] = field(default_factory=set)

    @property
    def t_day(self) -> int:
        """``as_of`` as an epoch day."""
        return self.as_of // DAY

    @property
    def w0(self) -> int:
        """The window's first second."""
        return self.as_of - self.days * DAY

    def n(self, base: int) -> int:
        """How many gaps of a kind to inject: ``base`` at 2,000 people, fewer below, at least 2."""
        return max(2, round(base * self.scale))

    def add(self, category: str, keys: list[str] | np.ndarray | pd.Series) -> None:
        """Record injected gaps of ``category`` in the ground truth."""
        for key in keys:
            self.truth.add((category, str(key)))


def choose(ctx: GenerationContext, pool: np.ndarray, k: int, what: str) -> np.ndarray:
    """``k`` distinct members of ``pool`` in sorted order, or a clear error if there are too few."""
    if pool.size < k:
        raise UserError(
            f"the organisation is too small to inject every gap (needs {k} {what}, has "
            f"{pool.size}); use more people or days"
        )
    return np.sort(ctx.rng.choice(pool, size=k, replace=False))
