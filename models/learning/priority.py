"""Priority learning: P(a reviewer confirms this finding), the queue priority built on it, the
promotion gate's held-out figures, and the exploration share of the queue's top.

Input is one DataFrame row per finding: ``category``, ``detector``, ``score``, ``severity``,
``entity_key``, ``features`` (a dict of numbers), optionally where the gap is (``course_id``,
``department``), and for decided findings ``decided_at`` and ``confirmed`` (True for a
confirmation, False for a dismissal). The place matters because reviewers' dismissals cluster
there: a course whose rule exempts long-serving staff, a department reached by another channel,
a deadline extended outside the LMS; the detectors cannot see that context, the reviewers can.
The entity's history (earlier confirmations and dismissals of the same entity, and of the same
category) is computed here from the decided rows, always strictly before the moment a row is
judged, so nothing leaks from the future into training or into the held-out figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.taxonomy import base_priorities

CATEGORICAL = ["category", "detector", "severity"]
# Where the gap is; a place seen fewer than twice in training counts as "infrequent".
PLACES = ["course_id", "department"]
NO_PLACE = "(none)"
HISTORY = [
    "entity_confirmed_before",
    "entity_dismissed_before",
    "category_confirmed_before",
    "category_dismissed_before",
]
# A week of reviewing capacity: what the gate judges a model on.
DEFAULT_K = 50
DEFAULT_EXPLORATION_SHARE = 0.10
# Keys that describe the queue, not the gap: never learned from.
NOT_FEATURES = frozenset({"exploration"})


class NotEnoughDecisions(ValueError):
    """There are too few decided findings (or only one kind of answer) to train on."""


def combined_priority(
    p_confirmed: np.ndarray, score: np.ndarray, severity: pd.Series, weight: float = 0.6
) -> np.ndarray:
    """Queue priority in [0, 1]: the learned P(confirmed) blended with score and severity."""
    return np.round(
        weight * np.asarray(p_confirmed) + (1.0 - weight) * base_priorities(score, severity), 6
    )


def history_features(rows: pd.DataFrame, decided: pd.DataFrame, at: pd.Series) -> pd.DataFrame:
    """Counts of confirmations and dismissals in ``decided`` strictly before ``at`` for each row,
    of the same entity (any category) and of the same category (any entity)."""
    out = pd.DataFrame(index=rows.index, columns=HISTORY, dtype=float).fillna(0.0)
    if decided.empty:
        return out
    times = pd.to_datetime(at, utc=True).to_numpy()
    dec_times = pd.to_datetime(decided["decided_at"], utc=True)
    for key, prefix in (("entity_key", "entity"), ("category", "category")):
        for outcome, suffix in ((True, "confirmed"), (False, "dismissed")):
            hits = decided[decided["confirmed"].astype(bool) == outcome]
            stamps = {k: np.sort(dec_times.loc[g.index].to_numpy()) for k, g in hits.groupby(key)}
            col = f"{prefix}_{suffix}_before"
            values = np.zeros(len(rows))
            for i, (k, t) in enumerate(zip(rows[key].to_numpy(), times, strict=True)):
                s = stamps.get(k)
                if s is not None:
                    values[i] = np.searchsorted(s, t, side="left")
            out[col] = values
    return out


def feature_table(
    rows: pd.DataFrame,
    decided: pd.DataFrame,
    at: pd.Series,
    feature_keys: Sequence[str],
    categorical: Sequence[str] = (*CATEGORICAL, *PLACES),
) -> pd.DataFrame:
    """The model's input: categorical columns (a missing place is ``NO_PLACE``), score, history
    and the named numeric features."""
    table = pd.DataFrame(index=rows.index)
    for name in categorical:
        values = rows[name] if name in rows else pd.Series(None, index=rows.index, dtype=object)
        table[name] = values.astype(object).where(values.notna(), NO_PLACE).astype(str)
    table["score"] = rows["score"].astype(float)
    table = table.join(history_features(rows, decided, at))
    feats = rows["features"].apply(lambda d: d if isinstance(d, dict) else {})
    for key in feature_keys:
        table[f"f_{key}"] = pd.to_numeric(feats.apply(lambda d, k=key: d.get(k)), errors="coerce")
    return table


def numeric_feature_keys(rows: pd.DataFrame, min_share: float = 0.05) -> list[str]:
    """Numeric feature keys present in at least ``min_share`` of the rows (rarer ones are noise)."""
    counts: dict[str, int] = {}
    for d in rows["features"]:
        if not isinstance(d, dict):
            continue
        for k, v in d.items():
            if k in NOT_FEATURES or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            counts[k] = counts.get(k, 0) + 1
    need = max(1, int(np.ceil(min_share * len(rows))))
    return sorted(k for k, c in counts.items() if c >= need)


class PriorityModel:
    """Calibrated logistic regression for P(confirmed); ``fit`` on decided findings in time order.

    Logistic rather than gradient boosting: a queue has hundreds of decisions, not millions, and
    a linear model trains in milliseconds on them, so retraining after every few decisions is
    cheap and stable.

    Parameters are stored untouched; learned state ends in ``_``.
    """

    def __init__(self, *, C: float = 1.0) -> None:
        self.C = C

    def fit(self, decided: pd.DataFrame) -> PriorityModel:
        """Train on decided findings (``confirmed`` True/False, ``decided_at``)."""
        decided = decided.sort_values("decided_at", kind="stable")
        labels = decided["confirmed"].astype(bool).to_numpy()
        n_pos, n_neg = int(labels.sum()), int((~labels).sum())
        if min(n_pos, n_neg) < 2:
            raise NotEnoughDecisions(
                f"need at least 2 confirmed and 2 dismissed findings, have {n_pos} and {n_neg}"
            )
        self.feature_keys_ = numeric_feature_keys(decided)
        self.categorical_ = [*CATEGORICAL, *PLACES]
        X = feature_table(
            decided, decided, decided["decided_at"], self.feature_keys_, self.categorical_
        )
        numeric = [c for c in X.columns if c not in self.categorical_]
        # A missing feature is information (the detector did not measure it): keep a flag.
        encoder = ColumnTransformer(
            [
                (
                    "cat",
                    OneHotEncoder(handle_unknown="ignore", min_frequency=2),
                    self.categorical_,
                ),
                (
                    "num",
                    make_pipeline(
                        SimpleImputer(
                            strategy="median", add_indicator=True, keep_empty_features=True
                        ),
                        StandardScaler(),
                    ),
                    numeric,
                ),
            ],
            sparse_threshold=0.0,
        )
        classifier = Pipeline(
            [
                ("encode", encoder),
                ("logistic", LogisticRegression(C=self.C, max_iter=1000)),
            ]
        )
        # Sigmoid calibration: isotonic overfits the few hundred decisions a queue has.
        folds = min(3, n_pos, n_neg)
        self.model_ = CalibratedClassifierCV(classifier, method="sigmoid", cv=folds).fit(X, labels)
        self.training_size_ = len(X)
        self.history_ = decided[["entity_key", "category", "decided_at", "confirmed"]].copy()
        return self

    def predict_proba(self, rows: pd.DataFrame, at: pd.Series | None = None) -> np.ndarray:
        """P(confirmed) for each row, judged with the history known before ``at`` (default: all)."""
        if at is None:
            at = pd.Series(pd.Timestamp.max.tz_localize("UTC"), index=rows.index)
        # Models trained before places were features read only the first three columns.
        categorical = getattr(self, "categorical_", CATEGORICAL)
        X = feature_table(rows, self.history_, at, self.feature_keys_, categorical)
        return np.asarray(self.model_.predict_proba(X)[:, 1])

    def priority(self, rows: pd.DataFrame, at: pd.Series | None = None) -> np.ndarray:
        """Queue priority of each row: P(confirmed) blended with the score and severity."""
        return combined_priority(self.predict_proba(rows, at), rows["score"], rows["severity"])


def time_split(
    decided: pd.DataFrame, holdout_share: float = 0.25
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier decisions to train on, the latest ``holdout_share`` to judge on (never shuffled)."""
    ordered = decided.sort_values("decided_at", kind="stable")
    cut = round(len(ordered) * (1.0 - holdout_share))
    return ordered.iloc[:cut], ordered.iloc[cut:]


