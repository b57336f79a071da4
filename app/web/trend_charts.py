"""The Trends report: altair charts of every trend metric, and the same charts as a PDF or PNG.

The page and ``gapdesk report`` draw the same charts from here. Files are rendered by
vl-convert, which runs Vega-Lite in an embedded engine: no browser to download or start.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Literal

import altair as alt
import pandas as pd
import vl_convert as vlc
from pypdf import PdfReader, PdfWriter, Transformation

from app.core.safe_csv import neutralise_frame
from app.core.settings import get_settings
from models.detectors.registry import REGISTRY
from models.taxonomy import CATEGORIES
from review_queue.trends.flow import FLOW_MEASURES
from review_queue.trends.precision import ALL_DETECTORS
from review_queue.trends.results import TrendMetric, TrendReport

ReportFormat = Literal["pdf", "png"]
Paper = Literal["a4", "letter"]
PAPER_SIZES: dict[str, tuple[float, float]] = {"a4": (595.28, 841.89), "letter": (612.0, 792.0)}
PAGE_MARGIN = 36.0  # points: half an inch
CHART_GAP = 18.0
AnyChart = alt.Chart | alt.LayerChart | alt.HConcatChart | alt.VConcatChart | alt.FacetChart
REPORT_FORMATS: tuple[ReportFormat, ...] = ("pdf", "png")
CHART_WIDTH = 640
CHART_HEIGHT = 220
TAKEAWAY_WIDTH = 95  # characters per subtitle line in the rendered file

# One colour per category and per detector, the same in every chart and for every filter: the
# scales' domains are all categories (all detectors), never only those the filters left, so a
# category keeps its colour when others are filtered away. Twenty colours, no two alike.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#000080", "#808000",
    "#800000", "#008080", "#bab0ac", "#d95f02",
)  # fmt: skip
CATEGORY_DOMAIN: tuple[str, ...] = tuple(CATEGORIES)
DETECTOR_DOMAIN: tuple[str, ...] = (ALL_DETECTORS, *REGISTRY, "manual")
SLA_WORDS = ("within the SLA", "past the SLA")
# Every channel a chart's legend may use; each chart of the report keeps its own.
INDEPENDENT: dict[str, Literal["independent"]] = dict.fromkeys(
    ("color", "strokeDash", "shape", "size"), "independent"
)
STATISTICS = ("median", "p90")


def category_colour(present: list[str] | None = None, title: str = "category") -> alt.Color:
    """Colour by ``category`` on the fixed scale; the legend lists the ``present`` ones."""
    return alt.Color(
        "category:N",
        title=title,
        scale=alt.Scale(domain=list(CATEGORY_DOMAIN), range=list(PALETTE[: len(CATEGORY_DOMAIN)])),
        legend=alt.Legend(values=present, orient="bottom", columns=4) if present else None,
    )


def detector_colour(present: list[str]) -> alt.Color:
    """Colour by ``detector`` on the fixed scale (all detectors together in black)."""
    others = [c for c in PALETTE if c != "#000080"]
    return alt.Color(
        "detector:N",
        title="detector",
        scale=alt.Scale(
            domain=list(DETECTOR_DOMAIN), range=["#000000", *others[: len(DETECTOR_DOMAIN) - 1]]
        ),
        legend=alt.Legend(values=present, orient="bottom", columns=3),
    )


def default_reporting_tz() -> str:
    """The configured reporting time zone (``GAPDESK_REPORTING_TZ``), UTC if unset."""
    return get_settings().reporting_tz


def default_report_paper() -> Paper:
    """The configured paper of the PDF report (``GAPDESK_REPORT_PAPER``), A4 if unset."""
    return get_settings().report_paper


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
        alt.vconcat(*charts, spacing=36).resolve_scale(**INDEPENDENT).resolve_legend(**INDEPENDENT)
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


def render_report(report: TrendReport, fmt: ReportFormat, *, paper: Paper | None = None) -> bytes:
    """The report as PDF or PNG bytes, rendered without a browser. The PDF is laid out on
    ``paper`` (A4 or Letter; the ``report_paper`` setting by default), page after page; the PNG
    is one tall image for the screen."""
    # Everything is inline data: refuse any network fetch a spec might otherwise make.
    if fmt == "pdf":
        return _paginated_pdf(report, paper or default_report_paper())
    if fmt == "png":
        return bytes(vlc.vegalite_to_png(report_spec(report), scale=2, allowed_base_urls=[]))
    raise ValueError(f"report format must be one of {', '.join(REPORT_FORMATS)}, not {fmt!r}")


def _report_parts(report: TrendReport) -> list[dict[str, Any]]:
    """The report as separate specs, one per chart, the first under the report's heading."""
    spec = report_spec(report)
    charts = spec.pop("vconcat")
    shared = {k: v for k, v in spec.items() if k not in ("title", "padding", "spacing")}
    head = {**shared, "vconcat": [charts[0]], "title": spec["title"], "padding": 8}
    return [head, *({**shared, **chart, "padding": 8} for chart in charts[1:])]


