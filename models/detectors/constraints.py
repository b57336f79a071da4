"""What a detector parameter may be, checked the way scikit-learn's ``_parameter_constraints`` are.

Each detector class maps every ``__init__`` parameter to a list of constraints; a value is allowed
when it satisfies at least one of them::

    parameter_constraints = {
        "window_days": [Interval(Real, 0, None, closed="neither")],   # a number > 0
        "min_sent": [Interval(Integral, 1, None)],                    # an integer >= 1
        "method": [Options("isolation_forest", "local_outlier_factor")],
    }

``Detector.check_params`` refuses a bad value with an ``InvalidParameterError`` that names the
detector, the parameter, the value and what is allowed, so a threshold saved from the Detectors
page is refused at once instead of failing every later run.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from numbers import Integral, Real
from typing import Any, Literal


class InvalidParameterError(ValueError, TypeError):
    """A detector was given a parameter it does not have, or a value its constraints refuse."""


class Constraint(ABC):
    """One shape a parameter value may take."""

    @abstractmethod
    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` has this shape."""

    @abstractmethod
    def describe(self, *, plural: bool = False) -> str:
        """The shape in words ("a number >= 0"; plural: "numbers >= 0")."""


def _shown(bound: float) -> str:
    """A bound as a person writes it: 0, 1, 0.5, 4294967295 (never 4.29497e+09)."""
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


def _number(value: Any) -> bool:
    # A bool is an int to Python, never a threshold to a person.
    return isinstance(value, Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class Interval(Constraint):
    """A finite number (``Real``) or integer (``Integral``) within bounds; ``None`` is unbounded.

    ``closed`` says which bounds are allowed values: "both", "left", "right" or "neither".
    """

    kind: type  # numbers.Integral or numbers.Real
    left: float | None
    right: float | None
    closed: Literal["both", "left", "right", "neither"] = "both"

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is a number of this kind inside the bounds."""
        if not _number(value):
            return False
        number = float(value)
        if not isinstance(value, self.kind) or not math.isfinite(number):
            return False
        closed_left = self.closed in ("both", "left")
        closed_right = self.closed in ("both", "right")
        if self.left is not None and not (
            number >= self.left if closed_left else number > self.left
        ):
            return False
        return self.right is None or (number <= self.right if closed_right else number < self.right)

    def describe(self, *, plural: bool = False) -> str:
        """E.g. "an integer >= 1", "a number > 0", "a number between 0 and 1"."""
        integer = self.kind is Integral
        noun = (
            ("integers" if plural else "an integer")
            if integer
            else ("numbers" if plural else "a number")
        )
        low = ">=" if self.closed in ("both", "left") else ">"
        high = "<=" if self.closed in ("both", "right") else "<"
        if self.right is None:
            return noun if self.left is None else f"{noun} {low} {_shown(self.left)}"
        if self.left is None:
            return f"{noun} {high} {_shown(self.right)}"
        if self.closed == "both":
            return f"{noun} between {_shown(self.left)} and {_shown(self.right)}"
        return f"{noun} {low} {_shown(self.left)} and {high} {_shown(self.right)}"


@dataclass(frozen=True, init=False)
class Options(Constraint):
    """One of a few strings."""

    allowed: tuple[str, ...]

    def __init__(self, *allowed: str) -> None:
        object.__setattr__(self, "allowed", allowed)

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is one of the allowed strings."""
        return isinstance(value, str) and value in self.allowed

    def describe(self, *, plural: bool = False) -> str:
        """E.g. "one of 'isolation_forest', 'local_outlier_factor'"."""
        choices = ", ".join(map(repr, self.allowed))
        if plural:
            return f"strings among {choices}"
        return choices if len(self.allowed) == 1 else f"one of {choices}"


@dataclass(frozen=True)
class Boolean(Constraint):
    """``true`` or ``false``."""

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is a bool."""
        return isinstance(value, bool)

    def describe(self, *, plural: bool = False) -> str:
        """Says "true or false"."""
        return "true or false values" if plural else "true or false"


@dataclass(frozen=True)
class Text(Constraint):
    """Any string."""

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is a string."""
        return isinstance(value, str)

    def describe(self, *, plural: bool = False) -> str:
        """Says "a string"."""
        return "strings" if plural else "a string"


@dataclass(frozen=True)
class ListOf(Constraint):
    """A list (or tuple) whose items all satisfy ``item``; optionally of a fixed ``length`` and
    in ``ascending`` order (each item no smaller than the one before, as bins must be)."""

    item: Constraint
    length: int | None = None
    ascending: bool = False

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is such a list."""
        if not isinstance(value, (list, tuple)):
            return False
        if self.length is not None and len(value) != self.length:
            return False
        if not all(self.item.is_satisfied_by(v) for v in value):
            return False
        return not self.ascending or all(a <= b for a, b in pairwise(value))

    def describe(self, *, plural: bool = False) -> str:
        """E.g. "a list of 3 numbers >= 0, each no smaller than the one before"."""
        count = f"{self.length} " if self.length is not None else ""
        out = f"a list of {count}{self.item.describe(plural=True)}"
        if self.ascending:
            out += ", each no smaller than the one before"
        return out


def describe(constraints: list[Constraint]) -> str:
    """What any of ``constraints`` allows, in words."""
    return " or ".join(c.describe() for c in constraints)


def check_parameters(
    detector: str,
    params: Mapping[str, Any],
    constraints: Mapping[str, list[Constraint]],
    names: list[str],
) -> None:
    """Refuse (``InvalidParameterError``) a name not in ``names`` or a value no constraint of its
    parameter allows; the message names the detector, the parameter, the value, what is allowed.
    (A parameter without constraints would take anything: the detector tests refuse that.)"""
    for key, value in params.items():
        if key not in names:
            raise InvalidParameterError(
                f"{detector}: unknown parameter {key!r}; valid: {sorted(names)}"
            )
        allowed = constraints.get(key, [])
        if allowed and not any(c.is_satisfied_by(value) for c in allowed):
            raise InvalidParameterError(
                f"{detector}: parameter {key!r} must be {describe(allowed)}; got {value!r}"
            )
