"""The demo organisation's ground truth: every category injected, exactly what the reference rules
find, and the anomalies standing out from a background that looks like nothing."""

from __future__ import annotations

import pytest

from app.demo.organisation import generate_demo_org
from models.taxonomy import DETECTED_CATEGORIES, parse_entity_key
from tests.app.demo.reference_rules import (
    DAY,
    HEURISTIC_RULES,
    Snap,
    daily_counts,
    rule_feedback_delayed,
    rule_reporting_gap,
)


@pytest.fixture(scope="module", params=[2, 3, 4])
def small_org(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Snap:
    folder = tmp_path_factory.mktemp(f"demo-small-{request.param}")
    generate_demo_org(folder, seed=request.param, people=400, days=49)
    return Snap(folder)


def test_every_category_injected_10_to_40_times(default_org: Snap) -> None:
    for category in DETECTED_CATEGORIES:
        if category == "learner_report":
            continue
        keys = default_org.truth.get(category, set())
        assert 10 <= len(keys) <= 40, (category, len(keys))
        for key in keys:
            parse_entity_key(key)  # well-formed, names in the contract's order
    assert "learner_report" not in default_org.truth


@pytest.mark.parametrize("category", sorted(HEURISTIC_RULES))
def test_ground_truth_is_what_the_reference_rule_finds(small_org: Snap, category: str) -> None:
    found = HEURISTIC_RULES[category](small_org)
    truth = small_org.truth.get(category, set())
    assert truth, category
    assert found == truth, (category, sorted(found - truth)[:5], sorted(truth - found)[:5])


def test_reference_rules_at_default_size(default_org: Snap) -> None:
    for category, rule in HEURISTIC_RULES.items():
        assert rule(default_org) == default_org.truth[category], category
    # Either reading of "the last 30 days" of grading gives the same courses.
    assert (
        rule_feedback_delayed(default_org, by="graded_at") == default_org.truth["feedback_delayed"]
    )


def test_reporting_gaps_are_the_only_silent_days(default_org: Snap) -> None:
    assert rule_reporting_gap(default_org) == default_org.truth["reporting_gap"]
    # Quiet weekends and holidays stay well above a missing day.
    counts = daily_counts(default_org)
    gaps = set()
    for key in default_org.truth["reporting_gap"]:
        parts = parse_entity_key(key)
        gaps.add((parts.get("course", ""), parts["date"]))
    weekday = counts.columns.day_of_week
    for stream, row in counts.iterrows():
        usual = row.groupby(weekday).median().reindex(weekday).to_numpy()
        for day, n, u in zip(counts.columns, row.to_numpy(), usual, strict=True):
            if (stream, day.date().isoformat()) not in gaps:
                assert n >= 0.12 * u, (stream, day, n, u)


def test_outages_and_access_failures_stand_out(default_org: Snap) -> None:
    n = default_org["notifications"]
    n = n[n["sent_at"] < default_org.as_of - DAY]
    failed = n["delivered_at"].isna() | (n["bounced"] == "true")
    share = failed.groupby([n["channel"], n["sent_at"].dt.date.astype(str)]).mean()
    injected = {
        tuple(k.replace("channel=", "").replace("date=", "").split(";"))
        for k in default_org.truth["notification_outage"]
    }
    for (channel, day), value in share.items():
        if (channel, day) in injected:
            assert value > 0.75, (channel, day)
        else:
            assert value < 0.25, (channel, day, value)

    act = default_org["activity"]
    act = act.assign(day=act["timestamp"].dt.date.astype(str), course=act["course_id"].fillna(""))
    truth = default_org.truth["access_failure"]
    for verb, ok in (("launch_failed", "launched"), ("login_failed", "login")):
        sub = act[act["verb"].isin([verb, ok])]
        g = (
            sub.assign(fail=sub["verb"] == verb)
            .groupby(["course", "day"])["fail"]
            .agg(fails="sum", total="size")
        )
        for (course, day), row in g.iterrows():
            key = f"course={course};date={day}" if course else f"date={day}"
            if key in truth:
                assert row["fails"] >= 20 and row["fails"] / row["total"] > 0.6, key
            else:
                share = row["fails"] / row["total"]
                assert row["fails"] < 10 or share < 0.1, (key, row.to_dict())


def test_engagement_anomalies_are_far_from_peers(default_org: Snap) -> None:
    act = default_org["activity"]
    act = act[act["course_id"].notna()]
    keys = default_org.truth["engagement_anomaly"]
    per_user = act.groupby(["course_id", "user_id"]).size()
    for key in keys:
        parts = parse_entity_key(key)
        if "user" in parts:
            peers = per_user.loc[parts["course"]]
            own = peers[parts["user"]]
            peers = peers.drop(parts["user"])
            assert own >= 2 * peers.quantile(0.99) and own >= 5 * peers.median(), key
        else:
            c = act[act["course_id"] == parts["course"]]
            week = c["timestamp"].dt.strftime("%G-W%V")
            per_learner = c.groupby(week).size() / c.groupby(week)["user_id"].nunique()
            others = per_learner.drop(parts["week"])
            assert per_learner[parts["week"]] >= 2.5 * others.median(), key
