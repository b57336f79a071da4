"""The detector contract: ``Proposal`` (what a detector suggests), ``Detector`` (who suggests it).

Detectors follow scikit-learn's estimator habits: parameters are keyword arguments stored
untouched in ``__init__`` (so ``get_params`` can read them back and the Detectors page can show
them), anything learned from a snapshot ends in ``_``, and one small method, ``detect``, makes them
interchangeable. They are pure: DataFrames in, proposals out, no I/O.

Each detector declares what it reads (``reads``: per table, the columns it needs and those it
uses only when present). A snapshot that lacks a needed table or column (contract version 2:
absent is not empty) gets the detector skipped with a reason instead of findings made up from
data the source could not carry; rows whose own source lacked a needed column (merged from a
part without it) are left out of what the detector sees (``known_rows``).
"""

from __future__ import annotations

import functools
import inspect
import math
import operator
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from numbers import Integral
from typing import Any, ClassVar

import narwhals as nw
import numpy as np
import pandas as pd

from models.detectors.constraints import Constraint, Interval, check_parameters
from models.detectors.frames import not_carried
from models.snapshot import NOT_CARRIED, Snapshot
from models.taxonomy import CATEGORIES

SEVERITIES = ("low", "medium", "high", "critical")

# Evidence is shown to a reviewer and stored with the finding: keep it small.
DEFAULT_MAX_EVIDENCE_ROWS = 10


class MissingTableError(LookupError):
    """A detector was asked to run on a snapshot that lacks a table or column it needs."""


@dataclass(frozen=True)
class Columns:
    """The columns a detector reads from one table: ``needed`` ones it cannot work without, and
    ``optional`` ones it reads when the table carries them and does without otherwise."""

    needed: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        """Needed then optional columns."""
        return self.needed + self.optional


def columns(*needed: str, optional: Sequence[str] = ()) -> Columns:
    """``Columns`` written the short way: ``columns("a", "b", optional=["c"])``."""
    return Columns(tuple(needed), tuple(c for c in optional if c not in needed))


def merge_reads(*parts: Mapping[str, Columns]) -> dict[str, Columns]:
    """One ``reads`` declaration from several (a detector's own and its helpers'): a column any
    part needs is needed, one only some parts use when present stays optional."""
    out: dict[str, Columns] = {}
    for part in parts:
        for table, cols in part.items():
            have = out.get(table, Columns())
            needed = tuple(dict.fromkeys(have.needed + cols.needed))
            optional = dict.fromkeys(have.optional + cols.optional)
            out[table] = Columns(needed, tuple(c for c in optional if c not in needed))
    return out


def carried_columns(snapshot: Snapshot) -> dict[str, frozenset[str]]:
    """Table -> the columns the snapshot carries (a column the source could not know is absent
    from its table's frame; an absent table is absent from the mapping)."""
    names = [*snapshot.tables, *(t for t in snapshot.lazy if t not in snapshot.tables)]
    return {name: snapshot.columns_of(name) for name in names}


@dataclass(frozen=True)
class Proposal:
    """One suspected gap about one entity, as a detector proposes it to the review queue."""

    category: str
    entity_key: str
    title: str
    score: float
    severity: str
    evidence: dict[str, Any] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)
    explanation: str = ""
    detector: str = ""
    detector_version: str = ""

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")
        if not (0.0 <= self.score <= 1.0) or math.isnan(self.score):
            raise ValueError(f"score must lie in [0, 1], not {self.score!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (the fields as they are)."""
        return asdict(self)


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars, timestamps, NaN/NaT and containers turned into JSON types."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (pd.Timedelta, timedelta)):
        return None if pd.isna(value) else value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Series)):
        return [json_safe(v) for v in value]
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def records(frame: pd.DataFrame, limit: int = DEFAULT_MAX_EVIDENCE_ROWS) -> list[dict[str, Any]]:
    """At most ``limit`` rows of ``frame`` as JSON-safe dicts (evidence a reviewer can read)."""
    head = frame.head(limit)
    return [json_safe(row) for row in head.to_dict("records")]


