"""The Trends report as a file: the spec carries every takeaway; PDF and PNG from the CLI."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlmodel import Session

from app.cli.main import cli
from app.core.db import build_engine, upgrade
from app.web.trend_charts import (
    CATEGORY_DOMAIN,
    render_report,
    report_spec,
    table_csv,
    trend_charts,
)
from review_queue.permissions import Actor
from review_queue.tables import Role
from review_queue.trends.filters import TrendFilters
from review_queue.trends.report import trend_report
from review_queue.trends.results import TrendReport
from tests.conftest import BACKENDS
from tests.helpers.trends_history import build_known_history, simulate_reviews


@pytest.fixture(scope="module")
def known_report(tmp_path_factory: pytest.TempPathFactory) -> TrendReport:
    """The known history's report, built once: rendering is the same whatever the database
    (the metrics are tested on both in test_trends.py)."""
    engine = build_engine(f"sqlite:///{tmp_path_factory.mktemp('report') / 'gapdesk.db'}")
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        h = build_known_history(session)
        report = trend_report(
            session=session, actor=MANAGER, filters=TrendFilters(h.start, h.end), learners=1000
        )
    engine.dispose()
    return report


GAPDESK = shutil.which("gapdesk", path=str(Path(sys.executable).parent)) or "gapdesk"
MANAGER = Actor(id=None, name="maria", role=Role.manager)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_spec_titles_every_chart_with_its_takeaway(known_report: TrendReport) -> None:
    report = known_report
    spec = report_spec(report)
    assert spec["title"]["text"] == "Gapdesk trends"
    assert spec["title"]["subtitle"][0].startswith("26 Oct 2026 to 22 Nov 2026 (UTC)")
    charts = spec["vconcat"]
    assert [c["title"]["text"] for c in charts] == [m.title for m in report.metrics]
    for chart, metric in zip(charts, report.metrics, strict=True):
        assert " ".join(chart["title"]["subtitle"]) == metric.takeaway
    # Inline data only: the rendered file needs no network.
    assert "url" not in json.dumps(spec.get("data", {}))


def test_report_renders_to_pdf_and_png_without_a_browser(known_report: TrendReport) -> None:
    report = known_report
    pdf = render_report(report, "pdf")
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    width, height = _png_size(render_report(report, "png"))
    assert width > 1000 and height > 2 * width  # six charts stacked, at twice the scale
    with pytest.raises(ValueError, match="report format must be one of pdf, png"):
        render_report(report, "svg")  # type: ignore[arg-type]


def test_each_chart_table_downloads_as_csv(known_report: TrendReport) -> None:
    tables = {name: t for item in trend_charts(known_report) for name, t in item.tables.items()}
    assert set(tables) == {
        "flow", "backlog", "backlog-weekly", "cycle", "precision", "precision-promotions",
        "where", "where-courses", "compliance",
    }  # fmt: skip
    compliance = table_csv(tables["compliance"]).splitlines()
    assert compliance == [
        "week,week_label,open",
        "2026-10-26,2026-W44,1",
        "2026-11-02,2026-W45,1",
        "2026-11-09,2026-W46,2",
        "2026-11-16,2026-W47,2",
    ]


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GAPDESK, *args], env={**os.environ, **env}, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("fresh_db_url", BACKENDS, indirect=True)
def test_gapdesk_report_writes_pdf_and_png(fresh_db_url: str, tmp_path: Path) -> None:
    engine = build_engine(fresh_db_url)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        simulate_reviews(session, days=21)
    engine.dispose()
    env = {"GAPDESK_HOME": str(tmp_path), "GAPDESK_DATABASE_URL": fresh_db_url}
    # One console-script run per backend (each start-up costs seconds): PDF on SQLite with the
    # defaults, PNG on PostgreSQL with every filter.
    if fresh_db_url.startswith("sqlite"):
        out = tmp_path / "report.pdf"
        done = _run("report", "--weeks", "12", "--out", str(out), "--paper", "letter", env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("wrote the 12-week trends report (PDF, ")
        assert out.read_bytes().startswith(b"%PDF")
        pages = PdfReader(out).pages
        assert [(float(p.mediabox.width), float(p.mediabox.height)) for p in pages] == [
            (612.0, 792.0)
        ] * len(pages)  # Letter, as asked
    else:
        out = tmp_path / "report.png"
        done = _run(
            "report", "--weeks", "4", "--out", str(out), "--tz", "Europe/Berlin",
            "--department", "HR", "--category", "compliance_overdue", "--learners", "500",
            env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        width, height = _png_size(out.read_bytes())
        assert width > 1000 and height > 2000
    assert str(out) in done.stdout


def test_gapdesk_report_refuses_bad_input_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAPDESK_HOME", str(tmp_path / "home"))
    cases = [
        (["--out", str(tmp_path / "r.docx")], "Error: --out must end in .pdf or .png"),
        (["--out", str(tmp_path / "r.pdf"), "--tz", "Mars/Olympus"],
         "Error: unknown reporting time zone 'Mars/Olympus'"),
        (["--out", str(tmp_path / "r.pdf"), "--category", "enrolment_typo"],
         "Error: unknown gap categories: enrolment_typo"),
        (["--out", str(tmp_path / "missing" / "r.pdf")], "Error: cannot write"),
    ]  # fmt: skip
    for args, message in cases:
        done = CliRunner().invoke(cli, ["report", *args])
        assert done.exit_code == 1, (args, done.output)
        assert done.output.startswith(message) and len(done.output.strip().splitlines()) == 1
    assert not list(tmp_path.glob("r.*"))
    # Bad input is refused before any database is created.
    assert not (tmp_path / "home").exists()


def test_report_of_an_empty_queue_is_still_a_report(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(engine)
    with Session(engine) as session:
        filters = TrendFilters(date(2026, 11, 2), date(2026, 11, 15))
        report = trend_report(session=session, actor=MANAGER, filters=filters)
    engine.dispose()
    spec = report_spec(report)
    assert spec["vconcat"][0]["title"]["subtitle"] == [
        "No gaps were opened or decided between 02 Nov and 15 Nov 2026."
    ]
    assert render_report(report, "png").startswith(b"\x89PNG")


def _chart(report: TrendReport, key: str) -> dict:
    item = next(c for c in trend_charts(report) if c.metric.key == key)
    return item.chart.to_dict()


def _encodings(spec: object, channel: str) -> list[dict]:
    """Every ``channel`` encoding anywhere in a chart's spec (layers, facets, concats)."""
    found: list[dict] = []
    if isinstance(spec, dict):
        enc = spec.get("encoding", {})
        if channel in enc:
            found.append(enc[channel])
        for value in spec.values():
            found += _encodings(value, channel)
    elif isinstance(spec, list):
        for value in spec:
            found += _encodings(value, channel)
    return found