def _paginated_pdf(report: TrendReport, paper: Paper) -> bytes:
    """Each chart drawn as vector PDF, scaled to the page's width (never enlarged), and placed
    one under another on pages of ``paper``; a chart that does not fit starts the next page."""
    if paper not in PAPER_SIZES:
        raise ValueError(f"paper must be one of {', '.join(PAPER_SIZES)}, not {paper!r}")
    width, height = PAPER_SIZES[paper]
    room_w, room_h = width - 2 * PAGE_MARGIN, height - 2 * PAGE_MARGIN
    writer = PdfWriter()
    page, top = None, 0.0
    for spec in _report_parts(report):
        drawn = PdfReader(io.BytesIO(vlc.vegalite_to_pdf(spec, allowed_base_urls=[]))).pages[0]
        w, h = float(drawn.mediabox.width), float(drawn.mediabox.height)
        scale = min(1.0, room_w / w, room_h / h)
        if page is None or top - h * scale < PAGE_MARGIN:
            page, top = writer.add_blank_page(width, height), height - PAGE_MARGIN
        bottom = top - h * scale
        page.merge_transformed_page(
            drawn, Transformation().scale(scale).translate(PAGE_MARGIN, bottom)
        )
        top = bottom - CHART_GAP
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


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
            color=category_colour(sorted(set(frame["category"]), key=CATEGORY_DOMAIN.index)),
            tooltip=["week_label:O", "measure:N", "category:N", "count:Q"],
        )
        .properties(width=CHART_WIDTH / 4 - 20, height=CHART_HEIGHT)
        .facet(column=alt.Column("measure:N", sort=list(FLOW_MEASURES), title=None))
    )


def _backlog_chart(metric: TrendMetric, report: TrendReport) -> AnyChart:
    ages = metric.frame.assign(
        sla=[SLA_WORDS[int(d >= report.sla_days)] for d in metric.frame["min_days"]],
    )
    bars = (
        alt.Chart(ages)
        .mark_bar()
        .encode(
            x=alt.X("age_band:N", sort=list(ages["age_band"]), title="age since first seen"),
            y=alt.Y("open:Q", title="open gaps"),
            color=alt.Color(
                "sla:N",
                title=f"{report.sla_days}-day SLA",
                scale=alt.Scale(domain=list(SLA_WORDS), range=["#4c78a8", "#e45756"]),
                legend=alt.Legend(orient="bottom"),
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
    # Median and p90 differ in line and in mark (solid with dots, dashed with triangles), so
    # they stay apart in black and white as well as in colour.
    return (
        _base(long)
        .mark_line(point=alt.OverlayMarkDef(filled=True, size=45))
        .encode(
            x=_week_axis(),
            y=alt.Y("days:Q", title="days"),
            color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom")),
            strokeDash=alt.StrokeDash(
                "statistic:N", title=None, legend=alt.Legend(orient="bottom"),
                scale=alt.Scale(domain=list(STATISTICS), range=[[1, 0], [6, 3]]),
            ),
            shape=alt.Shape(
                "statistic:N", title=None, legend=alt.Legend(orient="bottom"),
                scale=alt.Scale(domain=list(STATISTICS), range=["circle", "triangle-up"]),
            ),
            tooltip=[
                "week_label:O", "measure:N", "statistic:N",
                alt.Tooltip("days:Q", format=".1f"), "findings:Q",
            ],
        )
    )  # fmt: skip


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
            color=detector_colour(
                sorted(set(frame["detector"]), key=lambda d: (d != ALL_DETECTORS, d))
            ),
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
        .mark_text(align="right", dx=-3, dy=4, baseline="top", color="#555", fontSize=10)
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
                y=alt.Y(
                    f"{field_}:N",
                    sort=list(frame[field_]),
                    title=title,
                    axis=alt.Axis(labelLimit=280),
                ),
                x=alt.X("value:Q", title="gaps first seen in the range"),
                yOffset=alt.YOffset("count_of:N", sort=["found", "confirmed"]),
                color=alt.Color(
                    "count_of:N",
                    title=None,
                    scale=alt.Scale(domain=["found", "confirmed"], range=["#9ecae9", "#e45756"]),
                    legend=alt.Legend(orient="bottom"),
                ),
                tooltip=[f"{field_}:N", "count_of:N", "value:Q"],
            )
            .properties(width=CHART_WIDTH / 2 - 60, height=alt.Step(9))
        )

    departments = metric.frame
    courses = metric.extras["courses"]
    if "title" in courses:
        pairs = zip(courses["course"], courses["title"], strict=True)
        courses = courses.assign(course=[f"{t} ({c})" if t else str(c) for c, t in pairs])
    charts = [
        bars(departments, "department", "department"),
        bars(courses, "course", "course (top 15)"),
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
