"""Many reviewers at once without browsers: virtual reviewers speak Streamlit's own websocket
protocol to one ``streamlit run`` server, so it is loaded as N browsers would load it while the
machine's cores are not spent on N renderers.

    .venv/bin/python -m tests.bench.bench_protocol_load [--sessions 20] [--decisions 10]
        [--people 2000] [--days 120] [--database sqlite|postgres] [--think SECONDS]
        [--profile FILE]

The site is bench_browser_load's (tests/bench/load_site.py): a demo organisation ingested and
run through detection, one admin account per reviewer, the app on a free loopback port, on
SQLite or a throwaway PostgreSQL database. Each virtual reviewer opens a websocket as a page
does (tests/bench/protocol_client.py), signs in through the form (pressing again while the
server is busy with other sign-ins), redeems the session cookie's one-time ticket as the page's
script does, opens the Review queue from the navigation and, all at the same time, repeats M
times: N (the Next button the key presses: an atomic claim), then, after ``--think`` seconds of
reading, confirm, dismiss (D, then the reason's key 1-5, timed from the reason) or snooze.
Widgets are found in the deltas the server sends (by label and the finding's key), never by a
hard-coded id.

Printed: p50/p95 per action (from sending the press to the arrival of the confirmation's delta,
and from sending N to the arrival of the claimed finding's heading), the server's CPU seconds
per decision over the working phase (user + system of the server process, each decision with
its N and any reason prompt, learning threads included), the load average before and after.
Afterwards the database is checked as after the browser benchmark: every confirmed decision is
in the feedback log exactly once (with its reason), no reviewer decision is there that was not
confirmed, and the chain verifies. ``--profile FILE`` records the server with py-spy during the
working phase (raw collapsed stacks) and prints where its time went.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlmodel import col, func, select

from app.core.db import open_engine, session_scope
from review_queue.tables import FeedbackEvent
from tests.bench.browser_load_checks import check_database, server_tracebacks
from tests.bench.load_site import (
    ACTIONS,
    Site,
    add_site_arguments,
    check_site_arguments,
    demo_site,
    fail_on_problems,
    print_figures,
    serve,
)
from tests.bench.protocol_load_session import run_sessions
from tests.helpers.browser import SERVER_PIDS, server_cpu_seconds

PY_SPY = Path(sys.executable).with_name("py-spy")
OWN_CODE = ("app/", "pages/", "review_queue/", "models/")  # py-spy names them from the repo


def _reviewer_rows(site: Site) -> int:
    """The feedback log's rows of the reviewers' decisions."""
    engine = open_engine(site.url, migrate=False)
    try:
        with session_scope(engine) as session:
            return int(
                session.exec(
                    select(func.count()).where(
                        col(FeedbackEvent.actor).in_(site.names),
                        col(FeedbackEvent.action).in_(ACTIONS),
                    )
                ).one()
            )
    finally:
        engine.dispose()


def _where_time_went(raw: Path, top: int = 12) -> list[str]:
    """From py-spy's collapsed stacks: the share of samples under each of the app's own
    functions (inclusive), the most first."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        seen = set()
        for frame in stack.split(";"):
            # py-spy frames read "function (path/file.py:line)"; keep the app's own code
            name, _, where = frame.partition(" (")
            where = where.rsplit(":", 1)[0]
            if not where.startswith(OWN_CODE):
                continue
            label = f"{name} ({where})"
            if label not in seen:
                seen.add(label)
                inclusive[label] += n
    if not total:
        return []
    return [f"{n / total:5.1%}  {label}" for label, n in inclusive.most_common(top)]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the figures; assert no errors and a consistent log."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_protocol_load")
    add_site_arguments(parser)
    parser.add_argument("--profile", help="record the server with py-spy into this file")
    args = parser.parse_args(argv)
    check_site_arguments(parser, args)
    if args.profile and not PY_SPY.exists():
        parser.error(f"--profile needs py-spy beside the interpreter ({PY_SPY})")
    with demo_site(args, "gapdesk-bench-protocol-") as site:
        with serve(site) as base:
            spies: list[subprocess.Popen[bytes]] = []

            def profile() -> None:  # the working phase only, not the sign-ins
                if args.profile:
                    spies.append(subprocess.Popen(
                        [str(PY_SPY), "record", "--pid", str(SERVER_PIDS[base]), "--format",
                         "raw", "--rate", "50", "--output", args.profile, "--nonblocking"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    ))  # fmt: skip

            before = os.getloadavg()[0]
            logs, wall, cpu_s, client_s = asyncio.run(
                run_sessions(base, site.names, args, lambda: server_cpu_seconds(base), profile)
            )
            load = (before, os.getloadavg()[0])  # 1-minute load average before and after
            for spy in spies:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
        problems, log_rows, models = check_database(site.url, logs)
        rows = _reviewer_rows(site)
        tracebacks = server_tracebacks(site.home)
        if tracebacks and args.profile:
            for path in site.home.glob("streamlit-*.log"):
                shutil.copy(path, Path(args.profile).with_name(path.name))
    print_figures(logs, args, wall=wall, cpu_s=cpu_s, load=load,
                  how=("press (key or click: the same message)", "click"))  # fmt: skip
    print(f"the virtual reviewers' own CPU (this process): {client_s:.1f} s over {wall:.1f} s")
    confirmed = sum(1 for log in logs for d in log.decisions if d.outcome in ("ok", "repeat"))
    print(
        f"feedback log: {rows} rows of the reviewers' decisions for {confirmed} confirmed, "
        f"{log_rows} rows in all, chain {'verifies' if not problems else 'checked'}; "
        f"{models} model versions trained by the app during the run"
    )
    if args.profile:
        print(f"where the server's time went (py-spy, {args.profile}; inclusive share of samples):")
        for line in _where_time_went(Path(args.profile)):
            print(f"  {line}")
    errors = [e for log in logs for e in log.errors]
    fail_on_problems(errors, problems, tracebacks, "the sessions")
    assert rows == confirmed, f"{rows} decisions in the log, {confirmed} confirmed"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