def clip01(values: Any) -> Any:
    """Clip to [0, 1] (arrays or scalars), NaN → 0."""
    arr = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    out = np.clip(arr, 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


def saturating(x: Any, scale: float) -> Any:
    """1 - exp(-x/scale): 0 at 0, ~0.63 at ``scale``, towards 1; turns 'how much' into 0-1."""
    arr = np.maximum(np.asarray(x, dtype=float), 0.0)
    out = 1.0 - np.exp(-arr / max(scale, 1e-9))
    return float(out) if out.ndim == 0 else out


def severity_from_bins(values: Any, bins: Sequence[float]) -> np.ndarray:
    """Severities for numbers: below bins[0] low, bins[1] medium, bins[2] high, else critical."""
    idx = np.searchsorted(
        np.asarray(bins, dtype=float), np.asarray(values, dtype=float), side="right"
    )
    return np.asarray(SEVERITIES, dtype=object)[np.clip(idx, 0, 3)]


class Detector(ABC):
    """Base of all detectors. Subclasses declare the class attributes and implement ``_detect``.

    Parameters come from ``models/detectors/thresholds.toml`` (a section per detector ``name``);
    each subclass lists them as keyword arguments of its ``__init__`` with the documented defaults,
    and says in ``parameter_constraints`` what each may be (``models.detectors.constraints``).
    """

    name: ClassVar[str]
    version: ClassVar[str]
    categories: ClassVar[tuple[str, ...]]
    requires: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]] = ()
    # Table (each of ``requires`` and ``optional``) -> the columns read from it. A needed column
    # missing from a table the snapshot carries skips the detector, as a missing table does.
    reads: ClassVar[Mapping[str, Columns]] = {}
    # "table" or "table.column" (optional ones) -> what goes unchecked without it, in words, for
    # the coverage table: "automatic enrolments that never took effect".
    unchecked_without: ClassVar[Mapping[str, str]] = {}
    kind: ClassVar[str] = "rule"  # "rule" (heuristic) or "model" (learned anomaly score)
    # Every __init__ parameter -> the shapes its value may take (any one of them will do).
    # Subclasses extend this: {**Detector.parameter_constraints, "min_sent": [...]}.
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "max_evidence_rows": [Interval(Integral, 1, None)],
    }

    max_evidence_rows: int

    @classmethod
    def param_names(cls) -> list[str]:
        """The names of the keyword parameters of ``__init__`` (scikit-learn's convention)."""
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        """The defaults written in ``__init__``'s signature."""
        sig = inspect.signature(cls.__init__)
        return {
            name: sig.parameters[name].default
            for name in cls.param_names()
            if sig.parameters[name].default is not inspect.Parameter.empty
        }

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        """Refuse (``InvalidParameterError``) an unknown parameter or a value its constraints do
        not allow, naming the detector, the parameter, the value and what is allowed."""
        check_parameters(cls.name, params, cls.parameter_constraints, cls.param_names())

    def validate_params(self) -> None:
        """Check the parameters this detector holds (scikit-learn's ``_validate_params``)."""
        self.check_params(self.get_params())

    def get_params(self) -> dict[str, Any]:
        """The parameters this detector was built with, as stored."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> Detector:
        """Change parameters in place (unknown names are an error); returns ``self``."""
        valid = set(self.param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{self.name}: unknown parameter {key!r}; valid: {sorted(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def missing_tables(self, snapshot: Snapshot) -> list[str]:
        """Required tables the snapshot lacks (non-empty means the detector must be skipped)."""
        return [t for t in self.requires if not snapshot.has(t)]

    @classmethod
    def lacking(cls, carried: Mapping[str, Set[str]]) -> list[str]:
        """What the detector needs and ``carried`` (table -> its columns) lacks: ``"table"`` for
        a required table, ``"table.column"`` for a needed column of a table that is there."""
        out = [t for t in cls.requires if t not in carried]
        for table, cols in cls.reads.items():
            if table in carried:
                out.extend(f"{table}.{c}" for c in cols.needed if c not in carried[table])
        return out

    @classmethod
    def partly_lacking(cls, carried: Mapping[str, Set[str]]) -> list[str]:
        """The optional tables and columns named in ``unchecked_without`` that ``carried``
        lacks: the detector runs, but checks less."""
        out = []
        for item in cls.unchecked_without:
            table, _, column = item.partition(".")
            if table not in carried or (column and column not in carried[table]):
                out.append(item)
        return out

    def skip_reason(self, snapshot: Snapshot) -> str | None:
        """Why this detector cannot run on ``snapshot``, or None if it can."""
        return describe_lack(self.lacking(carried_columns(snapshot)))

    def detect(self, snapshot: Snapshot) -> list[Proposal]:
        """Proposals for ``snapshot``; ``MissingTableError`` if a needed table or column is
        absent."""
        reason = self.skip_reason(snapshot)
        if reason is not None:
            raise MissingTableError(f"{self.name}: {reason}")
        proposals = list(self._detect(known_rows(snapshot, self.reads)))
        for p in proposals:
            # A detector that emits a category it did not declare is a bug, not a finding.
            if p.category not in self.categories:
                raise AssertionError(f"{self.name} emitted undeclared category {p.category}")
        return proposals

    @abstractmethod
    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        """The detector's own logic; the snapshot is known to carry the required tables."""

    def _proposal(
        self,
        *,
        category: str,
        entity_key: str,
        title: str,
        score: float,
        severity: str,
        evidence: Mapping[str, Any],
        features: Mapping[str, Any],
        explanation: str,
    ) -> Proposal:
        """A ``Proposal`` stamped with this detector's name and version, made JSON-safe."""
        feats = {str(k): json_safe(v) for k, v in features.items()}
        return Proposal(
            category=category,
            entity_key=entity_key,
            title=title,
            score=round(float(clip01(score)), 4),
            severity=str(severity),
            evidence=json_safe(dict(evidence)),
            features={k: v for k, v in feats.items() if v is not None},
            explanation=explanation,
            detector=self.name,
            detector_version=self.version,
        )


