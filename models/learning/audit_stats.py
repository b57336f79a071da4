"""Audit statistics: sample sizes, exact intervals for sampled counts, recall, agreement.

An audit draws, per category, a simple random sample without replacement from a finite
population (the period's dismissals, or the entities a detector checked and did not flag). The
number of "wrong" items in the population is then estimated with an exact interval from the
hypergeometric distribution (the finite-population analogue of Clopper-Pearson: it never covers
less than its confidence, and a census gives the count itself). Recall follows from it by a
monotone map, so its interval keeps that coverage when the flagged count is known.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from scipy.stats import hypergeom, norm

DEFAULT_CONFIDENCE = 0.95
# The share a sample size is planned for when nothing is known yet: the widest interval.
PLANNING_SHARE = 0.5


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence!r}")


def sample_size(
    population: int,
    width: float,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    planning_share: float = PLANNING_SHARE,
) -> int:
    """How many of ``population`` to sample so a share's interval is about ``width`` wide.

    Normal planning, ``n0 = z² p (1 - p) / (width / 2)²``, with the finite-population
    correction ``n0 / (1 + (n0 - 1) / N)``; never more than the population.
    """
    if population < 0:
        raise ValueError(f"population must be 0 or more, not {population!r}")
    if not 0.0 < width <= 1.0:
        raise ValueError(f"interval width must lie in (0, 1], not {width!r}")
    _check_confidence(confidence)
    if population == 0:
        return 0
    z = float(norm.ppf(0.5 + confidence / 2))
    n0 = z * z * planning_share * (1 - planning_share) / (width / 2) ** 2
    n = n0 / (1 + (n0 - 1) / population)
    return int(min(population, max(1, math.ceil(n - 1e-9))))


@dataclass(frozen=True)
class CountEstimate:
    """How many items of a population of ``population`` are wrong, from ``found`` in ``sampled``."""

    population: int
    sampled: int
    found: int
    low: int
    high: int
    confidence: float

    @property
    def estimate(self) -> float:
        """The unbiased estimate ``N · found / sampled`` (the Horvitz-Thompson sum of 1/π)."""
        return self.population * self.found / self.sampled if self.sampled else float("nan")

    @property
    def share(self) -> float:
        """The estimated share of the population that is wrong."""
        return self.estimate / self.population if self.population else float("nan")

    @property
    def share_low(self) -> float:
        """Lower end of the share's interval."""
        return self.low / self.population if self.population else float("nan")

    @property
    def share_high(self) -> float:
        """Upper end of the share's interval."""
        return self.high / self.population if self.population else float("nan")


def count_interval(
    found: int, sampled: int, population: int, *, confidence: float = DEFAULT_CONFIDENCE
) -> CountEstimate:
    """Exact interval for the number of wrong items in a population, from a sample drawn
    without replacement: the smallest and largest counts ``M`` the hypergeometric tails do not
    reject at ``(1 - confidence) / 2`` each."""
    _check_confidence(confidence)
    if not 0 <= found <= sampled <= population:
        raise ValueError(
            f"need 0 ≤ found ≤ sampled ≤ population, got {found}, {sampled}, {population}"
        )
    if sampled == 0:
        return CountEstimate(population, 0, 0, 0, population, confidence)
    alpha = (1 - confidence) / 2
    smallest, largest = found, population - (sampled - found)

    # P(X ≥ found | M) rises with M and P(X ≤ found | M) falls with M: bisect each tail.
    def upper_tail(m: int) -> float:
        return float(hypergeom.sf(found - 1, population, m, sampled))

    def lower_tail(m: int) -> float:
        return float(hypergeom.cdf(found, population, m, sampled))

    lo, hi = smallest, largest
    while lo < hi:  # the smallest M whose upper tail exceeds alpha
        mid = (lo + hi) // 2
        if upper_tail(mid) > alpha:
            hi = mid
        else:
            lo = mid + 1
    low = lo
    lo, hi = smallest, largest
    while lo < hi:  # the largest M whose lower tail exceeds alpha
        mid = (lo + hi + 1) // 2
        if lower_tail(mid) > alpha:
            lo = mid
        else:
            hi = mid - 1
    high = lo
    return CountEstimate(population, sampled, found, low, high, confidence)


@dataclass(frozen=True)
class RecallEstimate:
    """A detector's recall: ``caught`` real gaps it flagged, and the misses among what it passed."""

    caught: int
    misses: CountEstimate

    @property
    def estimate(self) -> float | None:
        """``caught / (caught + estimated misses)``; None when there is nothing to recall."""
        return _recall(self.caught, self.misses.estimate)

    @property
    def low(self) -> float | None:
        """Lower end: the most misses the interval allows."""
        return _recall(self.caught, self.misses.high)

    @property
    def high(self) -> float | None:
        """Upper end: the fewest misses the interval allows."""
        return _recall(self.caught, self.misses.low)

    def brackets(self, true_recall: float) -> bool:
        """Whether the interval holds ``true_recall`` (a tiny float tolerance at the ends)."""
        if self.low is None or self.high is None:
            return True
        return self.low - 1e-9 <= true_recall <= self.high + 1e-9


def _recall(caught: int, misses: float) -> float | None:
    total = caught + misses
    if math.isnan(total) or total <= 0:
        return None
    return caught / total


def recall_estimate(
    caught: int,
    misses_found: int,
    sampled: int,
    unflagged: int,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> RecallEstimate:
    """Recall from the flagged gaps confirmed (``caught``, taken as known) and a sample of the
    ``unflagged`` population in which ``misses_found`` of ``sampled`` were real gaps."""
    if caught < 0:
        raise ValueError(f"caught must be 0 or more, not {caught!r}")
    return RecallEstimate(
        caught, count_interval(misses_found, sampled, unflagged, confidence=confidence)
    )


def inclusion_probability(sampled: int, population: int) -> float:
    """π = n / N of a simple random sample; 1 for a census (and for an empty population)."""
    if population <= 0:
        return 1.0
    return min(1.0, sampled / population)


@dataclass(frozen=True)
class Agreement:
    """Cohen's kappa of two raters over ``items`` items, with the observed agreement."""

    items: int
    observed: float
    kappa: float | None


def cohen_kappa(pairs: Sequence[tuple[Hashable, Hashable]]) -> Agreement:
    """Cohen's kappa of paired labels; ``kappa`` is None when chance agreement is certain
    (both raters gave one and the same label to everything), where it is undefined."""
    n = len(pairs)
    if n == 0:
        return Agreement(0, float("nan"), None)
    observed = sum(1 for a, b in pairs if a == b) / n
    labels = {a for a, _ in pairs} | {b for _, b in pairs}
    expected = 0.0
    for label in labels:
        pa = sum(1 for a, _ in pairs if a == label) / n
        pb = sum(1 for _, b in pairs if b == label) / n
        expected += pa * pb
    if expected >= 1.0 - 1e-12:
        return Agreement(n, observed, None)
    return Agreement(n, observed, (observed - expected) / (1 - expected))