def precision_at_k(confirmed: np.ndarray, priority: np.ndarray, k: int = DEFAULT_K) -> float:
    """Share of confirmations among the ``k`` highest-priority findings (all of them if fewer)."""
    confirmed = np.asarray(confirmed, dtype=bool)
    if not len(confirmed):
        return float("nan")
    top = np.argsort(-np.asarray(priority, dtype=float), kind="stable")[: max(1, k)]
    return float(confirmed[top].mean())


@dataclass(frozen=True)
class GateResult:
    """Held-out figures of a candidate against the current ranking, and the verdict."""

    promote: bool
    k: int
    holdout_size: int
    candidate_precision: float
    current_precision: float
    candidate_brier: float
    current_brier: float
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


def brier(confirmed: np.ndarray, probability: np.ndarray) -> float:
    """Mean squared gap between a probability and what happened (lower is better)."""
    return float(np.mean((np.asarray(probability) - np.asarray(confirmed, dtype=float)) ** 2))


def judge(
    confirmed: np.ndarray,
    candidate: np.ndarray,
    current: np.ndarray,
    *,
    k: int = DEFAULT_K,
    candidate_prob: np.ndarray | None = None,
    current_prob: np.ndarray | None = None,
) -> GateResult:
    """The promotion gate: the candidate must rank the held-out decisions better at k.

    A tie at k is broken by the Brier score of the probabilities (when both are given), so a
    model that is equally precise but better calibrated can still replace the current one.
    """
    cand_p = precision_at_k(confirmed, candidate, k)
    cur_p = precision_at_k(confirmed, current, k)
    cand_b = brier(confirmed, candidate_prob) if candidate_prob is not None else float("nan")
    cur_b = brier(confirmed, current_prob) if current_prob is not None else float("nan")
    if not len(confirmed):
        return GateResult(False, k, 0, cand_p, cur_p, cand_b, cur_b, "no held-out decisions")
    if cand_p > cur_p + 1e-12:
        verdict, why = True, f"precision@{k} {cand_p:.3f} beats {cur_p:.3f}"
    elif abs(cand_p - cur_p) <= 1e-12 and cand_b < cur_b - 1e-9:
        verdict, why = True, f"precision@{k} ties at {cand_p:.3f}; Brier {cand_b:.3f} < {cur_b:.3f}"
    else:
        verdict, why = False, f"precision@{k} {cand_p:.3f} does not beat {cur_p:.3f}"
    return GateResult(verdict, k, len(confirmed), cand_p, cur_p, cand_b, cur_b, why)


