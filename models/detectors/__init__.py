"""Detectors: heuristic rules and scikit-learn anomaly models that turn a Snapshot into Proposals.

Run everything (thresholds from ``models/detectors/thresholds.toml``)::

    from models.detectors import run_detectors
    run = run_detectors(snapshot, on_progress=lambda name, done, total: ...)
    run.proposals   # list[Proposal], JSON-safe (Proposal.to_dict())
    run.skipped     # {name: "needs table sync_runs, absent"} (or "needs column courses.x, ...")
    run.seconds     # {detector name: wall seconds}; run.counts: proposals per detector

List, configure and skip::

    from models.detectors import REGISTRY, build_detectors, load_thresholds, skipped_detectors
    REGISTRY                                   # name -> class (name, version, categories, ...)
    dets = build_detectors(load_thresholds(), enabled=["orphan_account", "sync_failure"])
    dets[0].get_params(); dets[0].set_params(min_accounts=3)
    REGISTRY["duplicate_account"].check_params({"min_accounts": 1})  # InvalidParameterError:
    # duplicate_account: parameter 'min_accounts' must be an integer >= 2; got 1
    skipped_detectors(snapshot, dets)          # which cannot run on this snapshot, and why

What each detector reads, and what a snapshot lets them check (``models.detectors.coverage``)::

    REGISTRY["unowned_course"].reads["courses"]   # Columns(needed=(...), optional=(...))
    rows = coverage(carried_columns(snapshot), dets)
    coverage_lines(rows)   # ["Courses carry no owner: unowned courses cannot be checked.", ...]

A detector that raises propagates out of ``run_detectors`` so the caller's transaction can roll
back. The anomaly models keep ``model_``, ``X_``, ``items_`` and ``leaf_indices()`` after a run.
"""

from models.detectors.base import (
    SEVERITIES,
    Columns,
    Detector,
    MissingTableError,
    Proposal,
    carried_columns,
    json_safe,
    proposals_frame,
)
from models.detectors.constraints import InvalidParameterError
from models.detectors.registry import (
    DETECTOR_CLASSES,
    REGISTRY,
    THRESHOLDS_PATH,
    DetectorResults,
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
    "Columns",
    "Detector",
    "DetectorResults",
    "InvalidParameterError",
    "MissingTableError",
    "Proposal",
    "build_detectors",
    "carried_columns",
    "json_safe",
    "load_thresholds",
    "parse_thresholds",
    "proposals_frame",
    "run_detectors",
    "skipped_detectors",
]
