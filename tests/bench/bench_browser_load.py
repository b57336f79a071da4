"""Many reviewers at once in real browsers: N Chromium contexts work the demo queue together.

    .venv/bin/python -m tests.bench.bench_browser_load [--sessions 20] [--decisions 10]
        [--people 2000] [--days 120] [--database sqlite|postgres]

One ``streamlit run`` server and one Chromium (Debian's, many browser contexts) on a demo
organisation that was ingested and run through detection. N admin accounts are made through the
account service; every context signs in with its own, opens the Review queue from the sidebar
and, all at the same time (asyncio Playwright), repeats M times: take the next finding (the
"Next finding" button or the N key: an atomic claim), then confirm it, dismiss it with a reason
or snooze it (by click or by its Y/S shortcut; a dismissal is D, then the reason's key 1-5, timed
from the reason). The latency is measured inside the page, from the pointerdown/keydown of the
decision to the moment the page's confirmation ("#id: confirm.") is in the DOM, and from N (or the
click on Next) to the claimed finding's heading; each is printed by key press and by click.
``--sessions 1`` gives the figures for one person alone.

Also printed: the server's CPU seconds per decision over the working phase (user + system time
of the ``streamlit run`` process, each decision with its N and any reason prompt, learning
threads included), which does not depend on what else shares the machine, with the 1-minute
load average before and after; and the first render of the queue after sign-in (the click on
"Review queue" in the sidebar to its list on screen and the run ended).

Errors: a Streamlit exception box, an error message other than a refusal, a page error, a
console error from the app's own origin, a lost websocket, a step that times out. A decision the
UI refuses because another reviewer took the finding first is a refusal, counted apart. After
the run the database is checked: every decision confirmed on screen is in the feedback log
exactly once (with its reason), no reviewer decision is there that the screen did not confirm,
and the hash chain verifies. Errors or a failed check fail the run (an AssertionError).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlmodel import col, select

from app.auth.accounts import create_user
from app.core.db import open_engine, session_scope
from app.core.settings import get_settings
from app.demo.organisation import generate_demo_org
from app.detection.run import run_detection
from app.sources.store import ingest
from review_queue.permissions import SYSTEM
from review_queue.states import Status
from review_queue.tables import Finding, Role
from tests.bench.browser_load_checks import check_database, server_tracebacks
from tests.bench.browser_load_session import ACTIONS, PASSWORD, run_sessions
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database
from tests.helpers.browser import CHROMIUM, server_cpu_seconds, streamlit_server


@contextmanager
def _gapdesk_home(home: Path) -> Iterator[None]:
    """Point this process's settings at ``home`` (ingest stores snapshots there)."""
    before = os.environ.get("GAPDESK_HOME")
    os.environ["GAPDESK_HOME"] = str(home)
    get_settings.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("GAPDESK_HOME", None)
        else:
            os.environ["GAPDESK_HOME"] = before
        get_settings.cache_clear()


def _prepare(url: str, folder: Path, args: argparse.Namespace) -> tuple[list[str], int]:
    """Demo organisation ingested and detected, plus the reviewers; returns their names and how
    many findings wait in the queue."""
    generate_demo_org(folder, seed=args.seed, people=args.people, days=args.days)
    engine = open_engine(url)
    try:
        outcome = ingest(engine=engine, actor=SYSTEM, path=folder)
        run_detection(engine=engine, actor=SYSTEM, snapshot_id=outcome.record.id)
        names = [f"reviewer{i:02d}" for i in range(args.sessions)]
        with session_scope(engine) as session:
            for name in names:
                create_user(
                    session=session, actor=SYSTEM, name=name, email=f"{name}@load.example.org",
                    role=Role.admin, password=PASSWORD,
                )  # fmt: skip
            waiting = len(
                session.exec(select(Finding.id).where(col(Finding.status) == Status.new)).all()
            )
    finally:
        engine.dispose()
    return names, waiting


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ms" if values else "-"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the figures; assert no errors and a consistent log."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_browser_load")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--decisions", type=int, default=10, help="per session")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per browser step")
    parser.add_argument("--shots", help="folder for a screenshot of each session that fails")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.decisions < 1:
        parser.error("--sessions and --decisions must be at least 1")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is not installed (scripts/setup.sh --dev installs it)")
    with tempfile.TemporaryDirectory(prefix="gapdesk-bench-browser-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        url = (
            f"sqlite:///{home / 'gapdesk.db'}"
            if args.database == "sqlite"
            else create_pg_database(PG_ADMIN_URL)
        )
        try:
            return _run(url, home, args)
        finally:
            if args.database == "postgres":
                drop_pg_database(PG_ADMIN_URL, url)


