"""What the anomaly-model detectors share: robust z-scores within groups, scale floors and shrunk
shares to build their features, and ``OutlierModel``, the base that fits an IsolationForest (or
LocalOutlierFactor), calibrates its scores and explains an item by its most unusual features.

The fitted forest (``model_``), the matrix it saw (``X_``) and the items (``items_``) stay on the
detector after ``detect`` so that active anomaly discovery (Das et al., reweighting
isolation-forest leaves from reviewers' decisions) can read per-item leaf membership through
``leaf_indices``.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor

from models.detectors.base import Detector, clip01, saturating
from models.detectors.constraints import Constraint, Interval, Options
from models.detectors.series import MAD_TO_SIGMA

# Wide enough that a glaring anomaly stays far from a merely unusual item; finite so one
# division by a tiny scale cannot dominate the forest.
Z_CLIP = 50.0


def robust_z(
    values: pd.DataFrame, groups: np.ndarray | pd.Series, floors: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Robust z of each column within ``groups`` (median, MAD) and the group medians used."""
    g = values.groupby(np.asarray(groups), sort=False)
    med = g.transform("median")
    mad = (values - med).abs().groupby(np.asarray(groups), sort=False).transform("median")
    scale = np.maximum(MAD_TO_SIGMA * mad, floors.to_numpy()[None, :])
    z = ((values - med) / scale).clip(-Z_CLIP, Z_CLIP).fillna(0.0)
    return z, med


def shrunk_share(hits: np.ndarray, totals: np.ndarray, pseudo: float) -> np.ndarray:
    """hits / totals pulled toward the pooled share by ``pseudo`` imaginary trials: 1 failure in
    4 events is weak evidence, 40 in 160 is strong (empirical-Bayes style smoothing)."""
    hits = np.asarray(hits, dtype=float)
    totals = np.asarray(totals, dtype=float)
    pooled = hits.sum() / max(totals.sum(), 1.0)
    return (hits + pseudo * pooled) / (totals + pseudo)


def scale_floors(values: pd.DataFrame, share: float, minimum: float) -> pd.Series:
    """Per feature, a floor for the robust scale: a share of the feature's global spread, so
    that an item whose history barely wobbles does not turn a tiny change into a huge z."""
    med = values.median()
    mad = (values - med).abs().median() * MAD_TO_SIGMA
    iqr = values.quantile(0.9) - values.quantile(0.1)
    spread = np.maximum(mad, iqr / 2.56)
    return np.maximum(spread * share, minimum).fillna(minimum)


class OutlierModel(Detector):
    """Shared fitting and explanation for the engagement models."""

    kind = "model"
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "method": [Options("isolation_forest", "local_outlier_factor")],
        "n_estimators": [Interval(Integral, 1, None)],
        "max_samples": [
            Interval(Integral, 1, None),
            Interval(Real, 0, 1, closed="right"),
            Options("auto"),
        ],
        "n_neighbors": [Interval(Integral, 1, None)],
        "contamination": [Interval(Real, 0, 1)],
        "min_proposals": [Interval(Integral, 0, None)],
        "pseudo_count": [Interval(Real, 0, None)],
        "floor_share": [Interval(Real, 0, 1)],
        "calibration_z": [Interval(Real, 0, None, closed="neither")],
        "min_score_z": [Interval(Real, None, None)],
        "random_state": [Interval(Integral, 0, 2**32 - 1)],
        "top_features": [Interval(Integral, 1, None)],
    }

    method: str
    n_estimators: int
    max_samples: int | str
    n_neighbors: int
    contamination: float
    random_state: int
    min_proposals: int
    top_features: int
    calibration_z: float
    min_score_z: float

    def _fit_score(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores in [0, 1], higher = more anomalous; keeps ``model_`` and ``X_``."""
        self.X_ = X
        if self.method == "isolation_forest":
            # Fewer items than the sub-sample size: use them all (what sklearn would do, unwarned).
            samples = self.max_samples
            if isinstance(samples, int) and samples > len(X):
                samples = len(X)
            model = IsolationForest(
                n_estimators=self.n_estimators,
                max_samples=samples,
                random_state=self.random_state,
                n_jobs=1,
            ).fit(X)
            self.model_: IsolationForest | LocalOutlierFactor = model
            # score_samples is minus the paper's anomaly score s(x) = 2^(-E[h(x)]/c(n)) in (0, 1].
            return np.asarray(clip01(-model.score_samples(X)))
        if self.method == "local_outlier_factor":
            lof = LocalOutlierFactor(n_neighbors=min(self.n_neighbors, max(len(X) - 1, 1)))
            lof.fit(X)
            self.model_ = lof
            factor = -lof.negative_outlier_factor_
            return np.asarray(clip01(1.0 - 1.0 / np.maximum(factor, 1e-9)))
        raise ValueError(
            f"{self.name}: method must be 'isolation_forest' or 'local_outlier_factor', "
            f"not {self.method!r}"
        )

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        """Raw outlier scores made comparable across models and snapshots: robust z of the score
        within this fit (median, MAD), squashed to 0-1 (z = ``calibration_z`` gives ~0.63)."""
        med = float(np.median(raw))
        mad = float(np.median(np.abs(raw - med))) * MAD_TO_SIGMA
        z = (raw - med) / max(mad, 1e-9)
        self.score_z_ = z
        return np.asarray(saturating(z, self.calibration_z))

    def leaf_indices(self) -> np.ndarray:
        """(items x trees) leaf node ids of the last fitted isolation forest on ``X_``."""
        model = getattr(self, "model_", None)
        if not isinstance(model, IsolationForest):
            raise ValueError(f"{self.name}: no isolation forest fitted (run detect first)")
        cols = [
            est.apply(self.X_[:, feats])
            for est, feats in zip(model.estimators_, model.estimators_features_, strict=True)
        ]
        return np.column_stack(cols)

    def _selected(self, scores: np.ndarray) -> np.ndarray:
        """Indices of the items proposed, best first: at most the top ``contamination`` share,
        and only items whose outlier score is ``min_score_z`` robust deviations above typical."""
        n = len(scores)
        k = min(n, max(self.min_proposals, int(np.ceil(self.contamination * n))))
        order = np.argsort(-scores, kind="stable")[:k]
        return order[self.score_z_[order] >= self.min_score_z]

    @staticmethod
    def _describe(
        names: list[str],
        values: np.ndarray,
        z_parts: list[tuple[str, np.ndarray, np.ndarray]],
        top: int,
        fmt: dict[str, str],
    ) -> tuple[list[str], dict[str, float]]:
        """Plain-language phrases for the ``top`` features furthest from normal, and their z."""
        best: dict[str, tuple[float, str, float]] = {}
        for basis, z, med in z_parts:
            for i, name in enumerate(names):
                if np.isnan(z[i]):
                    continue
                if name not in best or abs(z[i]) > abs(best[name][0]):
                    best[name] = (float(z[i]), basis, float(med[i]))
        ranked = sorted(best.items(), key=lambda kv: -abs(kv[1][0]))[:top]
        phrases, zs = [], {}
        for name, (zval, basis, median) in ranked:
            if abs(zval) < 1.0:
                continue
            f = fmt.get(name, "{:.2f}")
            direction = "high" if zval > 0 else "low"
            phrases.append(
                f"{name.replace('_', ' ')} {f.format(values[names.index(name)])} is {direction} "
                f"against {basis} ({f.format(median)}; z {zval:+.1f})"
            )
            zs[f"z_{name}"] = round(zval, 2)
        return phrases, zs