def explore_queue(
    priority: np.ndarray,
    p_confirmed: np.ndarray,
    *,
    top_n: int = DEFAULT_K,
    share: float = DEFAULT_EXPLORATION_SHARE,
) -> tuple[np.ndarray, np.ndarray]:
    """Priorities with a ``share`` of the top ``top_n`` slots given to the least certain findings.

    Returns the new priorities (the same set of values, reassigned, so the queue's scale does not
    move) and a boolean mask of the findings placed by exploration. The uncertain findings are
    the ones with P(confirmed) closest to one half among those that would not reach the top by
    priority; they take evenly spaced slots so every screen of the queue shows some of them.
    """
    priority = np.asarray(priority, dtype=float)
    n = len(priority)
    explore = np.zeros(n, dtype=bool)
    if not 0.0 <= share < 1.0:
        raise ValueError(f"exploration share must lie in [0, 1), not {share!r}")
    top_n = min(top_n, n)
    n_explore = round(share * top_n)
    if n_explore == 0 or n <= top_n - n_explore:
        return priority.copy(), explore
    order = np.argsort(-priority, kind="stable")
    exploit = order[: top_n - n_explore]
    rest = order[top_n - n_explore :]
    doubt = np.abs(np.asarray(p_confirmed, dtype=float)[rest] - 0.5)
    chosen = rest[np.argsort(doubt, kind="stable")[:n_explore]]
    others = np.setdiff1d(rest, chosen, assume_unique=True)
    others = others[np.argsort(-priority[others], kind="stable")]
    # Evenly spaced slots for exploration: positions step, 2*step, ... within the top.
    step = top_n / n_explore
    slots = {int(step * (i + 1)) - 1 for i in range(n_explore)}
    new_order: list[int] = []
    exploit_iter, chosen_iter = iter(exploit.tolist()), iter(chosen.tolist())
    for pos in range(top_n):
        source = chosen_iter if pos in slots else exploit_iter
        new_order.append(next(source))
    new_order.extend(others.tolist())
    values = np.sort(priority)[::-1]
    out = np.empty(n)
    out[np.asarray(new_order)] = values
    explore[chosen] = True
    return out, explore
