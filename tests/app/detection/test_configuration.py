"""Saving a detector configuration: a bad threshold is refused at once and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from app.core.errors import UserError
from app.core.records import DetectorConfig
from app.detection.configuration import (
    changed_parameters,
    configure_detector,
    detector_settings,
    enabled_detectors,
    parameter_fields,
)
from review_queue.permissions import SYSTEM
from tests.helpers.queue_fixtures import add_people


def _rows(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(DetectorConfig)).one())


@pytest.mark.parametrize(
    ("name", "params", "says"),
    [
        ("notification_undelivered", {"window_days": -30},
         "notification_undelivered: parameter 'window_days' must be a number > 0; got -30"),
        ("reporting_gap", {"feed_down_share": 1.5},
         "reporting_gap: parameter 'feed_down_share' must be a number between 0 and 1; got 1.5"),
        ("compliance_overdue", {"score_scale_days": "thirty"},
         "compliance_overdue: parameter 'score_scale_days' must be a number > 0; got 'thirty'"),
        ("duplicate_account", {"min_acounts": 3},
         "duplicate_account: unknown parameter 'min_acounts'; valid: ['max_evidence_rows', "
         "'min_accounts']"),
        ("engagement_learner", {"method": "kmeans"},
         "engagement_learner: parameter 'method' must be one of 'isolation_forest', "
         "'local_outlier_factor'; got 'kmeans'"),
    ],
)  # fmt: skip
def test_a_bad_threshold_is_refused_naming_it_and_nothing_is_stored(
    db: Engine, name: str, params: dict[str, Any], says: str
) -> None:
    with Session(db) as s:
        ada = add_people(s)["ada"]
        before = _rows(s)
        with pytest.raises(UserError) as caught:
            configure_detector(session=s, actor=ada, name=name, params=params, note="typo")
        assert str(caught.value) == says
        s.commit()
    with Session(db) as s:
        assert _rows(s) == before
        setting = next(d for d in detector_settings(session=s) if d.name == name)
        assert setting.config_version == 0
        assert all(setting.params.get(k) != v for k, v in params.items())


def test_a_bad_value_after_good_ones_leaves_the_configuration_in_force(db: Engine) -> None:
    with Session(db) as s:
        configure_detector(session=s, actor=SYSTEM, name="sync_failure",
                           params={"overdue_factor": 3.0}, note="quieter")  # fmt: skip
        s.commit()
        with pytest.raises(UserError, match=r"'overdue_factor' must be a number >= 1; got 0\.5$"):
            configure_detector(session=s, actor=SYSTEM, name="sync_failure",
                               params={"overdue_factor": 0.5})  # fmt: skip
        s.commit()
    with Session(db) as s:
        assert _rows(s) == 1
        setting = next(d for d in detector_settings(session=s) if d.name == "sync_failure")
        assert setting.config_version == 1 and setting.params["overdue_factor"] == 3.0


def test_a_good_change_is_stored_and_used_by_the_next_run(db: Engine) -> None:
    with Session(db) as s:
        ada = add_people(s)["ada"]
        config = configure_detector(
            session=s, actor=ada, name="compliance_overdue",
            params={"severity_days": [3, 14, 60], "score_scale_days": 20}, note="stricter",
        )  # fmt: skip
        s.commit()
        assert config.version == 1
    with Session(db) as s:
        assert _rows(s) == 1
        settings = detector_settings(session=s)
        setting = next(d for d in settings if d.name == "compliance_overdue")
        assert setting.params["severity_days"] == [3, 14, 60]
        assert setting.params["score_scale_days"] == 20 and setting.changed_by == "ada"
        built = next(d for d in enabled_detectors(settings) if d.name == "compliance_overdue")
        assert built.get_params()["severity_days"] == [3, 14, 60]
        built.validate_params()


def test_a_detector_stored_with_a_bad_value_before_the_check_can_still_be_switched_off(
    db: Engine,
) -> None:
    """Configurations saved before values were checked may hold a bad one; turning such a
    detector off must work, while any change of its values is still checked."""
    with Session(db) as s:
        s.add(DetectorConfig(detector="sync_failure", version=1, enabled=True,
                             params={"overdue_factor": -1.0}, created_by="old"))  # fmt: skip
        s.commit()
        off = configure_detector(session=s, actor=SYSTEM, name="sync_failure", enabled=False)
        assert off.version == 2 and off.enabled is False
        with pytest.raises(UserError, match="overdue_factor"):
            configure_detector(session=s, actor=SYSTEM, name="sync_failure",
                               params={"min_runs_for_interval": 3})  # fmt: skip
        s.commit()


def _setting(session: Session, name: str) -> Any:
    return next(s for s in detector_settings(session=session) if s.name == name)


def test_each_parameter_gets_a_typed_field_from_its_constraints(db: Engine) -> None:
    with Session(db) as s:
        overdue = {f.name: f for f in parameter_fields(_setting(s, "compliance_overdue"))}
        learner = {f.name: f for f in parameter_fields(_setting(s, "engagement_learner"))}
    assert overdue["score_scale_days"].kind == "number"
    assert overdue["max_evidence_rows"].kind == "integer"
    assert overdue["max_evidence_rows"].low == 1
    assert overdue["derive_due_from_due_days"].kind == "boolean"
    # A list is typed as text, written as a person writes it, and said in words.
    assert overdue["severity_days"].kind == "text"
    assert overdue["severity_days"].value == "7.0, 30.0, 90.0"
    assert "a list of 3 numbers >= 0" in overdue["severity_days"].allowed
    assert learner["method"].kind == "choice"
    assert learner["method"].options == ("isolation_forest", "local_outlier_factor")
    assert (learner["contamination"].low, learner["contamination"].high) == (0, 1)


def test_the_fields_read_back_only_what_changed_and_are_judged_when_saved(db: Engine) -> None:
    with Session(db) as s:
        setting = _setting(s, "compliance_overdue")
        unchanged = {f.name: f.value for f in parameter_fields(setting)}
        assert changed_parameters(setting, unchanged) == {}
        typed = {**unchanged, "max_evidence_rows": 7.0, "severity_days": "5, 20, 60"}
        changed = changed_parameters(setting, typed)
        assert changed == {"max_evidence_rows": 7, "severity_days": [5, 20, 60]}
        assert isinstance(changed["max_evidence_rows"], int)
        config = configure_detector(session=s, actor=SYSTEM, name=setting.name, params=changed)
        assert config.params["severity_days"] == [5, 20, 60]
        descending = changed_parameters(setting, {"severity_days": "60, 20, 5"})
        with pytest.raises(UserError, match="each no smaller than the one before"):
            configure_detector(session=s, actor=SYSTEM, name=setting.name, params=descending)
        with pytest.raises(UserError, match="no parameter 'nope'"):
            changed_parameters(setting, {"nope": 1})
        sources = _setting(s, "enrollment_failed")
        assert changed_parameters(sources, {"automated_sources": "rule, 2024"}) == {
            "automated_sources": ["rule", "2024"]
        }
