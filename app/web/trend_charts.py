"""The Trends report: altair charts of every trend metric, and the same charts as a PDF or PNG.

The page and ``gapdesk report`` draw the same charts from here. Files are rendered by
vl-convert, which runs Vega-Lite in an embedded engine: no browser to download or start.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Literal

import altair as alt
import pandas as pd
import vl_convert as vlc

from app.core.safe_csv import neutralise_frame
from app.core.settings import get_settings
from review_queue.trends.flow import FLOW_MEASURES
from review_queue.trends.precision import ALL_DETECTORS
from review_queue.trends.results import TrendMetric, TrendReport

ReportFormat = Literal["pdf", "png"]
AnyChart = alt.Chart | alt.LayerChart | alt.HConcatChart | alt.VConcatChart | alt.FacetChart
REPORT_FORMATS: tuple[ReportFormat, ...] = ("pdf", "png")
CHART_WIDTH = 640
CHART_HEIGHT = 220
TAKEAWAY_WIDTH = 95  # characters per subtitle line in the rendered file


def default_reporting_tz() -> str:
    """The configured reporting time zone (``GAPDESK_REPORTING_TZ``), UTC if unset."""
    return get_settings().reporting_tz


@dataclass(frozen=True)
class TrendChart:
    """One chart of the report: the metric it shows, the chart, and its downloadable tables."""

    metric: TrendMetric
    chart: AnyChart
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def trend_charts(report: TrendReport) -> list[TrendChart]:
    """Every metric of ``report`` as a chart, in the page's order."""
    builders = {
        "flow": _flow_chart,
        "backlog": _backlog_chart,
        "cycle": _cycle_chart,
        "precision": _precision_chart,
        "where": _where_chart,
        "compliance": _compliance_chart,
    }
    out = []
    for metric in report.metrics:
        chart = builders[metric.key](metric, report)
        tables = {metric.key: _for_csv(metric.frame)}
        tables.update({f"{metric.key}-{name}": _for_csv(f) for name, f in metric.extras.items()})
        out.append(TrendChart(metric, chart, tables))
    return out


def table_csv(frame: pd.DataFrame) -> str:
    """A chart's table as CSV text (UTF-8, header row, no index), formula-like cells defused."""
    return neutralise_frame(frame).to_csv(index=False, lineterminator="\r\n")  # see write_safe_csv


def report_spec(report: TrendReport) -> dict[str, Any]:
    """The whole report as one Vega-Lite spec: each chart titled, its takeaway beneath."""
    charts = []
    for item in trend_charts(report):
        subtitle = textwrap.wrap(item.metric.takeaway, TAKEAWAY_WIDTH)
        charts.append(
            item.chart.properties(
                title=alt.TitleParams(
                    item.metric.title, subtitle=subtitle, anchor="start", fontSize=15
                )
            )
        )
    generated = report.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    # Charts share nothing: each keeps its own colours and legends (a category is not a detector).
    page = (
        alt.vconcat(*charts, spacing=36)
        .resolve_scale(color="independent", strokeDash="independent", size="independent")
        .resolve_legend(color="independent", strokeDash="independent", size="independent")
    ).properties(
        title=alt.TitleParams(
            "Gapdesk trends",
            subtitle=[report.filters.describe(), f"Generated {generated}"],
            anchor="start",
            fontSize=22,
        ),
        padding=24,
    )
    spec: dict[str, Any] = page.to_dict()
    return spec


def render_report(report: TrendReport, fmt: ReportFormat) -> bytes:
    """The report as PDF or PNG bytes, rendered without a browser."""
    spec = report_spec(report)
    # Everything is inline data: refuse any network fetch a spec might otherwise make.
    if fmt == "pdf":
        return bytes(vlc.vegalite_to_pdf(spec, allowed_base_urls=[]))
    if fmt == "png":
        return bytes(vlc.vegalite_to_png(spec, scale=2, allowed_base_urls=[]))
    raise ValueError(f"report format must be one of {', '.join(REPORT_FORMATS)}, not {fmt!r}")


# --------------------------------------------------------------------------- one chart per metric


def _base(frame: pd.DataFrame) -> alt.Chart:
    return alt.Chart(frame).properties(width=CHART_WIDTH, height=CHART_HEIGHT)


def _week_axis(field_: str = "week") -> alt.X:
    return alt.X(f"{field_}:T", title="week (starting Monday)", axis=alt.Axis(format="%d %b"))


def _flow_chart(metric: TrendMetric, report: TrendReport) -> AnyChart:
    frame = metric.frame
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("week_label:O", title=None),
            y=alt.Y("sum(count):Q", title="gaps"),
            color=alt.Color("category:N", title="category"),
            tooltip=["week_label:O", "measure:N", "category:N", "count:Q"],
        )
        .properties(width=CHART_WIDTH / 4 - 20, height=CHART_HEIGHT)
        .facet(column=alt.Column("measure:N", sort=list(FLOW_MEASURES), title=None))
    )