def test_a_category_keeps_its_colour_whatever_the_filters(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'gapdesk.db'}")
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        h = build_known_history(session)
        every = trend_report(session=session, actor=MANAGER, filters=TrendFilters(h.start, h.end))
        one = trend_report(
            session=session, actor=MANAGER,
            filters=TrendFilters(h.start, h.end, categories=("sync_failure",)),
        )  # fmt: skip
    engine.dispose()
    [all_colour] = _encodings(_chart(every, "flow"), "color")
    [one_colour] = _encodings(_chart(one, "flow"), "color")
    # The scale is all categories, in the taxonomy's order, for every filter: same colours.
    assert all_colour["scale"] == one_colour["scale"]
    assert all_colour["scale"]["domain"] == list(CATEGORY_DOMAIN)
    assert len(set(all_colour["scale"]["range"])) == len(CATEGORY_DOMAIN)  # no two alike
    assert one_colour["legend"]["values"] == ["sync_failure"]  # only what is drawn
    [detectors] = _encodings(_chart(every, "precision"), "color")[:1]
    assert detectors["scale"]["domain"][0] == "all detectors"
    assert detectors["scale"]["range"][0] == "#000000"
    assert len(set(detectors["scale"]["range"])) == len(detectors["scale"]["domain"])


def test_legends_speak_words_and_median_and_p90_differ_in_line_and_mark(
    known_report: TrendReport,
) -> None:
    backlog = json.dumps(_chart(known_report, "backlog"))
    assert "within the SLA" in backlog and "past the SLA" in backlog
    colours = _encodings(_chart(known_report, "backlog"), "color")
    assert all(c["scale"].get("domain") != [False, True] for c in colours if "scale" in c)
    cycle = _chart(known_report, "cycle")
    [dash] = _encodings(cycle, "strokeDash")
    [shape] = _encodings(cycle, "shape")
    assert dash["scale"]["domain"] == shape["scale"]["domain"] == ["median", "p90"]
    assert dash["scale"]["range"][0] != dash["scale"]["range"][1]
    assert shape["scale"]["range"] == ["circle", "triangle-up"]


def test_the_pdf_is_paginated_on_a4_or_letter(known_report: TrendReport) -> None:
    for paper, size in (("a4", (595.28, 841.89)), ("letter", (612.0, 792.0))):
        pages = PdfReader(io.BytesIO(render_report(known_report, "pdf", paper=paper))).pages
        assert len(pages) >= 2  # six charts do not fit one sheet, and none is shrunk to fit
        for page in pages:
            assert (float(page.mediabox.width), float(page.mediabox.height)) == size
        text = " ".join(page.extract_text() for page in pages)
        for metric in known_report.metrics:
            assert metric.title.split()[0] in text
    with pytest.raises(ValueError, match="paper must be one of a4, letter"):
        render_report(known_report, "pdf", paper="a3")  # type: ignore[arg-type]
