"""The audit estimators: sample sizes, exact intervals, recall, kappa."""

from __future__ import annotations

import numpy as np
import pytest

from models.learning.audit_stats import (
    cohen_kappa,
    count_interval,
    inclusion_probability,
    recall_estimate,
    sample_size,
)


def test_sample_size_follows_the_width_and_the_population() -> None:
    assert sample_size(1_000_000, 0.3) == 43
    assert sample_size(1_000_000, 0.2) == 97
    assert sample_size(1_000_000, 0.1) == 384
    assert sample_size(20, 0.3) == 14  # finite-population correction
    assert sample_size(5, 0.01) == 5  # never more than there is
    assert sample_size(0, 0.3) == 0
    with pytest.raises(ValueError, match="interval width must lie in \\(0, 1\\], not 0"):
        sample_size(10, 0)


def test_a_census_gives_the_count_and_an_empty_sample_everything() -> None:
    c = count_interval(5, 20, 20)
    assert (c.low, c.high, c.estimate) == (5, 5, 5.0)
    empty = count_interval(0, 0, 300)
    assert (empty.low, empty.high) == (0, 300)
    with pytest.raises(ValueError, match="found ≤ sampled ≤ population"):
        count_interval(3, 2, 10)


def test_the_count_interval_covers_at_least_its_confidence() -> None:
    rng = np.random.default_rng(7)
    population, wrong, n = 2000, 60, 43
    members = np.zeros(population, dtype=bool)
    members[:wrong] = True
    covered = 0
    for _ in range(400):
        found = int(members[rng.choice(population, n, replace=False)].sum())
        c = count_interval(found, n, population)
        covered += c.low <= wrong <= c.high
    assert covered / 400 >= 0.95


def test_recall_maps_the_misses_interval() -> None:
    r = recall_estimate(30, 1, 50, 1000)
    assert r.estimate == pytest.approx(30 / (30 + 20))
    assert r.low is not None and r.high is not None
    assert r.low < r.estimate < r.high
    assert r.brackets(0.6) and not r.brackets(0.999)
    nothing = recall_estimate(0, 0, 40, 1000)
    assert nothing.estimate is None  # nothing caught, nothing missed in the sample
    assert recall_estimate(10, 0, 40, 40).high == 1.0


def test_kappa() -> None:
    perfect = cohen_kappa([("c", "c"), ("d", "d"), ("c", "c")])
    assert perfect.kappa == pytest.approx(1.0) and perfect.observed == 1.0
    # The textbook 2x2: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> kappa 0.4.
    pairs = [(1, 1)] * 20 + [(1, 0)] * 5 + [(0, 1)] * 10 + [(0, 0)] * 15
    assert cohen_kappa(pairs).kappa == pytest.approx(0.4)
    assert cohen_kappa([(1, 1), (1, 1)]).kappa is None  # undefined: one label only
    assert cohen_kappa([]).items == 0


def test_inclusion_probability() -> None:
    assert inclusion_probability(43, 430) == pytest.approx(0.1)
    assert inclusion_probability(0, 0) == 1.0
