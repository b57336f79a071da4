"""Parameter constraints: every detector declares them, the shipped thresholds meet them, and a
bad value is refused with a message naming the detector, the parameter, the value and the rule."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import pytest

from models.detectors import REGISTRY, InvalidParameterError, load_thresholds, parse_thresholds
from models.detectors.constraints import Boolean, Interval, ListOf, Options, Text


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_init_parameter_has_a_constraint_and_no_constraint_is_stray(name: str) -> None:
    cls = REGISTRY[name]
    params = set(cls.param_names())
    constrained = set(cls.parameter_constraints)
    assert params - constrained == set(), f"{name}: parameters without a constraint"
    assert constrained - params == set(), f"{name}: constraints of no parameter"
    assert all(cls.parameter_constraints[p] for p in params), f"{name}: an empty constraint list"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_class_defaults_and_shipped_thresholds_meet_the_constraints(name: str) -> None:
    cls = REGISTRY[name]
    cls.check_params(cls.default_params())
    shipped = load_thresholds()[name]
    cls.check_params(shipped)
    cls(**shipped).validate_params()


def _wrong_type(value: Any) -> Any:
    """A value of another type than ``value``: what a slip in the JSON editor produces."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return "ten"
    if isinstance(value, str):
        return 5
    return "a, b"


@pytest.mark.parametrize(
    ("name", "param"),
    [(n, p) for n in sorted(REGISTRY) for p in REGISTRY[n].param_names()],
)
def test_every_parameter_refuses_a_value_of_the_wrong_type(name: str, param: str) -> None:
    cls = REGISTRY[name]
    bad = _wrong_type(cls.default_params()[param])
    with pytest.raises(InvalidParameterError) as caught:
        cls.check_params({param: bad})
    message = str(caught.value)
    assert message.startswith(f"{name}: parameter {param!r} must be ")
    assert message.endswith(f"; got {bad!r}")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "notification_undelivered",
            {"window_days": -3},
            "notification_undelivered: parameter 'window_days' must be a number > 0; got -3",
        ),
        (
            "reporting_gap",
            {"expected_share": 1.5},
            "reporting_gap: parameter 'expected_share' must be a number between 0 and 1; got 1.5",
        ),
        (
            "duplicate_account",
            {"min_accounts": 2.0},
            "duplicate_account: parameter 'min_accounts' must be an integer >= 2; got 2.0",
        ),
        (
            "orphan_account",
            {"max_evidence_rows": 0},
            "orphan_account: parameter 'max_evidence_rows' must be an integer >= 1; got 0",
        ),
        (
            "engagement_learner",
            {"method": "k_means"},
            "engagement_learner: parameter 'method' must be one of 'isolation_forest', "
            "'local_outlier_factor'; got 'k_means'",
        ),
        (
            "engagement_course_week",
            {"max_samples": "all"},
            "engagement_course_week: parameter 'max_samples' must be an integer >= 1 or a number "
            "> 0 and <= 1 or 'auto'; got 'all'",
        ),
        (
            "compliance_overdue",
            {"severity_days": [30, 7, 90]},
            "compliance_overdue: parameter 'severity_days' must be a list of 3 numbers >= 0, each "
            "no smaller than the one before; got [30, 7, 90]",
        ),
        (
            "sync_failure",
            {"overdue_factor": float("nan")},
            "sync_failure: parameter 'overdue_factor' must be a number >= 1; got nan",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_detector_parameter_value_and_rule(
    name: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        REGISTRY[name].check_params(params)
    assert str(caught.value) == message


def test_an_unknown_parameter_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        REGISTRY["duplicate_account"].check_params({"min_acounts": 3})
    assert str(caught.value) == (
        "duplicate_account: unknown parameter 'min_acounts'; "
        "valid: ['max_evidence_rows', 'min_accounts']"
    )


def test_validate_params_checks_what_a_detector_holds() -> None:
    det = REGISTRY["notification_outage"]()
    det.validate_params()
    det.set_params(min_share_excess=-0.1)
    with pytest.raises(InvalidParameterError, match="'min_share_excess' must be a number between"):
        det.validate_params()


def test_a_thresholds_file_with_a_bad_value_is_refused_with_its_origin() -> None:
    with pytest.raises(ValueError) as caught:
        parse_thresholds("[feedback_delayed]\ndefault_sla_days = 0\n", origin="mine.toml")
    assert str(caught.value) == (
        "mine.toml: feedback_delayed: parameter 'default_sla_days' must be a number > 0; got 0"
    )


def test_interval_bounds_kinds_and_non_numbers() -> None:
    share = Interval(Real, 0, 1)
    assert share.is_satisfied_by(0) and share.is_satisfied_by(1) and share.is_satisfied_by(0.5)
    assert not share.is_satisfied_by(1.01) and not share.is_satisfied_by(-0.01)
    for odd in (True, "0.5", None, float("inf"), float("nan"), [0.5]):
        assert not share.is_satisfied_by(odd), odd
    positive = Interval(Real, 0, None, closed="neither")
    assert not positive.is_satisfied_by(0) and positive.is_satisfied_by(1e-6)
    assert not positive.is_satisfied_by(float("inf"))
    count = Interval(Integral, 1, None)
    assert count.is_satisfied_by(1) and count.is_satisfied_by(10**6)
    assert not count.is_satisfied_by(0) and not count.is_satisfied_by(3.0)
    assert not count.is_satisfied_by(True)
    half_open = Interval(Real, 0, 1, closed="right")
    assert not half_open.is_satisfied_by(0) and half_open.is_satisfied_by(1)
    assert Interval(Real, None, None).is_satisfied_by(-7.5)
    assert [c.describe() for c in (share, positive, count, half_open)] == [
        "a number between 0 and 1",
        "a number > 0",
        "an integer >= 1",
        "a number > 0 and <= 1",
    ]
    assert Interval(Integral, 0, 2**32 - 1).describe() == "an integer between 0 and 4294967295"
    assert Interval(Real, None, 0.5, closed="neither").describe() == "a number < 0.5"


def test_options_booleans_text_and_lists() -> None:
    method = Options("a", "b")
    assert method.is_satisfied_by("a") and not method.is_satisfied_by("c")
    assert not method.is_satisfied_by(1)
    assert Boolean().is_satisfied_by(False) and not Boolean().is_satisfied_by(0)
    assert not Boolean().is_satisfied_by("true")
    sources = ListOf(Text())
    assert sources.is_satisfied_by(["rule"]) and sources.is_satisfied_by(())
    assert not sources.is_satisfied_by("rule") and not sources.is_satisfied_by(["rule", 3])
    bins = ListOf(Interval(Real, 0, None), length=3, ascending=True)
    assert bins.is_satisfied_by((7.0, 30.0, 90.0)) and bins.is_satisfied_by([7, 7, 90])
    assert not bins.is_satisfied_by([7, 30]) and not bins.is_satisfied_by([-1, 30, 90])
    assert not bins.is_satisfied_by([90, 30, 7])
    assert ListOf(Options("x", "y")).describe() == "a list of strings among 'x', 'y'"
