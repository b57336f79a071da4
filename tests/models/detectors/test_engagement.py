"""Engagement anomaly models: course-weeks and learners, ranked by IsolationForest or LOF."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from models.detectors.engagement import CourseWeekEngagementDetector, LearnerEngagementDetector
from models.snapshot import Snapshot
from tests.helpers.detector_snapshots import course, snap, typed, user

AS_OF = "2026-11-30T00:00:00Z"  # a Monday: the weeks before it are whole


def _activity(*, anomaly: str | None, seed: int = 0) -> pd.DataFrame:
    """12 courses, 8 weeks, 15 learners each of ordinary activity, plus an optional oddity.

    ``anomaly="course_week"``: course C3's learners keep failing a broken quiz in week 2026-W46.
    ``anomaly="learner"``: learner U5-7 in C5 fails assessments over and over.
    """
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-10-05", tz="UTC")  # Monday of 2026-W41
    rows = []
    for c in range(12):
        for u in range(15):
            n = rng.poisson(40)
            offsets = rng.uniform(0, 56, n)
            verbs = rng.choice(
                ["viewed", "launched", "progressed", "completed", "failed"],
                n,
                p=[0.5, 0.3, 0.15, 0.03, 0.02],
            )
            for k in range(n):
                rows.append((f"U{c}-{u}", f"C{c}", verbs[k], start + pd.Timedelta(days=offsets[k])))
    if anomaly == "course_week":
        w46 = pd.Timestamp("2026-11-09", tz="UTC")
        for u in range(15):
            for k in range(12):
                rows.append((f"U3-{u}", "C3", "failed", w46 + pd.Timedelta(hours=5 * k + u)))
    if anomaly == "learner":
        for k in range(150):
            rows.append(("U5-7", "C5", "failed", start + pd.Timedelta(hours=3 * k)))
    frame = pd.DataFrame(rows, columns=["user_id", "course_id", "verb", "timestamp"])
    frame.insert(0, "event_id", [f"A{i}" for i in range(len(frame))])
    return frame


@functools.cache
def _typed_activity(anomaly: str | None) -> pd.DataFrame:
    return typed("activity", _activity(anomaly=anomaly).to_dict("records"))


def _snap(anomaly: str | None) -> Snapshot:
    """A fresh snapshot (tables copied: a test may edit them) over the cached activity."""
    act = _typed_activity(anomaly).copy()
    s = snap(
        AS_OF,
        lms_users=[user(u) for u in act["user_id"].unique()],
        courses=[course(f"C{c}") for c in range(12)],
    )
    s.tables["activity"] = act
    return s


def test_course_week_anomaly_ranks_the_injected_week_first() -> None:
    det = CourseWeekEngagementDetector()
    found = det.detect(_snap("course_week"))
    assert found[0].entity_key == "course=C3;week=2026-W46"
    top = found[0]
    assert top.category == "engagement_anomaly"
    assert "failure share" in top.explanation
    assert top.features["failure_share"] > 0.2
    # The fitted forest and its input stay available for leaf-level reweighting later.
    leaves = det.leaf_indices()
    assert leaves.shape == (len(det.items_), det.n_estimators)


def test_course_week_anomaly_without_injection_is_not_proposed() -> None:
    plain = CourseWeekEngagementDetector().detect(_snap(None))
    odd = CourseWeekEngagementDetector().detect(_snap("course_week"))
    assert "course=C3;week=2026-W46" not in {p.entity_key for p in plain}
    assert odd[0].score > max((p.score for p in plain), default=0.0)


def test_launch_failures_are_left_to_access_failure() -> None:
    # The same burst as launch failures is an access problem, not an engagement anomaly.
    s = _snap("course_week")
    act = s.tables["activity"]
    w46 = (
        act["course_id"].eq("C3")
        & act["verb"].eq("failed")
        & (act["timestamp"] >= pd.Timestamp("2026-11-09", tz="UTC"))
        & (act["timestamp"] < pd.Timestamp("2026-11-16", tz="UTC"))
    )
    act.loc[w46, "verb"] = "launch_failed"
    found = CourseWeekEngagementDetector().detect(s)
    assert "course=C3;week=2026-W46" not in {p.entity_key for p in found[:1]}


def test_course_week_is_deterministic_and_lof_is_selectable() -> None:
    s = _snap("course_week")
    a = CourseWeekEngagementDetector(random_state=7).detect(s)
    b = CourseWeekEngagementDetector(random_state=7).detect(s)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
    lof = CourseWeekEngagementDetector(method="local_outlier_factor").detect(s)
    assert lof[0].entity_key == "course=C3;week=2026-W46"
    with pytest.raises(ValueError, match="method"):
        CourseWeekEngagementDetector(method="svm").detect(s)


def test_course_week_skips_the_week_cut_by_as_of() -> None:
    s = _snap("course_week")
    s.as_of = pd.Timestamp("2026-11-12T00:00:00Z").to_pydatetime()  # a Thursday in W46
    det = CourseWeekEngagementDetector()
    det.detect(s)
    weeks = set(det.items_["monday"])
    w46 = (pd.Timestamp("2026-11-09") - pd.Timestamp("1970-01-01")).days
    assert w46 not in weeks and w46 - 7 in weeks


def test_learner_anomaly_ranks_the_injected_learner_first() -> None:
    det = LearnerEngagementDetector()
    found = det.detect(_snap("learner"))
    assert found[0].entity_key == "user=U5-7;course=C5"
    assert found[0].features["failure_share"] > 0.5
    plain = LearnerEngagementDetector().detect(_snap(None))
    assert "user=U5-7;course=C5" not in {p.entity_key for p in plain}


def test_models_propose_nothing_on_too_little_data() -> None:
    s = snap(
        AS_OF,
        courses=[course("C1")],
        activity=[
            {
                "event_id": "A1",
                "user_id": "U1",
                "course_id": "C1",
                "verb": "viewed",
                "timestamp": "2026-11-02T00:00:00Z",
            }
        ],
    )
    assert CourseWeekEngagementDetector().detect(s) == []
    assert LearnerEngagementDetector().detect(s) == []


# ------------------------------------------------------------------ learners: cohort, words, chart


def _learner_snap(
    extra: list[tuple[str, str, str, pd.Timestamp]], drop_course: str = ""
) -> Snapshot:
    """The plain fixture plus ``extra`` events; ``drop_course`` keeps only 8 of its learners."""
    base = _activity(anomaly=None)
    more = pd.DataFrame(extra, columns=["user_id", "course_id", "verb", "timestamp"])
    more.insert(0, "event_id", [f"X{i}" for i in range(len(more))])
    frame = pd.concat([base, more], ignore_index=True)
    if drop_course:
        keep = [f"U{drop_course[1:]}-{u}" for u in range(8)]
        frame = frame[(frame["course_id"] != drop_course) | frame["user_id"].isin(keep)]
    s = snap(
        AS_OF,
        lms_users=[user(u) for u in frame["user_id"].unique()],
        courses=[course(f"C{c}") for c in range(12)],
    )
    s.tables["activity"] = typed("activity", frame.to_dict("records"))
    return s


_START = pd.Timestamp("2026-10-05", tz="UTC")


def _failing(uid: str, cid: str) -> list[tuple[str, str, str, pd.Timestamp]]:
    """60 failed assessments spread over the eight weeks: a learner stuck, not gone."""
    return [(uid, cid, "failed", _START + pd.Timedelta(hours=22 * k)) for k in range(60)]


def test_learner_finding_says_which_measure_fired_and_carries_its_weekly_series() -> None:
    from app.web.presenters import series_chart

    found = LearnerEngagementDetector().detect(_learner_snap(_failing("U2-4", "C2")))
    top = found[0]
    assert top.entity_key == "user=U2-4;course=C2"
    assert "u2-4@example.org (user U2-4) stands out among the 15 learners of Course C2" in top.title
    assert "of their events are failed assessments" in top.title
    assert "Compared with the other 14 learners of the course" in top.explanation
    series = top.evidence["series"]
    assert set(series[0]) == {"week", "failure_share", "course_typical"}
    assert len(series) == 8
    assert all(row["failure_share"] > row["course_typical"] + 0.3 for row in series)
    assert series_chart(top.evidence, top.entity_key) is not None


def test_a_heavy_user_is_unusual_to_the_forest_but_never_proposed_for_it() -> None:
    # 400 extra views on every day of the period: the busiest learner by far, failing nothing.
    heavy = [("U4-3", "C4", "viewed", _START + pd.Timedelta(hours=3 * k)) for k in range(400)]
    det = LearnerEngagementDetector()
    found = det.detect(_learner_snap(heavy))
    items = det.items_
    i = int(np.flatnonzero((items["user_id"] == "U4-3") & (items["course_id"] == "C4"))[0])
    assert det.score_z_[i] == det.score_z_.max()  # the forest isolates heavy use first
    assert "user=U4-3;course=C4" not in {p.entity_key for p in found}


def test_a_course_below_the_minimum_cohort_is_not_scored() -> None:
    # The same failing learner in a course of only 8 learners: no peer group to judge by.
    det = LearnerEngagementDetector()
    found = det.detect(_learner_snap(_failing("U2-4", "C2"), drop_course="C2"))
    assert "C2" not in set(det.items_["course_id"].astype(str))
    assert "user=U2-4;course=C2" not in {p.entity_key for p in found}
    # With the minimum lowered to 8 the course is judged and the learner found.
    det = LearnerEngagementDetector(min_course_learners=8)
    found = det.detect(_learner_snap(_failing("U2-4", "C2"), drop_course="C2"))
    assert found[0].entity_key == "user=U2-4;course=C2"
