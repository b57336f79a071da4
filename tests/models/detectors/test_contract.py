"""The detector contract, the registry and invariants every detector keeps on any snapshot."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.detectors import (
    DETECTOR_CLASSES,
    REGISTRY,
    Proposal,
    build_detectors,
    json_safe,
    load_thresholds,
    parse_thresholds,
    run_detectors,
    skipped_detectors,
)
from models.taxonomy import DETECTED_CATEGORIES, parse_entity_key
from tests.helpers.detector_snapshots import course, enrol, person, snap, user
from tests.models.detectors.test_engagement import _snap as anomaly_snap

# The entity key names each category uses (contracts/gap-taxonomy.md).
KEY_SHAPES = {
    "enrollment_missing": [("person", "course")],
    "enrollment_failed": [("enrollment",)],
    "notification_undelivered": [("user",)],
    "notification_outage": [("channel", "date")],
    "orphan_account": [("user",)],
    "record_mismatch": [("user",)],
    "duplicate_account": [("person",)],
    "sync_failure": [("integration", "date")],
    "progress_inconsistent": [("enrollment",)],
    "feedback_delayed": [("course",)],
    "access_failure": [("course", "date"), ("date",)],
    "compliance_overdue": [("enrollment",)],
    "unowned_course": [("course",)],
    "reporting_gap": [("date",), ("course", "date")],
    "engagement_anomaly": [("course", "week"), ("user", "course")],
}


def check(proposal: Proposal, declared: tuple[str, ...]) -> None:
    assert proposal.category in declared
    assert tuple(parse_entity_key(proposal.entity_key)) in KEY_SHAPES[proposal.category]
    assert 0.0 <= proposal.score <= 1.0
    json.dumps(proposal.to_dict(), allow_nan=False)
    assert proposal.title and proposal.explanation


def test_every_detected_category_has_a_detector_and_names_are_unique() -> None:
    emitted = {c for cls in DETECTOR_CLASSES for c in cls.categories}
    assert emitted == set(DETECTED_CATEGORIES)
    assert len(REGISTRY) == len(DETECTOR_CLASSES)


def test_shipped_thresholds_name_every_detector_and_equal_the_class_defaults() -> None:
    shipped = load_thresholds()
    assert set(shipped) == set(REGISTRY)
    for name, params in shipped.items():
        defaults = REGISTRY[name].default_params()
        assert set(params) == set(defaults), name
        for key, value in params.items():
            expected = defaults[key]
            if isinstance(expected, tuple):
                expected = list(expected)
            assert value == expected, f"{name}.{key}"


def test_thresholds_with_unknown_names_are_refused_with_the_name() -> None:
    with pytest.raises(ValueError, match="unknown detector \\[nope\\]"):
        parse_thresholds("[nope]\nx = 1\n")
    with pytest.raises(ValueError, match="'min_sent_typo'"):
        parse_thresholds("[notification_undelivered]\nmin_sent_typo = 1\n")


def test_build_detectors_applies_thresholds_and_get_params_returns_them_untouched() -> None:
    (det,) = build_detectors(
        {"duplicate_account": {"min_accounts": 3}}, enabled=["duplicate_account"]
    )
    assert det.get_params() == {"min_accounts": 3, "max_evidence_rows": 10}
    with pytest.raises(ValueError, match="unknown detectors"):
        build_detectors({}, enabled=["nope"])


def test_detectors_needing_absent_optional_tables_are_skipped_with_a_reason() -> None:
    s = snap(people=[person("P1")], lms_users=[user("U1", "P1")])
    skipped = skipped_detectors(s, build_detectors())
    assert skipped["sync_failure"] == "needs table sync_runs, absent"
    assert skipped["enrollment_missing"] == "needs table enrollment_rules, absent"
    assert "orphan_account" not in skipped and "compliance_overdue" not in skipped
    run = run_detectors(s)
    assert run.skipped == skipped
    assert set(run.seconds) == set(REGISTRY) - set(skipped)


def test_run_detectors_reports_progress_and_propagates_a_detector_error() -> None:
    s = snap(people=[person("P1")], lms_users=[user("U1", None)])
    seen: list[tuple[str, int, int]] = []
    run = run_detectors(s, on_progress=lambda n, i, t: seen.append((n, i, t)))
    assert [p.entity_key for p in run.proposals] == ["user=U1"]
    assert seen[0][1] == 0 and seen[-1] == ("", len(run.seconds), len(run.seconds))

    class Broken(REGISTRY["orphan_account"]):  # type: ignore[misc,valid-type]
        def _detect(self, snapshot):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_detectors(s, [Broken()])


def test_proposal_refuses_bad_values_and_json_safe_converts_numpy_and_time() -> None:
    with pytest.raises(ValueError, match="category"):
        Proposal("nope", "user=U1", "t", 0.5, "low")
    with pytest.raises(ValueError, match="score"):
        Proposal("orphan_account", "user=U1", "t", 1.5, "low")
    with pytest.raises(ValueError, match="severity"):
        Proposal("orphan_account", "user=U1", "t", 0.5, "urgent")
    import numpy as np

    out = json_safe(
        {
            "a": np.int64(3),
            "b": np.float32(0.5),
            "c": pd.Timestamp("2026-01-01", tz="UTC"),
            "d": pd.NaT,
            "e": float("nan"),
            "f": np.bool_(True),
        }
    )
    assert out == {
        "a": 3,
        "b": 0.5,
        "c": "2026-01-01T00:00:00+00:00",
        "d": None,
        "e": None,
        "f": True,
    }


def test_all_detectors_on_one_anomalous_snapshot_keep_the_invariants() -> None:
    s = anomaly_snap("course_week")
    s.tables.update(
        snap(
            people=[person("P1"), person("P2", employment_status="terminated")],
            lms_users=[user("U1", "P1"), user("U2", "P2"), user("U3", None)],
            courses=[course(f"C{c}") for c in range(12)] + [course("X", is_compliance=True)],
            enrollments=[enrol("E1", "U1", "X", due_at="2026-10-01T00:00:00Z")],
        ).tables
    )
    run = run_detectors(s)
    assert run.proposals
    declared = {cls.name: cls.categories for cls in DETECTOR_CLASSES}
    for p in run.proposals:
        check(p, declared[p.detector])
        assert p.detector_version == REGISTRY[p.detector].version


ids = st.sampled_from(["1", "2", "007", "x"])
maybe_ts = st.one_of(
    st.none(),
    st.datetimes(
        min_value=pd.Timestamp("2026-08-01").to_pydatetime(),
        max_value=pd.Timestamp("2026-12-31").to_pydatetime(),
    ).map(lambda d: d.isoformat() + "+05:30"),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    users=st.lists(
        st.tuples(
            ids, st.one_of(st.none(), ids), st.sampled_from(["active", "suspended", "deleted"])
        ),
        max_size=6,
        unique_by=lambda t: t[0],
    ),
    enrolments=st.lists(
        st.tuples(
            ids,
            ids,
            st.sampled_from(["enrolled", "in_progress", "completed", "withdrawn", "failed"]),
            maybe_ts,
            maybe_ts,
            maybe_ts,
            st.one_of(st.none(), st.floats(0, 100)),
            st.sampled_from(["rule", "manual"]),
        ),
        max_size=8,
    ),
    events=st.lists(
        st.tuples(
            ids,
            st.one_of(st.none(), ids),
            st.sampled_from(
                ["login", "login_failed", "launched", "launch_failed", "progressed", "viewed"]
            ),
            maybe_ts.filter(lambda t: t is not None),
            st.one_of(st.none(), st.floats(0, 100)),
        ),
        max_size=20,
    ),
)
def test_any_messy_snapshot_gives_only_valid_proposals(users, enrolments, events) -> None:  # type: ignore[no-untyped-def]
    s = snap(
        people=[person("1"), person("2", employment_status="terminated")],
        lms_users=[user(u, p, status=st_) for u, p, st_ in users],
        courses=[course(c, is_compliance=c == "1", due_days=10) for c in ("1", "2", "007", "x")],
        enrollments=[
            enrol(
                f"E{i}",
                u,
                c,
                status=stt,
                enrolled_at=ea or "2026-09-01T00:00:00Z",
                due_at=due,
                completed_at=done,
                progress_pct=pp,
                source=src,
            )
            for i, (u, c, stt, ea, due, done, pp, src) in enumerate(enrolments)
        ],
        activity=[
            {
                "event_id": f"A{i}",
                "user_id": u,
                "course_id": c,
                "verb": v,
                "timestamp": t,
                "value": val,
            }
            for i, (u, c, v, t, val) in enumerate(events)
        ],
        enrollment_rules=[{"rule_id": "R1", "course_id": "1", "active": True}],
    )
    run = run_detectors(s)
    declared = {cls.name: cls.categories for cls in DETECTOR_CLASSES}
    for p in run.proposals:
        check(p, declared[p.detector])


def test_cache_is_per_snapshot_and_can_be_forgotten_after_an_edit() -> None:
    from models.detectors.common import forget_snapshot

    s = snap(
        courses=[course("C1")],
        lms_users=[user("U1")],
        enrollments=[
            enrol(
                "E1",
                "U1",
                "C1",
                status="completed",
                progress_pct=100,
                completed_at="2026-10-15T00:00:00Z",
            )
        ],
        activity=[
            {
                "event_id": "A1",
                "user_id": "U9",
                "course_id": "C1",
                "verb": "viewed",
                "timestamp": "2026-10-01T00:00:00Z",
            },
            {
                "event_id": "A2",
                "user_id": "U9",
                "course_id": "C1",
                "verb": "viewed",
                "timestamp": "2026-11-01T00:00:00Z",
            },
        ],
    )
    (det,) = build_detectors(enabled=["progress_inconsistent"])
    assert [p.entity_key for p in det.detect(s)] == ["enrollment=E1"]
    s.tables["activity"].loc[0, "user_id"] = "U1"
    forget_snapshot(s)
    assert det.detect(s) == []