def _run(url: str, home: Path, args: argparse.Namespace) -> int:
    began = time.perf_counter()
    with _gapdesk_home(home):
        names, waiting = _prepare(url, home / "demo-org", args)
    needed = args.sessions * args.decisions
    if waiting < needed:
        raise SystemExit(
            f"the demo organisation ({args.people} people) has {waiting} findings waiting; "
            f"{args.sessions} sessions x {args.decisions} decisions need {needed}: "
            "use more --people"
        )
    setup_s = time.perf_counter() - began
    print(
        f"demo organisation (seed {args.seed}, {args.people} people, {args.days} days) on "
        f"{args.database}: {waiting} findings waiting; set up in {setup_s:.1f} s"
    )
    ignored: list[str] = []
    with streamlit_server({"GAPDESK_HOME": str(home), "GAPDESK_DATABASE_URL": url}) as base:
        load = os.getloadavg()
        logs, wall, cpu_s = asyncio.run(
            run_sessions(base, names, args, ignored, lambda: server_cpu_seconds(base))
        )
        load = (load[0], os.getloadavg()[0])  # 1-minute load average before and after
    problems, log_rows, models = check_database(url, logs)
    tracebacks = server_tracebacks(home)
    if args.shots and tracebacks:
        for path in home.glob("streamlit-*.log"):
            shutil.copy(path, Path(args.shots) / path.name)

    decided = [d for log in logs for d in log.decisions]
    ok = [d.latency_ms for d in decided if d.outcome in ("ok", "repeat")]
    repeats = sum(1 for d in decided if d.outcome == "repeat")
    refusals = [d for d in decided if d.outcome == "refused"]
    errors = [e for log in logs for e in log.errors]
    per_action = {a: sum(1 for d in decided if d.outcome in ("ok", "repeat") and d.action == a)
                  for a in ACTIONS}  # fmt: skip
    sign_ins = [log.sign_in_s for log in logs if log.sign_in_s]
    print(
        f"sessions {args.sessions} · decisions {len(ok)} confirmed on screen of "
        f"{needed} planned ({', '.join(f'{n} {a}' for a, n in per_action.items())}) · "
        f"errors {len(errors)} · refusals {len(refusals)}"
    )
    if repeats:
        print(f"{repeats} of them were answered 'already recorded' (a submission that reached "
              "the server twice; one decision is logged)")  # fmt: skip
    if ok:
        print(
            f"decision click to confirmation on screen: p50 {statistics.median(ok):.0f} ms · "
            f"p95 {_percentile(ok, 0.95):.0f} ms · max {max(ok):.0f} ms · "
            f"{len(ok) / wall:.2f} decisions/s over {wall:.1f} s of work"
        )
    for how, key in (("key press", True), ("click", False)):
        mine = [d.latency_ms for d in decided if d.outcome in ("ok", "repeat") and d.by_key == key]
        nexts = [ms for log in logs for k, ms in log.next_ms if k == key and ms == ms]
        if mine or nexts:
            print(
                f"by {how}: decision to its confirmation on screen p50 "
                f"{_median(mine)} ({len(mine)}) · N to the next finding on screen p50 "
                f"{_median(nexts)} ({len(nexts)})"
            )
    if ok:
        print(
            f"server CPU per decision: {cpu_s / len(ok) * 1000:.0f} ms ({cpu_s:.1f} CPU s over "
            f"{len(ok)} decisions, each with its N and any reason prompt; {cpu_s / wall:.2f} "
            f"cores busy of {os.cpu_count()}; 1-min load average {load[0]:.1f} before, "
            f"{load[1]:.1f} after)"
        )
    opens = [log.queue_open_s for log in logs if log.queue_open_s]
    if opens:
        print(f"first render of the queue after sign-in: p50 {statistics.median(opens):.2f} s, "
              f"max {max(opens):.2f} s")  # fmt: skip
    if sign_ins:
        print(f"sign-in to the home page: p50 {statistics.median(sign_ins):.1f} s, "
              f"max {max(sign_ins):.1f} s")  # fmt: skip
    print(
        f"feedback log: {log_rows} rows, chain {'verifies' if not problems else 'checked'}; "
        f"{models} model versions trained by the app during the run"
    )
    for d in refusals:
        print(f"refusal: {d.reviewer}, #{d.finding_id} {d.action}: {d.detail}")
    if ignored:
        print(f"ignored {len(ignored)} console errors for resources outside the app "
              f"(offline machine), e.g. {ignored[0]}")  # fmt: skip
    for e in errors[:20]:
        print(f"error: {e}")
    for p in problems[:20]:
        print(f"database: {p}")
    for t in tracebacks[:10]:
        print(f"server traceback: {t}")
    assert not errors, f"{len(errors)} errors in the browser sessions, first: {errors[0]}"
    assert not problems, f"{len(problems)} database problems, first: {problems[0]}"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
