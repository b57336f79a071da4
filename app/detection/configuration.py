"""Detector configuration: versioned switches, parameters and proposal conditions per detector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.errors import UserError
from app.core.records import DetectorConfig
from models.detectors.base import Detector
from models.detectors.constraints import (
    Boolean,
    Constraint,
    Interval,
    InvalidParameterError,
    ListOf,
    Options,
    Text,
    describe,
)
from models.detectors.registry import REGISTRY, build_detectors, load_thresholds
from review_queue.permissions import ADMIN_ONLY, Actor, require_role

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DetectorSetting:
    """A detector's configuration in force: enabled, parameters, and the version that set them."""

    name: str
    version: str
    kind: str
    categories: tuple[str, ...]
    requires: tuple[str, ...]
    enabled: bool
    params: dict[str, Any]
    config_version: int  # 0 = the shipped defaults
    changed_by: str | None
    # Extra conditions a proposal must meet, e.g. applied from a rule-ledger suggestion:
    # [{"feature": "days_overdue", "op": ">=", "value": 3.0},
    #  {"place": "course_id", "op": "!=", "value": "C00012"}]
    require: tuple[dict[str, Any], ...] = ()


REQUIRE_KEY = "_require"
REQUIRE_OPS = (">=", "<=")
PLACE_FIELDS = ("course_id", "department")
NO_PLACE: tuple[Any, Any] = (None, None)


