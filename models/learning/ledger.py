"""The rule ledger: how each detector's proposals fare with reviewers, and what to change.

Inputs are plain DataFrames built by the app layer from the queue's tables: one row per finding
(``finding_id``, ``detector``, ``first_seen_at``, ``features``, and where it is: ``course_id``,
``department``) and one row per decision (``finding_id``, ``action`` confirm/dismiss, ``reason``,
``at``). A finding decided more than once counts with its latest decision.

Two kinds of suggestion, each a proposal condition an admin can apply as a new detector
configuration version: a *threshold* where ``false_positive_rule`` dismissals cluster at one end
of a feature (the rule is too eager), and an *exception* where ``expected`` dismissals cluster in
one course or department (the organisation knows something there the rule cannot see).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

DISMISS_REASONS = ("false_positive_rule", "data_error", "expected", "duplicate", "other")
FALSE_POSITIVE = "false_positive_rule"
EXPECTED = "expected"
PLACES = {"course_id": "course", "department": "department"}


def latest_decisions(decisions: pd.DataFrame) -> pd.DataFrame:
    """The last confirm or dismiss of each finding (an undo or reopen is superseded by it)."""
    final = decisions[decisions["action"].isin(["confirm", "dismiss"])]
    final = final.sort_values("at", kind="stable")
    return final.groupby("finding_id", as_index=False).tail(1)


def rule_ledger(
    findings: pd.DataFrame,
    decisions: pd.DataFrame,
    *,
    now: pd.Timestamp | None = None,
    window_days: int = 28,
) -> pd.DataFrame:
    """Per detector: proposals, confirmed, dismissed (in total and by reason), precision, trend.

    ``trend`` is the precision of decisions in the last ``window_days`` minus that of the window
    before (NaN where either window has no decisions): a detector getting worse shows below 0.
    """
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    window = pd.Timedelta(days=window_days)
    last = latest_decisions(decisions).merge(
        findings[["finding_id", "detector"]], on="finding_id", how="inner"
    )
    last["at"] = pd.to_datetime(last["at"], utc=True)
    rows = []
    for detector, proposed in findings.groupby("detector"):
        mine = last[last["detector"] == detector]
        confirmed = int((mine["action"] == "confirm").sum())
        dismissed = mine[mine["action"] == "dismiss"]
        row: dict[str, object] = {
            "detector": detector,
            "proposals": len(proposed),
            "confirmed": confirmed,
            "dismissed": len(dismissed),
        }
        for reason in DISMISS_REASONS:
            row[f"dismissed_{reason}"] = int((dismissed["reason"] == reason).sum())
        decided = confirmed + len(dismissed)
        row["precision"] = confirmed / decided if decided else float("nan")
        recent = mine[mine["at"] > now - window]
        before = mine[(mine["at"] <= now - window) & (mine["at"] > now - 2 * window)]
        row["trend"] = _precision(recent) - _precision(before)
        rows.append(row)
    columns = ["detector", "proposals", "confirmed", "dismissed"]
    columns += [f"dismissed_{r}" for r in DISMISS_REASONS] + ["precision", "trend"]
    return pd.DataFrame(rows, columns=columns)


def _precision(decided: pd.DataFrame) -> float:
    return float((decided["action"] == "confirm").mean()) if len(decided) else float("nan")


@dataclass(frozen=True)
class ThresholdSuggestion:
    """'Require ``feature`` ``direction`` ``threshold``': what it would have removed."""

    detector: str
    feature: str
    direction: str  # ">=" keeps findings at or above the threshold; "<=" at or below
    threshold: float
    removes_false_positive: int
    removes_dismissed: int
    removes_confirmed: int
    # The decided findings the cut removes, and the other features whose best cut removes the
    # very same ones (the same suggestion said another way, listed instead of repeated).
    removed: frozenset[Any] = field(default=frozenset(), compare=False, repr=False)
    same_as: tuple[str, ...] = ()

    def describe(self) -> str:
        """One plain sentence for the ledger page and the CLI."""
        also = f" (the same findings by {', '.join(self.same_as)})" if self.same_as else ""
        return (
            f"{self.detector}: propose only when {self.feature} {self.direction} "
            f"{self.threshold:.4g}; would have removed {self.removes_dismissed} dismissed "
            f"({self.removes_false_positive} as false positives) and {self.removes_confirmed} "
            f"confirmed{also}"
        )

    def condition(self) -> dict[str, Any]:
        """The proposal condition that applies it."""
        return {"feature": self.feature, "op": self.direction, "value": self.threshold}


@dataclass(frozen=True)
class ExceptionSuggestion:
    """'Propose nothing of ``detector`` in this course (or department)': what it removes."""

    detector: str
    place: str  # "course_id" or "department"
    value: str
    removes_expected: int
    removes_dismissed: int
    removes_confirmed: int

    def describe(self) -> str:
        """One plain sentence for the ledger page and the CLI."""
        return (
            f"{self.detector}: make {PLACES[self.place]} {self.value} an exception (propose "
            f"nothing there); {self.removes_expected} of its findings there were dismissed as "
            f"expected; it would have removed {self.removes_dismissed} dismissed and "
            f"{self.removes_confirmed} confirmed"
        )

    def condition(self) -> dict[str, Any]:
        """The proposal condition that applies it."""
        return {"place": self.place, "op": "!=", "value": self.value}


def exception_suggestions(
    findings: pd.DataFrame,
    decisions: pd.DataFrame,
    *,
    min_expected: int = 5,
    max_confirmed_share: float = 0.1,
) -> list[ExceptionSuggestion]:
    """Where a detector's findings in one course or department are dismissed as ``expected`` at
    least ``min_expected`` times, and at most ``max_confirmed_share`` of its decisions there are
    confirmations, an exception for that place."""
    places = [p for p in PLACES if p in findings.columns]
    last = latest_decisions(decisions).merge(
        findings[["finding_id", "detector", *places]], on="finding_id", how="inner"
    )
    out: list[ExceptionSuggestion] = []
    for place in places:
        located = last[last[place].notna() & (last[place].astype(str) != "")]
        for (detector, value), mine in located.groupby(["detector", place]):
            dismissed = mine["action"] == "dismiss"
            expected = int((dismissed & (mine["reason"] == EXPECTED)).sum())
            confirmed = int((mine["action"] == "confirm").sum())
            if expected < min_expected or confirmed > max_confirmed_share * len(mine):
                continue
            out.append(
                ExceptionSuggestion(
                    detector=str(detector),
                    place=place,
                    value=str(value),
                    removes_expected=expected,
                    removes_dismissed=int(dismissed.sum()),
                    removes_confirmed=confirmed,
                )
            )

    # A place that explains no more dismissals at no lower cost adds nothing; on a tie the
    # narrower place (a course, not its whole department) is the one to keep.
    def covered_by(s: ExceptionSuggestion, t: ExceptionSuggestion) -> bool:
        if t is s or t.detector != s.detector:
            return False
        if t.removes_expected < s.removes_expected or t.removes_confirmed > s.removes_confirmed:
            return False
        strictly = (t.removes_expected, -t.removes_confirmed) > (
            s.removes_expected,
            -s.removes_confirmed,
        )
        return strictly or (t.place == "course_id" and s.place == "department")

    kept = [s for s in out if not any(covered_by(s, t) for t in out)]
    kept.sort(key=lambda s: (-s.removes_expected, s.removes_confirmed, s.detector, s.value))
    return kept


def threshold_suggestions(
    findings: pd.DataFrame,
    decisions: pd.DataFrame,
    *,
    min_false_positives: int = 5,
    max_confirmed_share: float = 0.1,
) -> list[ThresholdSuggestion]:
    """Where ``false_positive_rule`` dismissals cluster at one end of a feature, the cut that
    removes the most of them while losing at most ``max_confirmed_share`` of the confirmations.

    For each detector and numeric feature both directions are tried; candidate cuts are the
    midpoints between observed values. One suggestion (the best) per detector and feature.
    """
    last = latest_decisions(decisions).merge(
        findings[["finding_id", "detector", "features"]], on="finding_id", how="inner"
    )
    out: list[ThresholdSuggestion] = []
    for detector, mine in last.groupby("detector"):
        fp = (mine["action"] == "dismiss") & (mine["reason"] == FALSE_POSITIVE)
        if int(fp.sum()) < min_false_positives:
            continue
        confirmed = (mine["action"] == "confirm").to_numpy()
        dismissed = (mine["action"] == "dismiss").to_numpy()
        feats = pd.DataFrame(
            list(mine["features"].apply(lambda d: d if isinstance(d, dict) else {}))
        )
        for name in feats.columns:
            values = pd.to_numeric(feats[name], errors="coerce").to_numpy(dtype=float)
            known = ~np.isnan(values)
            if known.sum() < min_false_positives or len(np.unique(values[known])) < 2:
                continue
            best = _best_cut(values, fp.to_numpy(), dismissed, confirmed, max_confirmed_share)
            if best is None or best[1] < min_false_positives:
                continue
            (direction, threshold), removes_fp, removes_dis, removes_conf = best[0], *best[1:]
            cut = (values < threshold) if direction == ">=" else (values > threshold)
            removed = frozenset(mine["finding_id"].to_numpy()[known & cut].tolist())
            out.append(
                ThresholdSuggestion(
                    detector=str(detector),
                    feature=str(name),
                    direction=direction,
                    threshold=threshold,
                    removes_false_positive=removes_fp,
                    removes_dismissed=removes_dis,
                    removes_confirmed=removes_conf,
                    removed=removed,
                )
            )
    return one_per_target(out)


def one_per_target(suggestions: list[ThresholdSuggestion]) -> list[ThresholdSuggestion]:
    """One suggestion per detector and the findings it removes, ranked by what it removes.

    Features of one model move together (a learner's events, active days and their z-scores),
    so their best cuts often remove the very same findings: those are one suggestion, on the
    feature listed first, naming the others. A cut whose findings another cut of the same
    detector removes too (so no fewer dismissals) at no more confirmations lost adds nothing and
    is left out. Most false positives removed first, then fewest confirmations lost.
    """
    ranked = sorted(
        suggestions,
        key=lambda s: (-s.removes_false_positive, s.removes_confirmed, s.detector, s.feature),
    )
    kept: list[ThresholdSuggestion] = []
    for s in ranked:
        twin = next(
            (i for i, k in enumerate(kept) if k.detector == s.detector and k.removed == s.removed),
            None,
        )
        if twin is not None:
            kept[twin] = replace(kept[twin], same_as=(*kept[twin].same_as, s.feature))
            continue
        covered = any(
            k.detector == s.detector
            and s.removed <= k.removed
            and k.removes_confirmed <= s.removes_confirmed
            for k in kept
        )
        if not covered:
            kept.append(s)
    return kept


def _best_cut(
    values: np.ndarray,
    fp: np.ndarray,
    dismissed: np.ndarray,
    confirmed: np.ndarray,
    max_confirmed_share: float,
) -> tuple[tuple[str, float], int, int, int] | None:
    known = ~np.isnan(values)
    uniq = np.unique(values[known])
    cuts = (uniq[:-1] + uniq[1:]) / 2.0
    allowed = int(np.floor(max_confirmed_share * confirmed.sum()))
    best: tuple[tuple[str, float], int, int, int] | None = None
    for direction in (">=", "<="):
        for cut in cuts:
            # A finding without the feature is never removed by a cut on it.
            removed = known & ((values < cut) if direction == ">=" else (values > cut))
            n_conf = int((removed & confirmed).sum())
            if n_conf > allowed:
                continue
            n_fp = int((removed & fp).sum())
            key = (n_fp, -n_conf)
            if best is None or key > (best[1], -best[3]):
                best = ((direction, float(cut)), n_fp, int((removed & dismissed).sum()), n_conf)
    return best
