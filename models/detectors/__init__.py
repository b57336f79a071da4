"""Detectors: heuristic rules and scikit-learn anomaly models that turn a Snapshot into Proposals.

Typical use::

    from models.detectors import build_detectors, run_detectors
    run = run_detectors(snapshot)               # every detector, thresholds from thresholds.toml
    run.proposals, run.skipped, run.seconds
"""

from models.detectors.base import (
    SEVERITIES,
    Detector,
    MissingTableError,
    Proposal,
    json_safe,
    proposals_frame,
)
from models.detectors.registry import (
    DETECTOR_CLASSES,
    REGISTRY,
    THRESHOLDS_PATH,
    DetectionRun,
    build_detectors,
    load_thresholds,
    parse_thresholds,
    run_detectors,
    skipped_detectors,
)

__all__ = [
    "DETECTOR_CLASSES",
    "REGISTRY",
    "SEVERITIES",
    "THRESHOLDS_PATH",
    "DetectionRun",
    "Detector",
    "MissingTableError",
    "Proposal",
    "build_detectors",
    "json_safe",
    "load_thresholds",
    "parse_thresholds",
    "proposals_frame",
    "run_detectors",
    "skipped_detectors",
]
