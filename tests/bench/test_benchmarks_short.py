"""Every benchmark runs in CI in a short mode, so a broken benchmark fails the build.

The figures they print are not asserted on (speed targets are never timed assertions); the
full-size runs and their latest figures are in the README's Performance section.
"""

from __future__ import annotations

import importlib
import re

import pytest

SHORT_RUNS = [
    ("tests.bench.bench_queue", ["--findings", "2000", "--repeat", "3"], "decision overhead"),
    ("tests.bench.bench_ingest", ["--people", "300"], "rows/s"),
    ("tests.bench.bench_demo_org", ["--people", "300", "--days", "40"], "people"),
    # the sharded path of a 1 M-people organisation, in three shards of 200
    ("tests.bench.bench_demo_org", ["--people", "600", "--days", "40", "--shard-people", "200"],
     "people=600"),
    ("tests.bench.bench_detectors", ["--seeds", "1"], "recall"),
    ("tests.bench.bench_detect_engines", ["--people", "300", "--engines", "duckdb", "pandas"],
     "identical to duckdb"),
    ("tests.bench.bench_dataframe_apis", ["--people", "300"], "same"),
    ("tests.bench.bench_trends", ["--findings", "2000", "--events", "8000", "--repeat", "2"], "ms"),
    # 300 people over 40 days leave too few dismissals to train on since the v2 calibration
    ("tests.bench.bench_priority_demo", ["--people", "600", "--days", "60", "--seeds", "1",
                                   "--decisions", "60"], "mean over 1 seed"),
    ("tests.bench.bench_aad", ["--datasets", "toy2", "--budget", "20", "--runs", "2",
                         "--scale-items", "2000"], "toy2"),
    ("tests.bench.bench_aad", ["--datasets", "sklearn:breast_cancer", "--budget", "20",
                               "--runs", "1", "--scale-items", "0"], "sklearn:breast_cancer"),
    ("tests.bench.bench_feedback", ["--items", "1500", "--steps", "8", "--writers", "fast", "orm"],
     "one step median"),
    ("tests.bench.bench_api", ["--findings", "2000", "--clients", "4", "--seconds", "3",
                               "--repeat", "10"], "clients for"),
    ("tests.bench.bench_audit", ["--people", "400", "--runs", "5"], "held the true recall"),
    ("tests.bench.bench_reviewers", ["--reviewers", "4", "--decisions", "100"], "decisions/s"),
    ("tests.bench.bench_crash", ["--kills", "3", "--people", "200", "--days", "40"], "0 between"),
    ("tests.bench.bench_browser_load", ["--sessions", "1", "--decisions", "6", "--people", "300",
                                  "--days", "40", "--timeout", "90"], "N to the next finding"),
    ("tests.bench.bench_browser_load", ["--sessions", "3", "--decisions", "2", "--people", "300",
                                  "--days", "40", "--timeout", "90"], "server CPU per decision"),
    ("tests.bench.bench_protocol_load", ["--sessions", "3", "--decisions", "3", "--people",
                                   "300", "--days", "40", "--timeout", "60"],
     "server CPU per decision"),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "argv", "marker"), SHORT_RUNS, ids=[m for m, _, _ in SHORT_RUNS]
)
def test_benchmark_runs_short(
    module: str, argv: list[str], marker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = importlib.import_module(module)
    assert bench.main(argv) in (0, None)
    printed = capsys.readouterr().out
    assert marker in printed, printed[-2000:]


@pytest.mark.slow
def test_ingest_benchmark_runs_short_on_the_real_files(capsys: pytest.CaptureFixture[str]) -> None:
    """The issue-13 ingest benchmark, short: a Moodle log and an Open edX folder made of the
    real shared files (read from ../shared; skipped when they are absent)."""
    bench = importlib.import_module("tests.bench.bench_ingest")
    if not (bench.MOODLE_LOG.exists() and bench.OPENEDX_DIR.exists()):
        pytest.skip(f"the shared real files are absent ({bench.SHARED})")
    assert bench.main(["--moodle-events", "200000", "--openedx-mb", "50"]) == 0
    printed = capsys.readouterr().out
    assert "Moodle log, 200,000 events" in printed, printed
    assert "Open edX tracking logs, 50 MiB" in printed, printed
    for stage in ("recognise + convert", "validate", "store", "coverage report", "ingest"):
        line = rf"^  {re.escape(stage)} +[\d.]+ s wall +[\d.]+ s CPU +peak"
        timed = re.findall(line, printed, re.M)
        assert len(timed) == 2, printed
    # The same log converted in chunks (the path of logs of 64 MiB and more).
    assert bench.main(["--moodle-events", "200000", "--chunk-rows", "50000"]) == 0
    printed = capsys.readouterr().out
    assert "Moodle log, 200,000 events" in printed and "in chunks of 50,000 rows" in printed