def check_require(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validated proposal conditions, or UserError naming the bad one: a feature bound
    (feature, op in REQUIRE_OPS, number) or a place exception (place in PLACE_FIELDS, op ``!=``,
    the course id or department name)."""
    clean: list[dict[str, Any]] = []
    for rule in rules:
        if "place" in rule:
            place, value = rule.get("place"), rule.get("value")
            if place not in PLACE_FIELDS or rule.get("op") != "!=":
                raise UserError(f"a place exception needs a place in {PLACE_FIELDS} and op '!='")
            if not isinstance(value, str) or not value.strip():
                raise UserError(f"the {place} exception names no {place}")
            clean.append({"place": place, "op": "!=", "value": value.strip()})
            continue
        feature, op, value = rule.get("feature"), rule.get("op"), rule.get("value")
        if not isinstance(feature, str) or not feature or op not in REQUIRE_OPS:
            raise UserError(f"a proposal condition needs a feature and an op in {REQUIRE_OPS}")
        try:
            clean.append({"feature": feature, "op": op, "value": float(value)})  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise UserError(f"condition on {feature}: {value!r} is not a number") from None
    return clean


def describe_condition(rule: dict[str, Any]) -> str:
    """A proposal condition in a few words, for pages and notes."""
    if "place" in rule:
        return f"not in {rule['place'].removesuffix('_id')} {rule['value']}"
    return f"{rule['feature']} {rule['op']} {rule['value']:g}"


def meets(
    features: dict[str, Any], rules: tuple[dict[str, Any], ...], place: tuple[Any, Any] = NO_PLACE
) -> bool:
    """Whether a proposal satisfies every condition: its features (a missing feature fails) and
    its place, ``(course_id, department)`` (a place the proposal does not have never matches)."""
    for rule in rules:
        if "place" in rule:
            got = place[PLACE_FIELDS.index(rule["place"])]
            if got is not None and str(got) == rule["value"]:
                return False
            continue
        got = features.get(rule["feature"])
        if not isinstance(got, (int, float)):
            return False
        if rule["op"] == ">=" and not float(got) >= rule["value"]:
            return False
        if rule["op"] == "<=" and not float(got) <= rule["value"]:
            return False
    return True


def detector_settings(*, session: Session) -> list[DetectorSetting]:
    """Every detector with its configuration in force (newest stored version over the defaults)."""
    shipped = load_thresholds()
    latest = (
        select(col(DetectorConfig.detector), func.max(DetectorConfig.version).label("v"))
        .group_by(col(DetectorConfig.detector))
        .subquery()
    )
    stored = {
        c.detector: c
        for c in session.exec(
            select(DetectorConfig).join(
                latest,
                (col(DetectorConfig.detector) == latest.c.detector)
                & (col(DetectorConfig.version) == latest.c.v),
            )
        )
    }
    out = []
    for name, cls in REGISTRY.items():
        params = {**cls.default_params(), **shipped.get(name, {})}
        config = stored.get(name)
        if config is not None:
            params.update(config.params)
        require = tuple(params.pop(REQUIRE_KEY, []))
        out.append(
            DetectorSetting(
                name=name,
                version=cls.version,
                kind=cls.kind,
                categories=cls.categories,
                requires=cls.requires,
                enabled=config.enabled if config else True,
                params=params,
                config_version=config.version if config else 0,
                changed_by=config.created_by if config else None,
                require=require,
            )
        )
    return out


def configure_detector(
    *,
    session: Session,
    actor: Actor,
    name: str,
    enabled: bool | None = None,
    params: dict[str, Any] | None = None,
    require: list[dict[str, Any]] | None = None,
    note: str = "",
) -> DetectorConfig:
    """Store a new configuration version of a detector (admins only). Parameters are checked
    against the detector's constraints first: an unknown name or a bad value is a UserError
    naming it, and nothing is stored."""
    require_role(actor, ADMIN_ONLY, "configuring detectors")
    if name not in REGISTRY:
        raise UserError(f"no detector named {name!r}; known: {', '.join(sorted(REGISTRY))}")
    current = next(s for s in detector_settings(session=session) if s.name == name)
    new_params = {**current.params, **(params or {})}
    new_params.pop(REQUIRE_KEY, None)
    # Checked before anything is stored: a bad value saved now would fail every later run.
    # A change that sets no parameter (switching a detector off) is never refused, so that a
    # detector whose values were stored before this check existed can still be turned off.
    if params:
        try:
            REGISTRY[name].check_params(new_params)
        except InvalidParameterError as exc:
            raise UserError(str(exc)) from None
    rules = check_require(require) if require is not None else list(current.require)
    if rules:
        new_params[REQUIRE_KEY] = rules
    config = DetectorConfig(
        detector=name,
        version=current.config_version + 1,
        enabled=current.enabled if enabled is None else enabled,
        params=new_params,
        created_by=actor.name,
        note=note[:2000],
    )
    session.add(config)
    session.flush()
    return config


def remove_condition(
    *, session: Session, actor: Actor, name: str, condition: dict[str, Any]
) -> DetectorConfig:
    """Store the detector's next configuration version without one of its proposal conditions
    (admins only): how an exception or a threshold applied from the ledger is taken back."""
    require_role(actor, ADMIN_ONLY, "configuring detectors")
    setting = next((s for s in detector_settings(session=session) if s.name == name), None)
    if setting is None:
        raise UserError(f"no detector named {name!r}")
    if condition not in setting.require:
        raise UserError(f"{name} has no condition '{describe_condition(condition)}'")
    return configure_detector(
        session=session, actor=actor, name=name,
        require=[r for r in setting.require if r != condition],
        note=f"removed the condition '{describe_condition(condition)}'",
    )  # fmt: skip


def enabled_detectors(settings: list[DetectorSetting]) -> list[Detector]:
    """Detectors to run, built with the thresholds in force."""
    on = [s for s in settings if s.enabled]
    return build_detectors({s.name: s.params for s in on}, enabled=[s.name for s in on])


@dataclass(frozen=True)
class ParameterField:
    """How a page asks for one detector parameter: its input kind, bounds and allowed words.

    ``kind`` is "integer" or "number" (a number input within ``low``/``high``), "boolean" (a
    switch), "choice" (one of ``options``) or "text" (lists and mixed shapes, typed as text and
    read back by :func:`read_parameter`); ``allowed`` is what the constraints allow, in words.
    """

    name: str
    kind: str
    value: Any
    allowed: str
    low: float | None = None
    high: float | None = None
    options: tuple[str, ...] = ()


def _field(name: str, value: Any, constraints: list[Constraint]) -> ParameterField:
    allowed = describe(constraints) or "anything"
    only = constraints[0] if len(constraints) == 1 else None
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(only, Interval) and numeric:
        kind = "integer" if only.kind is Integral else "number"
        # A value stored before the checks existed may lie outside the bounds: shown as it is
        # (a number input would refuse to draw it), and refused only when saved.
        if not only.is_satisfied_by(value):
            return ParameterField(name, kind, value, allowed)
        return ParameterField(name, kind, value, allowed, only.left, only.right)
    if isinstance(only, Boolean):
        return ParameterField(name, "boolean", bool(value), allowed)
    if isinstance(only, Options):
        return ParameterField(name, "choice", value, allowed, options=only.allowed)
    shown = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return ParameterField(name, "text", shown, allowed)


def parameter_fields(setting: DetectorSetting) -> list[ParameterField]:
    """One typed field per parameter of a detector, from its parameter constraints, holding the
    value in force: what the Detectors page lays out instead of raw JSON."""
    constraints = REGISTRY[setting.name].parameter_constraints
    return [
        _field(name, value, constraints.get(name, []))
        for name, value in sorted(setting.params.items())
    ]


def _word(text: str) -> Any:
    """A typed word as the number it spells, else the word."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_parameter(setting: DetectorSetting, field: ParameterField, raw: Any) -> Any:
    """The value a field's input stands for: numbers stay numbers (an integer field gives an
    int), text is read as a comma-separated list when the parameter is a list, else as a number
    or a word. The detector's constraints still judge it when it is saved."""
    if field.kind == "integer":
        return int(raw)
    if field.kind == "number":
        return float(raw)
    if field.kind != "text":
        return raw
    constraints = REGISTRY[setting.name].parameter_constraints.get(field.name, [])
    text = str(raw).strip()
    lists = [c for c in constraints if isinstance(c, ListOf)]
    if lists:
        parts = [part.strip() for part in text.strip("[]").split(",") if part.strip()]
        words = isinstance(lists[0].item, Text)  # a list of names keeps "2024" a name
        return parts if words else [_word(part) for part in parts]
    return _word(text)


def changed_parameters(setting: DetectorSetting, raw: dict[str, Any]) -> dict[str, Any]:
    """The parameters a page's fields set to something other than the value in force, read
    (see :func:`read_parameter`); a parameter the page did not send is left as it is."""
    fields = {f.name: f for f in parameter_fields(setting)}
    out: dict[str, Any] = {}
    for name, given in raw.items():
        if name not in fields:
            raise UserError(f"{setting.name} has no parameter {name!r}")
        value = read_parameter(setting, fields[name], given)
        if value != setting.params.get(name):
            out[name] = value
    return out
