"""The queue's priority before any learning: the detector's score weighted by severity."""

from __future__ import annotations

SEVERITY_WEIGHT = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}


def base_priority(score: float, severity: str) -> float:
    """Priority in [0, 1]: mostly the detector's suspicion, nudged up by the harm if it is real."""
    return round(0.7 * float(score) + 0.3 * SEVERITY_WEIGHT.get(severity, 0.5), 6)
