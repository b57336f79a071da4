"""Detector on the integrations that feed Gapdesk: sync runs that fail, lose records or stop.
(Holes in the activity feed are ``models.detectors.reporting``.)"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd

from models.detectors.base import (
    Columns,
    Detector,
    Proposal,
    columns,
    records,
    saturating,
)
from models.detectors.common import (
    ONE_DAY,
    as_of_ts,
    day_label,
    day_number,
    utc,
)
from models.detectors.constraints import Constraint, Interval
from models.snapshot import Snapshot


class SyncFailureDetector(Detector):
    """Integration runs that failed, lost records, never finished, or stopped coming."""

    name = "sync_failure"
    version = "1.0"
    categories = ("sync_failure",)
    requires = ("sync_runs",)
    # Without finished_at every run would look unfinished: it is needed, not optional.
    reads: ClassVar[dict[str, Columns]] = {
        "sync_runs": columns(
            "integration", "started_at", "finished_at", "status", "records_read", "records_written"
        )
    }
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "unfinished_after_hours": [Interval(Real, 0, None, closed="neither")],
        "overdue_factor": [Interval(Real, 1, None)],
        "min_runs_for_interval": [Interval(Integral, 2, None)],
    }

    def __init__(
        self,
        *,
        unfinished_after_hours: float = 24.0,
        overdue_factor: float = 2.0,
        min_runs_for_interval: int = 3,
        max_evidence_rows: int = 10,
    ) -> None:
        self.unfinished_after_hours = unfinished_after_hours
        self.overdue_factor = overdue_factor
        self.min_runs_for_interval = min_runs_for_interval
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        as_of = as_of_ts(snapshot)
        runs = snapshot["sync_runs"].copy()
        runs["started_at"] = utc(runs["started_at"])
        runs["finished_at"] = utc(runs["finished_at"])
        runs = runs[(runs["started_at"] <= as_of).fillna(False)]
        if runs.empty:
            return []
        status = runs["status"].astype(str)
        late = pd.Timedelta(hours=self.unfinished_after_hours)
        unfinished = runs["finished_at"].isna() & (runs["started_at"] + late < as_of)
        read = pd.to_numeric(runs["records_read"], errors="coerce")
        written = pd.to_numeric(runs["records_written"], errors="coerce")
        # A run still inside its allowed time may not have written everything yet.
        settled = runs["finished_at"].notna() | (runs["started_at"] + late < as_of)
        lost = (written < read).fillna(False) & settled
        failed = status.eq("failed")
        partial = status.eq("partial")
        bad = failed | partial | unfinished | lost
        lost_share = ((read - written) / read.where(read > 0)).clip(0, 1).fillna(0.0)
        score = np.select(
            [failed, unfinished, partial, lost],
            [0.9, 0.85, 0.7, 0.6 + 0.3 * saturating(lost_share, 0.1)],
            default=0.0,
        )
        runs["problem"] = np.select(
            [failed, unfinished, partial, lost],
            ["failed", "never finished", "partial", "wrote fewer records than it read"],
            default="",
        )
        runs["score"] = score
        runs["day"] = day_number(runs["started_at"]).astype("int64")
        items: list[dict[str, object]] = []
        for (integration, day), group in runs[bad].groupby(["integration", "day"], sort=True):
            problems = sorted(set(group["problem"]))
            severe = bool(group["problem"].isin(["failed", "never finished"]).any())
            items.append(
                {
                    "integration": integration,
                    "day": day,
                    "score": float(group["score"].max()),
                    "severity": "high" if severe else "medium",
                    "title": f"Integration {integration}: {len(group)} run(s) on "
                    f"{day_label([day])[0]} {' / '.join(problems)}",
                    "explanation": "A sync run " + ", ".join(problems) + ": records may be "
                    "missing downstream.",
                    "evidence": {"sync_runs": records(group, self.max_evidence_rows)},
                    "features": {
                        "runs": len(group),
                        "failed": int((group["problem"] == "failed").sum()),
                        "records_lost": float(
                            (read[group.index] - written[group.index]).clip(lower=0).sum()
                        ),
                    },
                }
            )
        items.extend(self._overdue(runs, as_of))
        # Several problems on one integration and day are one finding: keep the strongest.
        best: dict[tuple[object, object], dict[str, object]] = {}
        for it in items:
            k = (it["integration"], it["day"])
            if k not in best or float(it["score"]) > float(best[k]["score"]):  # type: ignore[arg-type]
                best[k] = it
        out = []
        for (integration, day), it in sorted(best.items(), key=lambda kv: str(kv[0])):
            out.append(
                self._proposal(
                    category="sync_failure",
                    entity_key=f"integration={integration};date={day_label([day])[0]}",
                    title=str(it["title"]),
                    score=float(it["score"]),  # type: ignore[arg-type]
                    severity=str(it["severity"]),
                    evidence=it["evidence"],  # type: ignore[arg-type]
                    features=it["features"],  # type: ignore[arg-type]
                    explanation=str(it["explanation"]),
                )
            )
        return out

    def _overdue(self, runs: pd.DataFrame, as_of: pd.Timestamp) -> list[dict[str, object]]:
        """Silences longer than ``overdue_factor`` times the integration's median interval."""
        out: list[dict[str, object]] = []
        for integration, group in runs.groupby("integration", sort=True):
            starts = group["started_at"].sort_values()
            if len(starts) < self.min_runs_for_interval:
                continue
            gaps = starts.diff().dropna()
            usual = gaps.median()
            if pd.isna(usual) or usual <= pd.Timedelta(0):
                continue
            limit = self.overdue_factor * usual
            # Gaps in the history, then the silence from the last run up to as_of.
            prev = starts.shift().iloc[1:]
            ends = starts.iloc[1:]
            spans = [*list(zip(prev, ends, strict=True)), (starts.iloc[-1], as_of)]
            for start, end in spans:
                silence = end - start
                if silence <= limit:
                    continue
                became_due = start + limit
                ratio = silence / usual
                out.append(
                    {
                        "integration": integration,
                        "day": int((became_due - pd.Timestamp("1970-01-01", tz="UTC")) // ONE_DAY),
                        "score": 0.6 + 0.4 * float(saturating(ratio - self.overdue_factor, 3.0)),
                        "severity": "critical" if ratio > 5 * self.overdue_factor else "high",
                        "title": f"Integration {integration} stopped running: no run for "
                        f"{silence / pd.Timedelta(hours=1):.0f} h after {start.isoformat()} "
                        f"(usually every {usual / pd.Timedelta(hours=1):.1f} h)",
                        "explanation": f"No run for {ratio:.1f} times the integration's usual "
                        "interval "
                        "(median gap between its runs).",
                        "evidence": {
                            "last_run_before_silence": start,
                            "next_run": None if end is as_of else end,
                            "usual_interval_hours": usual / pd.Timedelta(hours=1),
                        },
                        "features": {
                            "silence_hours": silence / pd.Timedelta(hours=1),
                            "usual_interval_hours": usual / pd.Timedelta(hours=1),
                            "ratio": ratio,
                        },
                    }
                )
        return out