def known_rows(snapshot: Snapshot, reads: Mapping[str, Columns]) -> Snapshot:
    """``snapshot`` without the rows whose source did not carry a column ``reads`` needs (a part
    merged with others that carried it, ``Snapshot.unknown``): a detector judges no row on a
    column the row's source could not know, as it judges no table without it."""
    tables = dict(snapshot.tables)
    for table, cols in reads.items():
        frame = tables.get(table)
        if frame is None or NOT_CARRIED not in frame.columns:
            continue
        unknown = np.zeros(len(frame), dtype=bool)
        for column in cols.needed:
            unknown |= snapshot.unknown(table, column).to_numpy(dtype=bool)
        if unknown.any():
            tables[table] = frame[~unknown].reset_index(drop=True)
    lazy = dict(snapshot.lazy)
    for table, cols in reads.items():
        held = lazy.get(table)
        if held is None or NOT_CARRIED not in held.collect_schema().names() or not cols.needed:
            continue
        lacks = functools.reduce(operator.or_, [not_carried(c) for c in cols.needed])
        # Asked of the engine first: a snapshot with nothing unknown stays the same object, so
        # the passes cached on it are shared by every detector.
        if int(held.filter(lacks).select(nw.len()).collect().item()):
            lazy[table] = held.filter(~lacks)
    if all(tables[t] is snapshot.tables[t] for t in tables) and all(
        lazy[t] is snapshot.lazy[t] for t in lazy
    ):
        return snapshot
    return replace(snapshot, tables=tables, lazy=lazy)


def describe_lack(lacking: Sequence[str]) -> str | None:
    """A skip reason for ``Detector.lacking``'s list: "needs table sync_runs, absent", "needs
    column courses.owner_user_id, absent"; None when nothing is lacking."""
    tables = [x for x in lacking if "." not in x]
    cols = [x for x in lacking if "." in x]
    parts = [
        f"{word}{'s' if len(items) > 1 else ''} {', '.join(items)}"
        for word, items in (("table", tables), ("column", cols))
        if items
    ]
    return f"needs {' and '.join(parts)}, absent" if parts else None


def proposals_frame(proposals: Sequence[Proposal]) -> pd.DataFrame:
    """Proposals as a DataFrame (one row each), handy for ranking, tests and benchmarks."""
    cols = [
        "category",
        "entity_key",
        "title",
        "score",
        "severity",
        "detector",
        "detector_version",
        "explanation",
    ]
    if not proposals:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame([{c: getattr(p, c) for c in cols} for p in proposals])
