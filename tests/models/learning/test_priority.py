"""Priority learning, the promotion gate's figures, exploration, and the rule ledger (pure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.learning.ledger import exception_suggestions, rule_ledger, threshold_suggestions
from models.learning.priority import (
    NotEnoughDecisions,
    PriorityModel,
    explore_queue,
    history_features,
    judge,
    precision_at_k,
    time_split,
)
from models.taxonomy import base_priorities


def decided_findings(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Findings whose confirmation depends on a feature the detector score does not see:
    reviewers confirm ``late_share`` above 0.5, whatever the score says."""
    rng = np.random.default_rng(seed)
    late = rng.uniform(0, 1, n)
    score = rng.uniform(0.3, 1.0, n)
    confirmed = (late > 0.5) ^ (rng.uniform(0, 1, n) < 0.05)
    start = pd.Timestamp("2026-09-01", tz="UTC")
    return pd.DataFrame(
        {
            "finding_id": np.arange(n),
            "category": rng.choice(["overdue_assignment", "engagement_anomaly"], n),
            "detector": rng.choice(["overdue", "engagement_course_week"], n),
            "entity_key": [f"course:C{i % 40}" for i in range(n)],
            "score": score,
            "severity": rng.choice(["low", "medium", "high"], n),
            "features": [{"late_share": float(v), "noise": float(rng.normal())} for v in late],
            "decided_at": start + pd.to_timedelta(np.arange(n) * 3, unit="h"),
            "confirmed": confirmed,
        }
    )


def test_learned_priority_beats_the_detector_score_on_later_decisions() -> None:
    frame = decided_findings()
    train, held = time_split(frame, 0.25)
    assert train["decided_at"].max() <= held["decided_at"].min()
    model = PriorityModel().fit(train)
    learned = model.priority(held, at=held["decided_at"])
    base = base_priorities(held["score"].to_numpy(), held["severity"])
    y = held["confirmed"].to_numpy()
    assert precision_at_k(y, learned, 50) > precision_at_k(y, base, 50) + 0.2
    gate = judge(y, learned, base, k=50)
    assert gate.promote and gate.holdout_size == len(held)


def test_gate_refuses_a_worse_ranking() -> None:
    y = np.array([True] * 10 + [False] * 10)
    good = np.linspace(1, 0, 20)
    worse = good[::-1]
    assert not judge(y, worse, good, k=10).promote
    assert judge(y, good, worse, k=10).promote


def test_too_few_decisions_are_refused_with_a_reason() -> None:
    frame = decided_findings(20)
    frame["confirmed"] = True
    with pytest.raises(NotEnoughDecisions, match="2 confirmed and 2 dismissed"):
        PriorityModel().fit(frame)


def test_history_counts_only_earlier_decisions() -> None:
    t = pd.Timestamp("2026-10-01", tz="UTC")
    decided = pd.DataFrame(
        {
            "entity_key": ["course:A", "course:A", "course:B"],
            "category": ["x", "x", "x"],
            "decided_at": [t, t + pd.Timedelta(days=2), t],
            "confirmed": [True, False, False],
        }
    )
    rows = pd.DataFrame({"entity_key": ["course:A"], "category": ["x"]})
    hist = history_features(rows, decided, pd.Series([t + pd.Timedelta(days=1)]))
    assert hist.iloc[0].to_dict() == {
        "entity_confirmed_before": 1.0,
        "entity_dismissed_before": 0.0,
        "category_confirmed_before": 1.0,
        "category_dismissed_before": 1.0,
    }


def test_exploration_gives_the_share_to_the_least_certain() -> None:
    rng = np.random.default_rng(1)
    priority = rng.uniform(0, 1, 200)
    p = rng.uniform(0, 1, 200)
    p[np.argsort(-priority)[:50]] = 0.95  # the habitual top is confident
    new, marked = explore_queue(priority, p, top_n=50, share=0.1)
    top = np.argsort(-new, kind="stable")[:50]
    assert marked.sum() == 5 and marked[top].sum() == 5
    rest = np.argsort(-priority, kind="stable")[45:]
    expected = rest[np.argsort(np.abs(p[rest] - 0.5), kind="stable")[:5]]
    assert set(np.flatnonzero(marked)) == set(expected)
    assert sorted(new) == sorted(priority)
    unchanged, none = explore_queue(priority, p, top_n=50, share=0.0)
    assert np.array_equal(unchanged, priority) and not none.any()


def _ledger_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    now = pd.Timestamp("2026-11-28", tz="UTC")
    findings: list[dict[str, object]] = []
    decisions: list[tuple[int, str, str | None, pd.Timestamp]] = []
    for i in range(30):
        # The rule's false positives are the small gaps (days_overdue < 3).
        days = 1.0 + (i % 2) if i < 12 else 5.0 + i
        findings.append(
            {"finding_id": i, "detector": "overdue", "features": {"days_overdue": days}}
        )
        if i < 12:
            decisions.append((i, "dismiss", "false_positive_rule", now - pd.Timedelta(days=3)))
        elif i < 26:
            decisions.append((i, "confirm", None, now - pd.Timedelta(days=40)))
    findings.append({"finding_id": 99, "detector": "quiet", "features": {}})
    frame = pd.DataFrame(decisions, columns=["finding_id", "action", "reason", "at"])
    return pd.DataFrame(findings), frame


