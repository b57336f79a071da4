"""Active anomaly discovery: leaf weights move with labels, and the ranking follows them."""

from __future__ import annotations

import numpy as np
import pytest

from models.learning.aad import ActiveAnomalyDetector, average_path_length, leaf_embedding
from tests.bench.bench_aad import load_labelled, run_protocol
from tests.conftest import SHARED

TOY2 = SHARED / "data" / "anomaly" / "toy2.csv"


def _two_clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A nominal blob and two equally odd small clusters, left (indices a) and right (b)."""
    rng = np.random.default_rng(seed)
    blob = rng.normal(0.0, 1.0, size=(400, 2))
    left = rng.normal((-6.0, 0.0), 0.3, size=(12, 2))
    right = rng.normal((6.0, 0.0), 0.3, size=(12, 2))
    X = np.vstack([blob, left, right])
    return X, np.arange(400, 412), np.arange(412, 424)


def _mean_rank(detector: ActiveAnomalyDetector, items: np.ndarray) -> float:
    ranks = np.empty(len(detector.score_samples()), dtype=int)
    ranks[detector.rank()] = np.arange(len(ranks))
    return float(ranks[items].mean())


def test_uniform_weights_rank_like_the_isolation_forest() -> None:
    X, _, _ = _two_clusters()
    detector = ActiveAnomalyDetector(random_state=1, normalise_rows=False).fit(X)
    forest_scores = -detector.forest_.score_samples(X)
    # Without row normalisation the uniform score is minus the summed path length: same order.
    rho = np.corrcoef(
        np.argsort(np.argsort(forest_scores)), np.argsort(np.argsort(detector.score_samples()))
    )
    assert rho[0, 1] > 0.999


def test_confirming_a_region_raises_it_and_dismissing_lowers_it() -> None:
    X, left, right = _two_clusters()
    detector = ActiveAnomalyDetector(random_state=0).fit(X)
    left_before, right_before = _mean_rank(detector, left), _mean_rank(detector, right)
    # The reviewer confirms three items on the left and dismisses three on the right.
    detector.add_labels(list(left[:3]) + list(right[:3]), [True] * 3 + [False] * 3)
    unlabelled_left, unlabelled_right = left[3:], right[3:]
    assert _mean_rank(detector, unlabelled_left) < left_before - 1.0
    assert _mean_rank(detector, unlabelled_right) > right_before + 1.0
    # Dismissed items fall below the top-quantile item; confirmed ones stay near the top.
    scores = detector.score_samples()
    cut = scores[detector.rank()[detector.tau_rank()]]
    assert (scores[right[:3]] < cut).all()
    assert _mean_rank(detector, left[:3]) < 0.1 * len(X)


def test_prior_pulls_weights_back_toward_uniform() -> None:
    X, left, _ = _two_clusters()
    loose = ActiveAnomalyDetector(random_state=0, prior_sigma2=5.0).fit(X)
    tight = ActiveAnomalyDetector(random_state=0, prior_sigma2=0.01).fit(X)
    for detector in (loose, tight):
        detector.add_labels(left[:3], [False] * 3)
    drift = [np.linalg.norm(d.weights_ - d.prior_weights_) for d in (loose, tight)]
    assert drift[1] < drift[0]


def test_same_seed_same_ranking_and_labels_replace() -> None:
    X, left, _ = _two_clusters()
    runs = []
    for _ in range(2):
        detector = ActiveAnomalyDetector(random_state=3).fit(X)
        detector.add_labels(left[:2], [True, True])
        runs.append(detector.rank())
    assert np.array_equal(runs[0], runs[1])
    detector.add_labels([left[0]], [False])
    assert len(detector.labelled_) == 2
    assert not detector.labels_[list(detector.labelled_).index(left[0])]


def test_bad_labels_are_refused() -> None:
    X, _, _ = _two_clusters()
    detector = ActiveAnomalyDetector(random_state=0).fit(X)
    with pytest.raises(ValueError, match="out of range"):
        detector.add_labels([len(X)], [True])
    with pytest.raises(ValueError, match="same length"):
        detector.add_labels([0, 1], [True])


def test_leaf_embedding_has_one_leaf_per_tree() -> None:
    X, _, _ = _two_clusters()
    detector = ActiveAnomalyDetector(n_estimators=7, random_state=0).fit(X)
    emb = leaf_embedding(detector.forest_, X)
    assert emb.leaf_ids.shape == (len(X), 7)
    assert np.allclose(np.linalg.norm(emb.values, axis=1), 1.0)
    assert average_path_length(np.array([1, 2]))[1] == 1.0


@pytest.mark.skipif(not TOY2.exists(), reason="shared anomaly data not present")
def test_feedback_beats_plain_forest_on_toy2() -> None:
    X, y = load_labelled(TOY2)
    results = [run_protocol(X, y, budget=25, seed=seed) for seed in range(2)]
    assert sum(r.feedback for r in results) > sum(r.plain for r in results)
