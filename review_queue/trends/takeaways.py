"""The one-line takeaway under each Trends chart: what a manager should notice, in plain words.

Each takes the metric's finished frames (no database), so its wording can be tested on a literal
table.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from review_queue.trends.filters import TrendFilters
from review_queue.trends.weeks import local_date


def flow_takeaway(frame: pd.DataFrame, filters: TrendFilters) -> str:
    """E.g. 'Confirmed gaps fell 40% (10 → 6), last 4 weeks against the 4 before; ...'."""
    totals = frame.groupby("measure")["count"].sum()
    if totals.sum() == 0:
        return (
            f"No gaps were opened or decided between {filters.start:%d %b} "
            f"and {filters.end:%d %b %Y}."
        )
    weekly = frame.groupby(["week", "measure"])["count"].sum().unstack("measure")
    n = len(weekly)
    confirmed = int(totals["confirmed"])
    what = "gap" if confirmed == 1 else "gaps"
    if len(filters.categories) == 1:
        what = f"{filters.categories[0]} {what}"
    # The total comes first, so it reads the same as the other charts' counts of confirmations;
    # the halves only say which way it goes.
    text = (
        f"{confirmed:,} {what} confirmed in the range, "
        f"{int(totals['opened']):,} opened, {int(totals['dismissed']):,} dismissed, "
        f"{int(totals['resolved']):,} resolved"
    )
    if n >= 2:
        half = n // 2
        before = int(weekly["confirmed"].iloc[:half].sum())
        after = int(weekly["confirmed"].iloc[n - half :].sum())
        text += (
            f"; confirmations {_change(before, after)}, the last {half} "
            f"week{'s' if half != 1 else ''} against the {half} before"
        )
    text += "."
    return text[0].upper() + text[1:]


def backlog_takeaway(
    ages: pd.DataFrame, weekly: pd.DataFrame, *, moment: datetime, zone: ZoneInfo, sla_days: int
) -> str:
    """How many gaps were open at ``moment``, how many are older than the SLA, and the trend."""
    total = int(ages["open"].sum())
    older = int(ages["older_than_sla"].sum())
    if total == 0:
        return f"No gaps were open on {local_date(moment, zone):%d %b %Y}."
    oldest = (moment - ages.attrs["oldest"]).days
    text = (
        f"{total:,} gaps open on {local_date(moment, zone):%d %b %Y}; "
        f"{older / total:.0%} are older than the {sla_days}-day SLA "
        f"(oldest {oldest} days)."
    )
    if len(weekly) > 1:
        text += f" Backlog {_change(weekly['open'].iloc[0], weekly['open'].iloc[-1])}."
    return text


def cycle_takeaway(frame: pd.DataFrame) -> str:
    """The latest week's median time to triage and resolve, against the first week's."""
    parts = []
    for measure in ("time to triage", "time to resolve"):
        weeks = frame[(frame["measure"] == measure) & (frame["findings"] > 0)]
        if weeks.empty:
            continue
        last = weeks.iloc[-1]
        text = (
            f"median {measure} {_duration(last['median_hours'])} "
            f"(p90 {_duration(last['p90_hours'])}) in the week of {last['week']:%d %b}"
        )
        if len(weeks) > 1:
            text += f", against {_duration(weeks.iloc[0]['median_hours'])} in the first"
        parts.append(text)
    if not parts:
        return "No finding was triaged or resolved in this period."
    sentence = "; ".join(parts) + "."
    return sentence[0].upper() + sentence[1:]


def precision_takeaway(overall: pd.DataFrame, promotions: pd.DataFrame) -> str:
    """Overall precision over the range and in the latest week with decisions.

    ``overall`` is the precision frame's rows for all detectors together, one per week.
    """
    decided = int(overall["decided"].sum())
    if decided == 0:
        return "No confirm or dismiss decisions in this period, so no precision to show."
    confirmed = int(overall["confirmed"].sum())
    text = (
        f"Detectors were right {confirmed / decided:.0%} of the time "
        f"({confirmed:,} confirmed of {decided:,} decided)"
    )
    active = overall[overall["decided"] > 0]
    if len(active) > 1:
        last = active.iloc[-1]
        text += f"; {last['precision']:.0%} in the week of {last['week']:%d %b}"
    if not promotions.empty:
        n = len(promotions)
        text += f"; {n} model promotion{'s' if n != 1 else ''} marked"
    return text + "."


def locations_takeaway(
    departments: pd.DataFrame, courses: pd.DataFrame, learners: int, *, nowhere: str
) -> str:
    """Which department and course carry the most confirmed gaps, and the rate per learner.

    ``nowhere`` is the label of gaps without a department: they are counted, never named as the
    department with the most gaps. A course is named by its title where known.
    """
    if departments.empty:
        return "No gaps were first seen in this period."
    total_found = int(departments["found"].sum())
    total_confirmed = int(departments["confirmed"].sum())
    placed = departments[departments["department"] != nowhere]
    unplaced = departments.loc[departments["department"] == nowhere, "confirmed"].sum()
    if total_confirmed == 0:
        text = f"{total_found:,} gaps first seen in the range, none confirmed yet"
        if not placed.empty:
            top = placed.sort_values("found", ascending=False, kind="stable").iloc[0]
            text += f"; most in {top['department']}"
    else:
        gaps = "gap" if total_confirmed == 1 else "gaps"
        text = f"Of the {total_confirmed:,} {gaps} first seen in the range and confirmed, "
        if placed.empty or placed["confirmed"].max() == 0:
            text += "none belongs to a department"
        else:
            top = placed.iloc[0]
            text += f"{top['department']} has the most ({int(top['confirmed']):,})"
            if unplaced:
                text += f"; {int(unplaced):,} have no department"
        if not courses.empty and courses.iloc[0]["confirmed"] > 0:
            lead = courses.iloc[0]
            title = str(lead.get("title") or "")
            name = f"{title} ({lead['course']})" if title else str(lead["course"])
            text += f"; course {name} leads with {int(lead['confirmed']):,}"
    if learners > 0:
        text += f"; {total_confirmed * 1000 / learners:.1f} confirmed gaps per 1,000 learners"
    return text + "."


def compliance_takeaway(weekly: pd.DataFrame) -> str:
    """Overdue mandatory enrolments open at the period's end, and the change since its start."""
    first, last = int(weekly["open"].iloc[0]), int(weekly["open"].iloc[-1])
    if weekly["open"].max() == 0:
        return "No overdue mandatory enrolments were open in this period."
    n = len(weekly)
    return (
        f"{last:,} overdue mandatory enrolments open at the end of the period; "
        f"{_change(first, last)} over {n} week{'s' if n != 1 else ''}."
    )


def _change(before: float, after: float) -> str:
    """'rose 25% (8 → 10)', 'fell 40% (10 → 6)', 'held at 7' or 'went from 0 to 5'."""
    before, after = int(before), int(after)
    if before == after:
        return f"held at {after:,}"
    if before == 0:
        return f"went from 0 to {after:,}"
    pct = abs(after - before) / before
    verb = "rose" if after > before else "fell"
    return f"{verb} {pct:.0%} ({before:,} → {after:,})"


def _duration(hours: float) -> str:
    """In days, as the chart's axis is (one unit across the page)."""
    days = hours / 24
    return f"{days:.1f} day{'' if f'{days:.1f}' == '1.0' else 's'}"