def test_rule_ledger_counts_precision_and_trend() -> None:
    findings, decisions = _ledger_inputs()
    ledger = rule_ledger(findings, decisions, now=pd.Timestamp("2026-11-28", tz="UTC"))
    row = ledger.set_index("detector").loc["overdue"]
    assert (row["proposals"], row["confirmed"], row["dismissed"]) == (30, 14, 12)
    assert row["dismissed_false_positive_rule"] == 12
    assert row["precision"] == pytest.approx(14 / 26)
    assert row["trend"] == pytest.approx(0.0 - 1.0)
    assert ledger.set_index("detector").loc["quiet", "proposals"] == 1


def test_threshold_suggestion_names_the_cut_and_what_it_removes() -> None:
    findings, decisions = _ledger_inputs()
    [suggestion] = threshold_suggestions(findings, decisions)
    assert (suggestion.feature, suggestion.direction) == ("days_overdue", ">=")
    assert 2.0 < suggestion.threshold < 17.0
    assert suggestion.removes_false_positive == 12 and suggestion.removes_confirmed == 0
    assert "would have removed 12 dismissed" in suggestion.describe()


def test_places_where_dismissals_cluster_are_learned() -> None:
    """Reviewers dismiss everything in one course (context the detector cannot see): the model
    learns the place, while a finding with no place at all is still scored."""
    frame = decided_findings(n=300, seed=3).drop(columns=["features"])
    frame["features"] = [{} for _ in range(len(frame))]
    rng = np.random.default_rng(3)
    frame["course_id"] = rng.choice(["C1", "C2", "C3", "C4"], len(frame))
    frame["department"] = None
    frame["confirmed"] = frame["course_id"] != "C3"
    model = PriorityModel().fit(frame)
    probe = frame.iloc[:4].copy()
    probe["course_id"] = ["C1", "C3", "C9", None]
    p = model.predict_proba(probe)
    assert p[1] < 0.2 < 0.8 < p[0]
    assert np.isfinite(p).all()
    assert PriorityModel().fit(frame.drop(columns=["course_id", "department"])).categorical_


def test_exception_suggestion_where_expected_dismissals_cluster_in_one_place() -> None:
    at = pd.Timestamp("2026-11-20", tz="UTC")
    findings, decisions = [], []
    for i in range(40):
        course = "C7" if i < 12 else f"C{i % 4}"
        dept = "Sales" if i % 2 else "Finance"
        findings.append({"finding_id": i, "detector": "overdue", "features": {},
                         "course_id": course, "department": dept})  # fmt: skip
        expected = course == "C7" and i != 11
        decisions.append({
            "finding_id": i, "action": "dismiss" if expected else "confirm",
            "reason": "expected" if expected else None, "at": at + pd.Timedelta(hours=i),
        })  # fmt: skip
    frame, events = pd.DataFrame(findings), pd.DataFrame(decisions)
    [course] = exception_suggestions(frame, events, max_confirmed_share=0.1)
    assert (course.place, course.value, course.removes_expected) == ("course_id", "C7", 11)
    assert course.removes_confirmed == 1 and course.condition() == {
        "place": "course_id", "op": "!=", "value": "C7",
    }  # fmt: skip
    assert "make course C7 an exception" in course.describe()
    # Departments mix the exception with real gaps: no suggestion for them.
    assert not exception_suggestions(frame, events, max_confirmed_share=0.0)
    # Too few expected dismissals: nothing to suggest.
    assert not exception_suggestions(frame, events, min_expected=12)


def test_a_course_exception_is_preferred_to_its_department_on_a_tie() -> None:
    at = pd.Timestamp("2026-11-20", tz="UTC")
    findings = pd.DataFrame(
        [{"finding_id": i, "detector": "overdue", "features": {}, "course_id": "C7",
          "department": "Sales"} for i in range(6)]
    )  # fmt: skip
    decisions = pd.DataFrame(
        [{"finding_id": i, "action": "dismiss", "reason": "expected",
          "at": at + pd.Timedelta(hours=i)} for i in range(6)]
    )  # fmt: skip
    [only] = exception_suggestions(findings, decisions)
    assert (only.place, only.value) == ("course_id", "C7")


def test_features_that_move_together_give_one_threshold_suggestion_naming_the_others() -> None:
    """A learner model's features rise together: cuts on events, their z-score and active days
    remove the same false positives, so the ledger offers one, and names the twins."""
    now = pd.Timestamp("2026-11-28", tz="UTC")
    findings, decisions = [], []
    for i in range(40):
        noisy = i < 20  # the false positives are the quiet learners
        events = 10.0 + i if noisy else 200.0 + i
        features = {"events": events, "z_events": events / 10, "active_days": events / 4,
                    "failure_share": 0.5 if i % 2 else 0.1}  # fmt: skip
        findings.append({"finding_id": i, "detector": "learner", "features": features})
        action, reason = ("dismiss", "false_positive_rule") if noisy else ("confirm", None)
        decisions.append((i, action, reason, now))
    # A second detector with the same shape keeps its own suggestion.
    for i in range(40, 50):
        findings.append({"finding_id": i, "detector": "course_week", "features": {"events": i}})
        decisions.append((i, "dismiss", "false_positive_rule", now))
    frame = pd.DataFrame(decisions, columns=["finding_id", "action", "reason", "at"])
    out = threshold_suggestions(pd.DataFrame(findings), frame)
    learner = [s for s in out if s.detector == "learner"]
    assert len(learner) == 1
    [one] = learner
    assert one.feature == "active_days" and set(one.same_as) == {"events", "z_events"}
    assert one.removes_false_positive == 20 and one.removes_confirmed == 0
    assert "(the same findings by events, z_events)" in one.describe()
    assert [s.detector for s in out] == ["learner", "course_week"]  # most removed first
