"""Trend metrics on hand-built histories whose answers are known, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from review_queue.permissions import Actor
from review_queue.tables import Role
from review_queue.trends.backlog import compliance_exposure, open_backlog
from review_queue.trends.cycle_times import cycle_times
from review_queue.trends.filters import TrendFilters, trend_filter_options
from review_queue.trends.flow import gap_flow
from review_queue.trends.locations import gap_locations
from review_queue.trends.precision import detector_precision
from review_queue.trends.report import trend_report
from tests.helpers.trends_history import (
    KnownHistory,
    add_event,
    add_finding,
    build_known_history,
    utc,
)

MANAGER = Actor(id=None, name="maria", role=Role.manager)
ADMIN = Actor(id=None, name="ada", role=Role.admin)
INSTRUCTOR = Actor(id=None, name="ivan", role=Role.instructor)
W44, W45, W46, W47 = "2026-W44", "2026-W45", "2026-W46", "2026-W47"


@pytest.fixture
def history(session: Session) -> KnownHistory:
    return build_known_history(session)


def _filters(h: KnownHistory, **kw: object) -> TrendFilters:
    return TrendFilters(h.start, h.end, **kw)  # type: ignore[arg-type]


def _flow_counts(frame: pd.DataFrame, measure: str) -> dict[str, int]:
    part = frame[frame["measure"] == measure]
    return part.groupby("week_label")["count"].sum().to_dict()


def test_gaps_opened_and_decided_per_week_by_category(session: Session, history: KnownHistory):
    metric = gap_flow(session=session, actor=MANAGER, filters=_filters(history))
    frame = metric.frame
    # Every week appears, the empty W47 included, for every measure.
    assert sorted(set(frame["week_label"])) == [W44, W45, W46, W47]
    assert _flow_counts(frame, "opened") == {W44: 2, W45: 2, W46: 1, W47: 0}
    # F5's confirm was undone in the same week: it counts only as a dismissal.
    assert _flow_counts(frame, "confirmed") == {W44: 1, W45: 0, W46: 1, W47: 0}
    assert _flow_counts(frame, "dismissed") == {W44: 1, W45: 1, W46: 0, W47: 0}
    assert _flow_counts(frame, "resolved") == {W44: 0, W45: 1, W46: 0, W47: 0}
    by_cat = frame[frame["count"] > 0].groupby(["week_label", "measure", "category"])["count"]
    assert by_cat.sum().to_dict() == {
        (W44, "confirmed", "enrollment_missing"): 1,
        (W44, "dismissed", "enrollment_missing"): 1,
        (W44, "opened", "enrollment_missing"): 2,
        (W45, "dismissed", "compliance_overdue"): 1,
        (W45, "opened", "compliance_overdue"): 1,
        (W45, "opened", "sync_failure"): 1,
        (W45, "resolved", "enrollment_missing"): 1,
        (W46, "confirmed", "compliance_overdue"): 1,
        (W46, "opened", "compliance_overdue"): 1,
    }
    assert metric.takeaway == (
        "2 gaps confirmed in the range, 5 opened, 2 dismissed, 1 resolved; "
        "confirmations held at 1, the last 2 weeks against the 2 before."
    )


def test_a_week_with_one_decision(session: Session, history: KnownHistory) -> None:
    one_week = TrendFilters(date(2026, 11, 9), date(2026, 11, 15))
    flow = gap_flow(session=session, actor=MANAGER, filters=one_week)
    assert _flow_counts(flow.frame, "confirmed") == {W46: 1}
    assert flow.takeaway == ("1 gap confirmed in the range, 1 opened, 0 dismissed, 0 resolved.")
    precision = detector_precision(session=session, actor=MANAGER, filters=one_week)
    overall = precision.frame[precision.frame["detector"] == "all detectors"]
    assert overall[["confirmed", "dismissed", "decided"]].to_dict("records") == [
        {"confirmed": 1, "dismissed": 0, "decided": 1}
    ]
    assert overall["precision"].tolist() == [1.0]
    assert precision.takeaway.startswith("Detectors were right 100% of the time (1 confirmed")
    cycle = cycle_times(session=session, actor=MANAGER, filters=one_week).frame
    triage = cycle[cycle["measure"] == "time to triage"].iloc[0]
    assert (triage["findings"], triage["median_hours"], triage["p90_hours"]) == (1, 504.0, 504.0)


def test_category_filter_narrows_every_count(session: Session, history: KnownHistory) -> None:
    filters = _filters(history, categories=("enrollment_missing",))
    flow = gap_flow(session=session, actor=MANAGER, filters=filters).frame
    assert set(flow["category"]) == {"enrollment_missing"}
    assert _flow_counts(flow, "opened") == {W44: 2, W45: 0, W46: 0, W47: 0}
    compliance = compliance_exposure(session=session, actor=MANAGER, filters=filters)
    assert compliance.frame["open"].tolist() == [0, 0, 0, 0]
    assert compliance.takeaway == "Compliance exposure is left out by the category filter."
    backlog = open_backlog(session=session, actor=MANAGER, filters=filters)
    # F1 stays open (confirmed) until resolved in W45; F2 reopened in W47.
    assert backlog.extras["weekly"]["open"].tolist() == [1, 0, 0, 1]


def test_department_filter_uses_evidence_then_features(session: Session, history: KnownHistory):
    hr = _filters(history, departments=("HR",))
    flow = gap_flow(session=session, actor=MANAGER, filters=hr).frame
    # F5 (evidence) in W45, F6 (features only) in W46.
    assert _flow_counts(flow, "opened") == {W44: 0, W45: 1, W46: 1, W47: 0}
    weekly = open_backlog(session=session, actor=MANAGER, filters=hr).extras["weekly"]
    assert weekly["open"].tolist() == [1, 1, 2, 2]
    unknown = _filters(history, departments=("no department",))
    unknown_flow = gap_flow(session=session, actor=MANAGER, filters=unknown).frame
    assert _flow_counts(unknown_flow, "opened") == {W44: 0, W45: 1, W46: 0, W47: 0}
    options = trend_filter_options(session=session, actor=MANAGER)
    assert options.departments == ["HR", "Sales", "no department"]
    assert options.categories == ["enrollment_missing", "sync_failure", "compliance_overdue"]


def test_open_backlog_ages_and_share_older_than_the_sla(session: Session, history: KnownHistory):
    metric = open_backlog(session=session, actor=MANAGER, filters=_filters(history), sla_days=14)
    bands = dict(zip(metric.frame["age_band"], metric.frame["open"], strict=True))
    # At the end of 22 Nov: F6 is 12 days old, F4 20.7, F2 26.5 (reopened), F3 33.6.
    assert bands == {
        "under 7 days": 0, "7 to 14 days": 1, "14 to 30 days": 2,
        "30 to 60 days": 1, "60 to 90 days": 0, "90 days or more": 0,
    }  # fmt: skip
    assert int(metric.frame["older_than_sla"].sum()) == 3
    assert metric.extras["weekly"]["open"].tolist() == [2, 2, 3, 4]
    assert metric.takeaway == (
        "4 gaps open on 22 Nov 2026; 75% are older than the 14-day SLA (oldest 33 days). "
        "Backlog rose 100% (2 → 4)."
    )
    strict = open_backlog(session=session, actor=MANAGER, filters=_filters(history), sla_days=30)
    assert int(strict.frame["older_than_sla"].sum()) == 1


def test_backlog_of_a_past_range_uses_statuses_as_they_were(
    session: Session, history: KnownHistory
):
    # On 9 Nov F2 was still dismissed (reopened only on 17 Nov): open were F3 and F4.
    past = TrendFilters(history.start, date(2026, 11, 8))
    metric = open_backlog(session=session, actor=MANAGER, filters=past)
    assert int(metric.frame["open"].sum()) == 2
    assert metric.extras["weekly"]["open"].tolist() == [2, 2]
    # Asked "now" (as_of inside the range), today's statuses count: F2 is open again.
    now = open_backlog(
        session=session, actor=MANAGER, filters=_filters(history), as_of=utc(2026, 11, 20)
    )
    assert int(now.frame["open"].sum()) == 4


def test_time_to_triage_and_resolve_median_and_p90(session: Session, history: KnownHistory):
    metric = cycle_times(session=session, actor=MANAGER, filters=_filters(history))
    frame = metric.frame.set_index(["measure", "week_label"])
    triage = frame.loc["time to triage"]
    assert triage["findings"].tolist() == [2, 1, 1, 0]
    # W44: 24 h and 6 h → median 15 h, p90 6 + 0.9 * 18 = 22.2 h (linear interpolation).
    assert triage.loc[W44, "median_hours"] == pytest.approx(15.0)
    assert triage.loc[W44, "p90_hours"] == pytest.approx(22.2)
    assert triage.loc[W45, "median_hours"] == pytest.approx(48.0)
    assert math.isnan(triage.loc[W47, "median_hours"])
    resolve = frame.loc["time to resolve"]
    assert resolve["findings"].tolist() == [0, 1, 0, 0]
    assert resolve.loc[W45, "median_hours"] == pytest.approx(192.0)
    assert metric.takeaway.startswith(
        "Median time to triage 21.0 days (p90 21.0 days) in the week of 09 Nov, against 0.6 days"
    )
    # From 6 Nov, F5's dismissal is in range but its first triage (the undone confirm of
    # 5 Nov) is not: nothing was first triaged in 6-8 Nov.
    late = cycle_times(
        session=session, actor=MANAGER, filters=TrendFilters(date(2026, 11, 6), date(2026, 11, 8))
    ).frame
    assert late.groupby("measure")["findings"].sum().to_dict() == {
        "time to resolve": 0,
        "time to triage": 0,
    }


def test_detector_precision_per_week_with_promotions(session: Session, history: KnownHistory):
    metric = detector_precision(session=session, actor=MANAGER, filters=_filters(history))
    overall = metric.frame[metric.frame["detector"] == "all detectors"]
    assert overall["decided"].tolist() == [2, 1, 1, 0]
    assert overall["precision"].tolist()[:3] == [0.5, 0.0, 1.0]
    assert math.isnan(overall["precision"].tolist()[3])
    per = metric.frame[metric.frame["week_label"] == W44].set_index("detector")
    assert per.loc["enrolment_rule", "decided"] == 2
    promotions = metric.extras["promotions"]
    assert promotions[["kind", "version"]].to_dict("records") == [
        {"kind": "triage", "version": "v2"}
    ]
    assert str(promotions["promoted_at"].iloc[0]) == "2026-11-04 15:00:00"
    assert metric.takeaway == (
        "Detectors were right 50% of the time (2 confirmed of 4 decided); "
        "100% in the week of 09 Nov; 1 model promotion marked."
    )


def test_where_gaps_are_by_department_course_and_per_learner(session: Session, history):
    metric = gap_locations(
        session=session, actor=MANAGER, filters=_filters(history),
        learners={"Sales": 500, "HR": 200},
    )  # fmt: skip
    rows = metric.frame.set_index("department")
    assert list(rows.index) == ["Sales", "HR", "no department"]
    assert rows.loc["Sales", ["found", "confirmed", "open"]].tolist() == [2, 1, 1]
    assert rows.loc["HR", ["found", "confirmed", "open"]].tolist() == [2, 0, 1]
    assert rows.loc["Sales", "confirmed_per_1000"] == pytest.approx(2.0)
    assert math.isnan(rows.loc["no department", "confirmed_per_1000"])
    courses = metric.extras["courses"]
    assert courses.to_dict("records") == [
        {"course": "C1", "title": "", "found": 1, "confirmed": 1, "open": 0},
        {"course": "C2", "title": "", "found": 1, "confirmed": 0, "open": 1},
    ]
    total = gap_locations(
        session=session, actor=MANAGER, filters=_filters(history), learners=250,
        course_titles={"C1": "Code of Conduct"},
    )  # fmt: skip
    assert total.extras["courses"]["title"].tolist() == ["Code of Conduct", ""]
    assert total.takeaway == (
        "Of the 1 gap first seen in the range and confirmed, Sales has the most (1); "
        "course Code of Conduct (C1) leads with 1; 4.0 confirmed gaps per 1,000 learners."
    )


def test_courses_are_capped_at_fifteen_most_confirmed(session: Session) -> None:
    for n in range(20):
        add_finding(
            session, category="feedback_delayed", entity_key=f"course=C{n:02d}",
            first_seen_at=utc(2026, 11, 2, 9), status="confirmed" if n >= 10 else "new",
        )  # fmt: skip
    session.commit()
    filters = TrendFilters(date(2026, 11, 2), date(2026, 11, 8))
    courses = gap_locations(session=session, actor=MANAGER, filters=filters).extras["courses"]
    assert len(courses) == 15
    assert courses["course"].tolist()[:10] == [f"C{n:02d}" for n in range(10, 20)]
    assert courses["confirmed"].tolist() == [1] * 10 + [0] * 5


def test_stored_department_and_course_come_before_the_json_and_the_key(session: Session):
    add_finding(
        session, category="learner_report", entity_key="user=U7", first_seen_at=utc(2026, 11, 3),
        department="Old name", stored_department="Operations", stored_course="C42",
    )  # fmt: skip
    session.commit()
    filters = TrendFilters(date(2026, 11, 2), date(2026, 11, 8))
    where = gap_locations(session=session, actor=MANAGER, filters=filters)
    assert where.frame["department"].tolist() == ["Operations"]
    assert where.extras["courses"]["course"].tolist() == ["C42"]
    only_ops = TrendFilters(date(2026, 11, 2), date(2026, 11, 8), departments=("Operations",))
    assert _flow_counts(
        gap_flow(session=session, actor=MANAGER, filters=only_ops).frame, "opened"
    ) == {"2026-W45": 1}


def test_compliance_exposure_per_week(session: Session, history: KnownHistory) -> None:
    metric = compliance_exposure(session=session, actor=MANAGER, filters=_filters(history))
    assert metric.frame["open"].tolist() == [1, 1, 2, 2]
    assert metric.takeaway == (
        "2 overdue mandatory enrolments open at the end of the period; "
        "rose 100% (1 → 2) over 4 weeks."
    )


def test_time_zone_moves_events_across_days_weeks_and_dst(session: Session) -> None:
    """Berlin left summer time on 25 Oct 2026 at 01:00 UTC (+2 h before, +1 h after)."""
    g1 = add_finding(
        session, category="sync_failure", entity_key="integration=a;date=2026-10-25",
        first_seen_at=utc(2026, 10, 25, 22, 30),  # Berlin: Sun 25 Oct 23:30 (W43)
    )  # fmt: skip
    add_finding(
        session, category="sync_failure", entity_key="integration=b;date=2026-10-18",
        first_seen_at=utc(2026, 10, 18, 22, 30),  # Berlin: Mon 19 Oct 00:30 (W43)
    )  # fmt: skip
    add_finding(
        session, category="sync_failure", entity_key="integration=c;date=2026-11-01",
        first_seen_at=utc(2026, 11, 1, 23, 30),  # Berlin: Mon 2 Nov 00:30, after the range
    )  # fmt: skip
    add_event(session, g1, utc(2026, 10, 25, 23, 10), "new", "confirmed")  # Berlin: Mon 26 Oct
    session.commit()
    berlin = TrendFilters(date(2026, 10, 19), date(2026, 11, 1), tz="Europe/Berlin")
    frame = gap_flow(session=session, actor=MANAGER, filters=berlin).frame
    assert _flow_counts(frame, "opened") == {"2026-W43": 2, "2026-W44": 0}
    assert _flow_counts(frame, "confirmed") == {"2026-W43": 0, "2026-W44": 1}
    in_utc = TrendFilters(date(2026, 10, 19), date(2026, 11, 1), tz="UTC")
    frame = gap_flow(session=session, actor=MANAGER, filters=in_utc).frame
    assert _flow_counts(frame, "opened") == {"2026-W43": 1, "2026-W44": 1}
    assert _flow_counts(frame, "confirmed") == {"2026-W43": 1, "2026-W44": 0}
    # 40 minutes from first seen to the decision, whatever the zone.
    cycle = cycle_times(session=session, actor=MANAGER, filters=berlin).frame
    triage = cycle[(cycle["measure"] == "time to triage") & (cycle["findings"] > 0)]
    assert triage["week_label"].tolist() == ["2026-W44"]
    assert triage["median_hours"].tolist() == [pytest.approx(40 / 60)]


def test_empty_queue_gives_zero_weeks_and_plain_takeaways(session: Session) -> None:
    filters = TrendFilters(date(2026, 11, 2), date(2026, 11, 15))
    report = trend_report(session=session, actor=ADMIN, filters=filters, learners=100)
    takeaways = {m.key: m.takeaway for m in report.metrics}
    assert takeaways == {
        "flow": "No gaps were opened or decided between 02 Nov and 15 Nov 2026.",
        "backlog": "No gaps were open on 15 Nov 2026.",
        "cycle": "No finding was triaged or resolved in this period.",
        "precision": "No confirm or dismiss decisions in this period, so no precision to show.",
        "where": "No gaps were first seen in this period.",
        "compliance": "No overdue mandatory enrolments were open in this period.",
    }
    assert report.metric("compliance").frame["open"].tolist() == [0, 0]
    assert report.metric("backlog").extras["weekly"]["open"].tolist() == [0, 0]
    assert report.metric("cycle").frame["findings"].tolist() == [0, 0, 0, 0]


def test_only_managers_and_admins_see_trends(session: Session) -> None:
    filters = TrendFilters(date(2026, 11, 2), date(2026, 11, 8))
    with pytest.raises(PermissionError, match="needs the admin or manager role"):
        trend_report(session=session, actor=INSTRUCTOR, filters=filters)
    with pytest.raises(PermissionError, match="sign in"):
        gap_flow(session=session, actor=None, filters=filters)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": date(2026, 11, 9), "end": date(2026, 11, 1)}, "ends .* before it starts"),
        ({"tz": "Mars/Olympus"}, "unknown reporting time zone 'Mars/Olympus'"),
        ({"categories": ("enrolment_typo",)}, "unknown gap categories: enrolment_typo"),
    ],
)
def test_bad_filters_are_refused_by_name(kwargs: dict, message: str) -> None:
    values = {"start": date(2026, 11, 1), "end": date(2026, 11, 8), **kwargs}
    with pytest.raises(ValueError, match=message):
        TrendFilters(**values)


def test_last_weeks_covers_whole_iso_weeks_up_to_today() -> None:
    filters = TrendFilters.last_weeks(12, today=date(2026, 11, 28))
    assert filters.start == date(2026, 9, 7) and filters.end == date(2026, 11, 28)
    assert len(filters.weeks()) == 12


def test_the_data_version_moves_with_every_decision_and_promotion(session: Session) -> None:
    from review_queue.decisions import decide
    from review_queue.tables import ModelVersion
    from review_queue.trends.filters import trends_data_version
    from tests.helpers.queue_fixtures import add_finding, add_people

    people = add_people(session)
    finding = add_finding(session, 1)
    before = trends_data_version(session=session)
    assert trends_data_version(session=session) == before
    decide(session=session, actor=people["ada"], finding_id=finding.id or 0, action="confirm")
    session.commit()
    decided = trends_data_version(session=session)
    assert decided[0] != before[0]
    session.add(
        ModelVersion(kind="priority", version="1", status="promoted", promoted_at=utc(2026, 11, 1))
    )
    session.commit()
    promoted = trends_data_version(session=session)
    assert promoted[0] == decided[0] and promoted[1] != decided[1]


def test_the_page_report_is_cached_until_the_data_changes(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Trends page computes a report once per change of the data; the role check still runs
    on every call, a warm cache or not."""
    from app.web import cached, units
    from review_queue.decisions import decide
    from tests.helpers.queue_fixtures import add_finding, add_people

    monkeypatch.setattr(units, "engine", lambda: db)  # the page's engine is this test's database
    with Session(db) as s:
        people = add_people(s)
        finding_id = add_finding(s, 1).id or 0
    filters = TrendFilters.last_weeks(2)
    first = cached.trend_report_for(people["max"], filters, sla_days=14, learners=None)
    again = cached.trend_report_for(people["ada"], filters, sla_days=14, learners=None)
    assert again.generated_at == first.generated_at  # served from the cache
    with pytest.raises(PermissionError, match="needs the admin or manager role"):
        cached.trend_report_for(people["ivy"], filters, sla_days=14, learners=None)
    with Session(db) as s:
        decide(session=s, actor=people["ada"], finding_id=finding_id, action="confirm")
        s.commit()
    fresh = cached.trend_report_for(people["max"], filters, sla_days=14, learners=None)
    assert fresh.generated_at > first.generated_at
    flow = fresh.metric("flow").frame
    assert flow.loc[flow["measure"] == "confirmed", "count"].sum() == 1
