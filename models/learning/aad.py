"""Active anomaly discovery: isolation-forest leaf weights that learn from reviewers' labels.

After Das, Wong, Dietterich, Fern and Emmott, "Incorporating Expert Feedback into Active Anomaly
Discovery", ICDM 2016 (and its tree-based follow-up, where each isolation-forest leaf is one
ensemble member). The implementation here is ours.

Each item is represented by the leaves it falls in, one per tree: a sparse row whose non-zero
entries sit at the item's leaves and hold minus the leaf's isolation path length (depth plus the
expected path length of the points left in the leaf). With every leaf weighted equally the score
``w · phi(x)`` ranks items as the unsupervised isolation forest does: exactly (minus the summed
path length) without row normalisation, very nearly with it (the default, as in the paper, where
each row has unit length so the hinge losses compare items on one scale). After each reviewer
label the weights are re-solved so that confirmed anomalies score above the top-``tau`` quantile
threshold ``q`` and dismissed items below it, using the paper's hinge losses (against ``q`` and
against the item ranked at the quantile), plus a Gaussian prior ``||w - w0||² / (2 sigma²)``
that pulls the weights back toward the unsupervised ones.

The leaf matrix has exactly one entry per tree in each row, so it is stored as two dense
(items x trees) arrays, the global leaf ids and the entry values: scoring is a gather and a row
sum, and the gradient is a ``bincount``. Only leaves touched by labelled items (or by the item at
the quantile) feel the hinge losses; every other weight's optimum is its prior value, so the
solver works on that small active set: one update at 10,000 items and 300 labels costs about
30 ms of CPU (``python -m tests.bench.bench_aad`` prints the figure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import IsolationForest

EULER_GAMMA = 0.5772156649015329


def average_path_length(n: np.ndarray) -> np.ndarray:
    """Expected path length of an unsuccessful search in a binary tree of ``n`` points, c(n)."""
    n = np.asarray(n, dtype=float)
    out = np.zeros_like(n)
    two = n == 2
    big = n > 2
    out[two] = 1.0
    m = n[big]
    out[big] = 2.0 * (np.log(m - 1.0) + EULER_GAMMA) - 2.0 * (m - 1.0) / m
    return out


def _node_depths(children_left: np.ndarray, children_right: np.ndarray) -> np.ndarray:
    """Depth of each node of one fitted tree (root = 0); nodes are numbered parent-first."""
    depth = np.zeros(len(children_left), dtype=float)
    for node in range(len(children_left)):
        left, right = children_left[node], children_right[node]
        if left >= 0:
            depth[left] = depth[node] + 1.0
            depth[right] = depth[node] + 1.0
    return depth


@dataclass(frozen=True)
class LeafEmbedding:
    """Items as isolation-forest leaves: ``leaf_ids[i, t]`` is the global id of item i's leaf in
    tree t, ``values[i, t]`` its entry (minus the path length, row-normalised if asked)."""

    leaf_ids: np.ndarray
    values: np.ndarray
    n_leaves: int

    @property
    def n_items(self) -> int:
        """Number of items embedded."""
        return int(self.leaf_ids.shape[0])

    def scores(self, weights: np.ndarray) -> np.ndarray:
        """``phi(x) · w`` for every item."""
        return np.einsum("ij,ij->i", weights[self.leaf_ids], self.values)


def leaf_embedding(
    forest: IsolationForest, X: np.ndarray, *, normalise_rows: bool = True
) -> LeafEmbedding:
    """Leaf representation of the rows of ``X`` under a fitted isolation forest."""
    X = np.asarray(X, dtype=np.float32)
    ids = np.empty((len(X), len(forest.estimators_)), dtype=np.int64)
    vals = np.empty((len(X), len(forest.estimators_)), dtype=float)
    offset = 0
    for t, (tree, feats) in enumerate(
        zip(forest.estimators_, forest.estimators_features_, strict=True)
    ):
        structure = tree.tree_
        # Leaf value = minus the isolation path length, as the forest's own score counts it.
        path = _node_depths(structure.children_left, structure.children_right)
        path += average_path_length(structure.n_node_samples)
        node = tree.apply(X[:, feats])
        ids[:, t] = node + offset
        vals[:, t] = -path[node]
        offset += structure.node_count
    if normalise_rows:
        # Unit rows, as in the paper: the hinge losses then compare items on one scale.
        vals /= np.maximum(np.linalg.norm(vals, axis=1, keepdims=True), 1e-12)
    return LeafEmbedding(leaf_ids=ids, values=vals, n_leaves=offset)


class ActiveAnomalyDetector:
    """Isolation forest whose leaf weights move with reviewers' labels (see the module docstring).

    ``fit(X)`` builds the forest and the uniform (unsupervised) weights; ``update(indices,
    labels)`` re-solves the weights from every label so far; ``score_samples()`` ranks the fitted
    items, higher = more anomalous. Parameters are stored untouched; learned state ends in ``_``.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_samples: int | str = 256,
        tau: float = 0.03,
        prior_sigma2: float = 0.5,
        c_anomaly: float = 1.0,
        c_nominal: float = 1.0,
        c_tau: float = 1.0,
        learning_rate: float = 0.002,
        max_iter: int = 150,
        tol: float = 1e-6,
        normalise_rows: bool = True,
        random_state: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.tau = tau
        self.prior_sigma2 = prior_sigma2
        self.c_anomaly = c_anomaly
        self.c_nominal = c_nominal
        self.c_tau = c_tau
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.normalise_rows = normalise_rows
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(self, X: np.ndarray) -> ActiveAnomalyDetector:
        """Fit the isolation forest on ``X`` and start from uniform leaf weights."""
        X = np.asarray(X, dtype=float)
        samples = self.max_samples
        if isinstance(samples, int):
            samples = min(samples, len(X))
        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=samples,
            random_state=self.random_state,
            n_jobs=1,
        ).fit(X)
        return self.fit_forest(forest, X)

    def fit_forest(self, forest: IsolationForest, X: np.ndarray) -> ActiveAnomalyDetector:
        """Start from an already fitted forest (e.g. a detector's ``model_``) and its items."""
        if not 0.0 < self.tau < 1.0:
            raise ValueError(f"tau must lie in (0, 1), not {self.tau!r}")
        self.forest_ = forest
        self.embedding_ = leaf_embedding(forest, X, normalise_rows=self.normalise_rows)
        w0 = np.ones(self.embedding_.n_leaves)
        self.prior_weights_ = w0 / np.linalg.norm(w0)
        self.weights_ = self.prior_weights_.copy()
        self.labelled_ = np.empty(0, dtype=np.int64)
        self.labels_ = np.empty(0, dtype=bool)
        self.scores_ = self.embedding_.scores(self.weights_)
        self.n_updates_ = 0
        return self

    # ------------------------------------------------------------------ scoring
    def score_samples(self) -> np.ndarray:
        """Current anomaly score of every fitted item (higher = more anomalous)."""
        return self.scores_

    def rank(self, exclude: Sequence[int] | np.ndarray = ()) -> np.ndarray:
        """Item indices from most to least anomalous, leaving out ``exclude``."""
        order = np.argsort(-self.scores_, kind="stable")
        if len(exclude):
            keep = np.ones(len(order), dtype=bool)
            keep[np.asarray(exclude, dtype=np.int64)] = False
            order = order[keep[order]]
        return order

    def top_unlabelled(self) -> int:
        """Index of the highest-scoring item without a label (the next one to show a reviewer)."""
        order = self.rank(exclude=self.labelled_)
        if not len(order):
            raise ValueError("every item is already labelled")
        return int(order[0])

    def tau_rank(self) -> int:
        """Rank of the quantile item: the ``tau`` share of items is meant to sit above it."""
        n = self.embedding_.n_items
        return int(min(n - 1, max(0, round(self.tau * n))))

    # ------------------------------------------------------------------ learning
    def add_labels(
        self, indices: Sequence[int] | np.ndarray, is_anomaly: Sequence[bool] | np.ndarray
    ) -> ActiveAnomalyDetector:
        """Record labels (a later label of the same item replaces the earlier one) and update."""
        idx = np.asarray(indices, dtype=np.int64)
        lab = np.asarray(is_anomaly, dtype=bool)
        if idx.shape != lab.shape:
            raise ValueError("indices and labels must have the same length")
        n = self.embedding_.n_items
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"item index out of range 0..{n - 1}")
        merged = dict(zip(self.labelled_.tolist(), self.labels_.tolist(), strict=True))
        merged.update(zip(idx.tolist(), lab.tolist(), strict=True))
        self.labelled_ = np.fromiter(merged.keys(), dtype=np.int64, count=len(merged))
        self.labels_ = np.fromiter(merged.values(), dtype=bool, count=len(merged))
        return self._solve()

    def _solve(self) -> ActiveAnomalyDetector:
        """Re-solve the leaf weights from all labels so far (warm-started from the current ones)."""
        emb = self.embedding_
        if not len(self.labelled_):
            self.weights_ = self.prior_weights_.copy()
            self.scores_ = emb.scores(self.weights_)
            return self
        scores = self.scores_
        order = np.argsort(-scores, kind="stable")
        tau_item = int(order[self.tau_rank()])
        # q and the quantile item come from the current ranking and stay fixed while solving,
        # as in the paper: each update is one convex problem.
        q = float(scores[tau_item])
        rows = np.concatenate([self.labelled_, [tau_item]])
        active, local = np.unique(emb.leaf_ids[rows], return_inverse=True)
        local = local.reshape(len(rows), -1)
        vals = emb.values[rows]
        lab_ids, lab_vals = local[:-1], vals[:-1]
        tau_ids, tau_vals = local[-1], vals[-1]
        anomaly = self.labels_
        n_anom = max(int(anomaly.sum()), 1)
        n_nom = max(int((~anomaly).sum()), 1)
        # Per-item hinge weights: 1/|A| for anomalies, 1/|N| for nominals (the paper's averages).
        scale = np.where(anomaly, 1.0 / n_anom, 1.0 / n_nom)
        sign = np.where(anomaly, 1.0, -1.0)
        c_q = np.where(anomaly, self.c_anomaly, self.c_nominal)

        w0 = self.prior_weights_[active]
        w = self.weights_[active].copy()
        k = len(active)
        inv_sigma2 = 1.0 / self.prior_sigma2
        # RMSProp (decay 0.9) on the subgradient; the step size is per coordinate, so leaves
        # seen by many labelled items do not swamp the rare ones. ``max_iter`` steps from the warm
        # start suffice: the solution moves little between two labels.
        mean_sq = np.zeros(k)
        lr = self.learning_rate
        for _ in range(self.max_iter):
            s = np.einsum("ij,ij->i", w[lab_ids], lab_vals)
            s_tau = float(w[tau_ids] @ tau_vals)
            # Violations: anomalies below the threshold / the quantile item, nominals above.
            viol_q = sign * (q - s) > 0
            viol_t = sign * (s_tau - s) > 0
            coef = -scale * sign * (c_q * viol_q + self.c_tau * viol_t)
            grad = inv_sigma2 * (w - w0)
            # Only the violated hinges push: satisfied labels (usually most) cost nothing here.
            hit = np.flatnonzero(coef)
            if len(hit):
                grad += np.bincount(
                    lab_ids[hit].ravel(),
                    weights=(coef[hit, None] * lab_vals[hit]).ravel(),
                    minlength=k,
                )
            tau_coef = float(np.sum(scale * sign * self.c_tau * viol_t))
            if tau_coef:
                grad += np.bincount(tau_ids, weights=tau_coef * tau_vals, minlength=k)
            mean_sq *= 0.9
            mean_sq += 0.1 * grad * grad
            step = lr * grad / (np.sqrt(mean_sq) + 1e-8)
            w -= step
            if float(np.abs(step).max()) < self.tol:
                break
        weights = self.prior_weights_.copy()
        weights[active] = w
        # Unit length as in the paper: the threshold q of the next update is on the same scale.
        weights /= max(float(np.linalg.norm(weights)), 1e-12)
        self.weights_ = weights
        self.scores_ = emb.scores(weights)
        self.n_updates_ += 1
        return self
