"""All detectors, their thresholds, and one call that runs the ones a snapshot allows.

Thresholds live in ``models/detectors/thresholds.toml``: one ``[section]`` per detector name
whose keys are that detector's ``__init__`` parameters. A missing key keeps the class's default;
a value the detector's ``parameter_constraints`` refuse is an error naming it.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.detectors.base import Detector, Proposal
from models.detectors.compliance import ComplianceOverdueDetector
from models.detectors.constraints import InvalidParameterError
from models.detectors.courses import (
    AccessFailureDetector,
    GradingDelayDetector,
    UnownedCourseDetector,
)
from models.detectors.engagement import CourseWeekEngagementDetector, LearnerEngagementDetector
from models.detectors.enrolment import EnrollmentFailedDetector, EnrollmentMissingDetector
from models.detectors.identity import (
    DuplicateAccountDetector,
    OrphanAccountDetector,
    RecordMismatchDetector,
)
from models.detectors.inconsistent import ProgressInconsistentDetector
from models.detectors.integrations import SyncFailureDetector
from models.detectors.notifications import (
    NotificationOutageDetector,
    NotificationUndeliveredDetector,
)
from models.detectors.reporting import ReportingGapDetector
from models.snapshot import Snapshot

# In the taxonomy's order of categories; the anomaly models last (they are the slowest).
DETECTOR_CLASSES: tuple[type[Detector], ...] = (
    EnrollmentMissingDetector,
    EnrollmentFailedDetector,
    NotificationUndeliveredDetector,
    NotificationOutageDetector,
    OrphanAccountDetector,
    RecordMismatchDetector,
    DuplicateAccountDetector,
    SyncFailureDetector,
    ProgressInconsistentDetector,
    GradingDelayDetector,
    AccessFailureDetector,
    ComplianceOverdueDetector,
    UnownedCourseDetector,
    ReportingGapDetector,
    CourseWeekEngagementDetector,
    LearnerEngagementDetector,
)

REGISTRY: dict[str, type[Detector]] = {cls.name: cls for cls in DETECTOR_CLASSES}

THRESHOLDS_PATH = Path(__file__).resolve().parent / "thresholds.toml"


def parse_thresholds(text: str, *, origin: str = "thresholds") -> dict[str, dict[str, Any]]:
    """Threshold sections from TOML text, checked against the detectors' parameters."""
    data = tomllib.loads(text)
    out: dict[str, dict[str, Any]] = {}
    for section, params in data.items():
        if section not in REGISTRY:
            raise ValueError(f"{origin}: unknown detector [{section}]; known: {sorted(REGISTRY)}")
        if not isinstance(params, dict):
            raise ValueError(f"{origin}: [{section}] must be a table of parameters")
        valid = set(REGISTRY[section].param_names())
        for key in params:
            if key not in valid:
                raise ValueError(
                    f"{origin}: [{section}] has unknown parameter {key!r}; valid: {sorted(valid)}"
                )
        try:
            REGISTRY[section].check_params(params)
        except InvalidParameterError as exc:
            raise ValueError(f"{origin}: {exc}") from None
        out[section] = dict(params)
    return out


def load_thresholds(path: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """Thresholds from ``path`` (default: the shipped ``models/detectors/thresholds.toml``)."""
    p = Path(path) if path is not None else THRESHOLDS_PATH
    return parse_thresholds(p.read_text(encoding="utf-8"), origin=str(p))


def build_detectors(
    thresholds: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    enabled: Iterable[str] | None = None,
) -> list[Detector]:
    """Detectors built with ``thresholds`` (default: the shipped file), only ``enabled`` ones."""
    params = load_thresholds() if thresholds is None else thresholds
    names = list(REGISTRY) if enabled is None else list(enabled)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown detectors {unknown}; known: {sorted(REGISTRY)}")
    return [REGISTRY[n](**dict(params.get(n, {}))) for n in names]


def skipped_detectors(snapshot: Snapshot, detectors: Iterable[Detector]) -> dict[str, str]:
    """Detector name → why it cannot run on ``snapshot`` (a required table is absent)."""
    out: dict[str, str] = {}
    for det in detectors:
        reason = det.skip_reason(snapshot)
        if reason is not None:
            out[det.name] = reason
    return out


@dataclass
class DetectorResults:
    """What ``run_detectors`` found: proposals, detectors skipped (and why), time per detector."""

    proposals: list[Proposal] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    # CPU seconds of the process (every thread, an engine's among them) per detector.
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def run_detectors(
    snapshot: Snapshot,
    detectors: Iterable[Detector] | None = None,
    *,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> DetectorResults:
    """Run every detector the snapshot allows; a detector that raises propagates (the caller's
    transaction must then leave the queue as it was). ``on_progress(name, done, total)`` is
    called before each detector."""
    dets = build_detectors() if detectors is None else list(detectors)
    run = DetectorResults(skipped=skipped_detectors(snapshot, dets))
    runnable = [d for d in dets if d.name not in run.skipped]
    for i, det in enumerate(runnable):
        if on_progress is not None:
            on_progress(det.name, i, len(runnable))
        start, cpu = time.perf_counter(), time.process_time()
        found = det.detect(snapshot)
        run.seconds[det.name] = time.perf_counter() - start
        run.cpu_seconds[det.name] = time.process_time() - cpu
        run.counts[det.name] = len(found)
        run.proposals.extend(found)
    if on_progress is not None:
        on_progress("", len(runnable), len(runnable))
    return run