def _backlog_chart(metric: TrendMetric, report: TrendReport) -> AnyChart:
    ages = metric.frame.assign(
        over_sla=metric.frame["min_days"] >= report.sla_days,
    )
    bars = (
        alt.Chart(ages)
        .mark_bar()
        .encode(
            x=alt.X("age_band:N", sort=list(ages["age_band"]), title="age since first seen"),
            y=alt.Y("open:Q", title="open gaps"),
            color=alt.Color(
                "over_sla:N",
                title=f"past the {report.sla_days}-day SLA",
                scale=alt.Scale(domain=[False, True], range=["#4c78a8", "#e45756"]),
            ),
            tooltip=["age_band:N", "open:Q", "older_than_sla:Q"],
        )
        .properties(width=CHART_WIDTH / 2 - 20, height=CHART_HEIGHT)
    )
    weekly = (
        alt.Chart(metric.extras["weekly"])
        .mark_line(point=True)
        .encode(
            x=_week_axis(),
            y=alt.Y("open:Q", title="open at week's end"),
            tooltip=["week_label:O", "open:Q"],
        )
        .properties(width=CHART_WIDTH / 2 - 20, height=CHART_HEIGHT)
    )
    return alt.hconcat(bars, weekly).resolve_scale(color="independent")


def _cycle_chart(metric: TrendMetric, report: TrendReport) -> AnyChart:
    long = metric.frame.melt(
        id_vars=["week", "week_label", "measure", "findings"],
        value_vars=["median_hours", "p90_hours"],
        var_name="statistic",
        value_name="hours",
    )
    long["statistic"] = long["statistic"].map({"median_hours": "median", "p90_hours": "p90"})
    long["days"] = long["hours"] / 24
    return (
        _base(long)
        .mark_line(point=True)
        .encode(
            x=_week_axis(),
            y=alt.Y("days:Q", title="days"),
            color=alt.Color("measure:N", title=None),
            strokeDash=alt.StrokeDash("statistic:N", title=None),
            tooltip=[
                "week_label:O",
                "measure:N",
                "statistic:N",
                alt.Tooltip("hours:Q", format=".1f"),
                "findings:Q",
            ],
        )
    )


def _precision_chart(metric: TrendMetric, report: TrendReport) -> AnyChart:
    frame = metric.frame
    lines = (
        _base(frame)
        .mark_line(point=True)
        .encode(
            x=_week_axis(),
            y=alt.Y(
                "precision:Q",
                title="confirmed ÷ decided",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=alt.Color("detector:N", title="detector"),
            strokeWidth=alt.condition(
                alt.datum.detector == ALL_DETECTORS, alt.value(3), alt.value(1.5)
            ),
            tooltip=[
                "week_label:O",
                "detector:N",
                "confirmed:Q",
                "dismissed:Q",
                alt.Tooltip("precision:Q", format=".0%"),
            ],
        )
    )
    promotions = metric.extras["promotions"]
    if promotions.empty:
        return lines
    rules = (
        alt.Chart(promotions)
        .mark_rule(strokeDash=[4, 3], color="#555")
        .encode(x="promoted_at:T", tooltip=["label:N", "promoted_at:T"])
    )
    labels = (
        alt.Chart(promotions)
        .mark_text(align="left", dx=3, dy=-4, baseline="top", color="#555", fontSize=10)
        .encode(x="promoted_at:T", y=alt.value(0), text="label:N")
    )
    return alt.layer(lines, rules, labels)


def _where_chart(metric: TrendMetric, report: TrendReport) -> AnyChart:
    def bars(frame: pd.DataFrame, field_: str, title: str) -> alt.Chart:
        long = frame.melt(id_vars=[field_], value_vars=["found", "confirmed"], var_name="count_of")
        return (
            alt.Chart(long)
            .mark_bar()
            .encode(
                y=alt.Y(f"{field_}:N", sort=list(frame[field_]), title=title),
                x=alt.X("value:Q", title="gaps first seen in the range"),
                yOffset=alt.YOffset("count_of:N", sort=["found", "confirmed"]),
                color=alt.Color(
                    "count_of:N",
                    title=None,
                    scale=alt.Scale(domain=["found", "confirmed"], range=["#9ecae9", "#e45756"]),
                ),
                tooltip=[f"{field_}:N", "count_of:N", "value:Q"],
            )
            .properties(width=CHART_WIDTH / 2 - 60, height=alt.Step(9))
        )

    departments = metric.frame
    charts = [
        bars(departments, "department", "department"),
        bars(metric.extras["courses"], "course", "course (top 15)"),
    ]
    rated = departments.dropna(subset=["confirmed_per_1000"])
    if not rated.empty:
        charts.append(
            alt.Chart(rated)
            .mark_bar(color="#e45756")
            .encode(
                y=alt.Y("department:N", sort=list(rated["department"]), title=None),
                x=alt.X("confirmed_per_1000:Q", title="confirmed per 1,000 learners"),
                tooltip=["department:N", "confirmed:Q", "learners:Q", "confirmed_per_1000:Q"],
            )
            .properties(width=140, height=alt.Step(18))
        )
    return alt.hconcat(*charts)


def _compliance_chart(metric: TrendMetric, report: TrendReport) -> AnyChart:
    return (
        _base(metric.frame)
        .mark_area(line=True, point=True, opacity=0.35, color="#e45756")
        .encode(
            x=_week_axis(),
            y=alt.Y("open:Q", title="open overdue enrolments"),
            tooltip=["week_label:O", "open:Q"],
        )
    )


def _for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """A metric table as a person reads it in a spreadsheet: weeks as plain dates."""
    out = frame.copy()
    if "week" in out:
        out["week"] = pd.to_datetime(out["week"]).dt.date
    return out
