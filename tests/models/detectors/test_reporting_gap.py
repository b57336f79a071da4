"""reporting_gap on literal tables: a hole with the usual level on both sides (contract version 2),
not a term's end or start, not a small cohort's quiet day, and a site-wide silence counted once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from models.detectors.base import Proposal
from models.detectors.reporting import ReportingGapDetector
from models.snapshot import Snapshot
from tests.helpers.detector_snapshots import DAYS, course, snap, user


def views(
    cid: str | None,
    learners: int,
    *,
    per_day: int = 30,
    skip: Iterable[str] = (),
    until: str | None = None,
    since: str | None = None,
    tag: str = "",
) -> list[dict[str, Any]]:
    """``per_day`` events a day (every day of ``DAYS``) spread over ``learners`` learners of
    ``cid`` (None: site-level logins), except on the dates in ``skip`` and outside since/until."""
    rows = []
    skipped = set(skip)
    for d in DAYS:
        date = str(d.date())
        if date in skipped or (until and date > until) or (since and date < since):
            continue
        for i in range(per_day):
            rows.append(
                {
                    "event_id": f"{cid or 'site'}{tag}-{date}-{i}",
                    "user_id": f"U{i % learners}",
                    "course_id": cid,
                    "verb": "login" if cid is None else "viewed",
                    "timestamp": d + pd.Timedelta(hours=8, minutes=i),
                }
            )
    return rows


def org(activity: list[dict[str, Any]], courses: list[dict[str, Any]] | None = None) -> Snapshot:
    """A snapshot of 40 learners, courses C1-C4 (or ``courses``) and ``activity``."""
    return snap(
        lms_users=[user(f"U{i}") for i in range(40)],
        courses=courses or [course(f"C{i}") for i in range(1, 5)],
        activity=activity,
    )


def found(s: Snapshot) -> dict[str, Proposal]:
    return {p.entity_key: p for p in ReportingGapDetector().detect(s)}


def busy_site(**kw: Any) -> list[dict[str, Any]]:
    """Site logins and four busy courses (25 learners each), every day of ``DAYS``."""
    rows = views(None, 30, **kw)
    for c in ("C1", "C2", "C3", "C4"):
        rows += views(c, 25, **kw)
    return rows


def test_a_day_with_the_usual_level_on_both_sides_is_a_gap() -> None:
    rows = busy_site() + views("C5", 25, skip=["2026-11-11"])
    gaps = found(org(rows, [course(f"C{i}") for i in range(1, 6)]))
    assert set(gaps) == {"course=C5;date=2026-11-11"}
    gap = gaps["course=C5;date=2026-11-11"]
    assert "Course C5 (C5)" in gap.title  # the course's name beside its id
    assert gap.features["active_learners_before"] == 25
    assert gap.features["reported_share_before"] == 1.0
    assert gap.features["days_until_back"] == 1
    assert next(r["date"] for r in gap.evidence["daily_series"]) == "2026-11-04"


def test_a_run_of_silent_days_is_one_finding_keyed_on_its_first_day() -> None:
    rows = busy_site() + views("C5", 25, skip=["2026-11-11", "2026-11-12", "2026-11-13"])
    gaps = found(org(rows, [course(f"C{i}") for i in range(1, 6)]))
    assert set(gaps) == {"course=C5;date=2026-11-11"}
    gap = gaps["course=C5;date=2026-11-11"]
    assert gap.features["gap_days"] == 3
    assert "from 2026-11-11 to 2026-11-13 (3 days)" in gap.title


def test_the_end_of_a_term_is_not_a_gap() -> None:
    # C5 stops on 2026-11-10 for good; a teacher's stray event on the 20th extends its span,
    # but the stream never comes back to its usual level.
    stray = {
        "event_id": "stray",
        "user_id": "U1",
        "course_id": "C5",
        "verb": "viewed",
        "timestamp": "2026-11-20T10:00:00Z",
    }
    rows = [*busy_site(), *views("C5", 25, until="2026-11-10"), stray]
    assert found(org(rows, [course(f"C{i}") for i in range(1, 6)])) == {}


def test_a_quiet_day_in_the_trickle_after_a_term_is_not_a_gap() -> None:
    # C5 ends its term on 11-10; a few learners look in afterwards (2 events a day), nobody on
    # 11-16, and a resit brings 20 events on 11-19: the level was not usual before the silence.
    # Term days vary (10 or 50 events), as a real course's do.
    odd = [str(d.date()) for i, d in enumerate(DAYS) if i % 2]
    rows = busy_site() + views("C5", 25, per_day=10, until="2026-11-10")
    rows += views("C5", 25, per_day=40, until="2026-11-10", skip=odd, tag="busy")
    trickle = views("C5", 25, per_day=2, since="2026-11-11", until="2026-11-26", tag="t")
    rows += [r for r in trickle if "2026-11-16" not in r["event_id"]]
    rows += views("C5", 25, per_day=20, since="2026-11-19", until="2026-11-19", tag="resit")
    assert found(org(rows, [course(f"C{i}") for i in range(1, 6)])) == {}


def test_a_term_break_longer_than_a_week_is_not_a_gap() -> None:
    # Term one ends on 10-30, term two begins on 11-09: nine silent days, then the usual level.
    rows = busy_site() + views("C5", 25, until="2026-10-30") + views("C5", 25, since="2026-11-09")
    assert found(org(rows, [course(f"C{i}") for i in range(1, 6)])) == {}


def test_silence_after_the_course_ends_at_is_not_a_gap_even_when_events_come_back() -> None:
    # C5 ends on 11-11; a resit session brings activity back from the 13th.
    rows = busy_site() + views("C5", 25, skip=["2026-11-12"])
    cs = [course(f"C{i}") for i in range(1, 5)]
    dated = [*cs, course("C5", starts_at="2026-10-05T00:00:00Z", ends_at="2026-11-12T00:00:00Z")]
    assert found(org(rows, dated)) == {}
    # The same silence inside the course's dates (or with no dates) is a gap.
    open_ended = [*cs, course("C5", starts_at="2026-10-05T00:00:00Z", ends_at=None)]
    assert set(found(org(rows, open_ended))) == {"course=C5;date=2026-11-12"}


def test_events_before_starts_at_do_not_make_a_history() -> None:
    # C5's term starts on 11-10; a silent 11-11 has only one day of history inside the term.
    rows = busy_site() + views("C5", 25, skip=["2026-11-11"])
    cs = [course(f"C{i}") for i in range(1, 5)]
    assert set(found(org(rows, [*cs, course("C5")]))) == {"course=C5;date=2026-11-11"}
    late_start = [*cs, course("C5", starts_at="2026-11-10T00:00:00Z")]
    assert found(org(rows, late_start)) == {}


def test_a_small_cohort_is_not_judged() -> None:
    # Six learners report every day, then one silent day: too few people to call it lost data.
    rows = busy_site() + views("C5", 6, skip=["2026-11-11"])
    assert found(org(rows, [course(f"C{i}") for i in range(1, 6)])) == {}
    # Ten learners are enough.
    rows = busy_site() + views("C5", 10, skip=["2026-11-11"])
    assert set(found(org(rows, [course(f"C{i}") for i in range(1, 6)]))) == {
        "course=C5;date=2026-11-11"
    }


def test_a_stream_that_often_misses_days_is_not_judged() -> None:
    # C5 reports on four days of five: below 90% in the 28 days before, its silences are normal.
    misses = [str(d.date()) for i, d in enumerate(DAYS) if i % 5 == 2]
    rows = busy_site() + views("C5", 25, skip=misses)
    assert found(org(rows, [course(f"C{i}") for i in range(1, 6)])) == {}


def test_no_return_to_the_usual_level_is_not_a_gap() -> None:
    # C5 goes silent on 11-11 and then limps along at a tenth of its level: a decline, not a hole.
    rows = busy_site() + views("C5", 25, until="2026-11-10")
    rows += views("C5", 25, per_day=2, since="2026-11-12", tag="low")
    assert found(org(rows, [course(f"C{i}") for i in range(1, 6)])) == {}


def test_a_day_the_whole_site_is_silent_is_one_site_finding() -> None:
    # Every stream (site logins, four busy courses, a small one) is silent on 11-11.
    rows = busy_site(skip=["2026-11-11"]) + views("C5", 4, skip=["2026-11-11"])
    gaps = found(org(rows, [course(f"C{i}") for i in range(1, 6)]))
    assert set(gaps) == {"date=2026-11-11"}
    assert "the whole site" in gaps["date=2026-11-11"].title
    assert gaps["date=2026-11-11"].severity == "high"


def test_a_site_wide_silence_without_site_level_events_is_still_one_finding() -> None:
    # A course log (Moodle's course-level export) has no events without a course.
    rows = [r for r in busy_site(skip=["2026-11-11"]) if r["course_id"] is not None]
    assert set(found(org(rows))) == {"date=2026-11-11"}


def test_a_short_history_judges_the_cohort_on_the_first_weeks() -> None:
    # The export begins on 11-07; C1 is silent on 11-11, four days in. Its 25 learners show in
    # the first four weeks of the data, though only some were active in the four days before.
    rows = [r for r in busy_site() if str(pd.Timestamp(r["timestamp"]).date()) >= "2026-11-07"]
    rows = [r for r in rows if not (r["course_id"] == "C1" and "2026-11-11" in r["event_id"])]
    for r in rows:
        if r["course_id"] == "C1" and str(pd.Timestamp(r["timestamp"]).date()) < "2026-11-11":
            r["user_id"] = f"U{int(r['user_id'][1:]) % 5}"
    assert set(found(org(rows))) == {"course=C1;date=2026-11-11"}
