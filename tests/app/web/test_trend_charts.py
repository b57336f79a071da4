"""The Trends report as a file: the spec carries every takeaway; PDF and PNG from the CLI."""

from __future__ import annotations

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
from sqlmodel import Session

from app.cli.main import cli
from app.core.db import build_engine, upgrade
from app.web.trend_charts import render_report, report_spec, table_csv, trend_charts
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
        done = _run("report", "--weeks", "12", "--out", str(out), env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("wrote the 12-week trends report (PDF, ")
        assert out.read_bytes().startswith(b"%PDF")
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
