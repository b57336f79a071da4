"""What the two many-reviewers benchmarks share (bench_browser_load drives Chromium,
bench_protocol_load speaks Streamlit's websocket protocol): their arguments, the demo site
(organisation ingested and detected, one admin account per reviewer, a ``streamlit run`` on a
free loopback port, SQLite or a throwaway PostgreSQL database), each reviewer's plan, what a
session saw, and the figures printed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
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
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database
from tests.helpers.browser import streamlit_server

PASSWORD = "load-test-password"  # throwaway accounts in a throwaway database
ACTIONS = ("confirm", "dismiss", "snooze")
# The key that picks each reason in the page's reason prompt (pages/queue.py: 1-5 in the order
# of DISMISS_REASON_HELP).
REASONS = {"expected": "3", "data_error": "2", "other": "5"}


def add_site_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments both benchmarks take."""
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--decisions", type=int, default=10, help="per session")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per step")
    parser.add_argument(
        "--think", type=float, default=0.0, metavar="SECONDS",
        help="a reviewer reads the finding this long before deciding (0: decide at once, the "
        "worst case for the server)",
    )  # fmt: skip


def check_site_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse sizes that make no run."""
    if args.sessions < 1 or args.decisions < 1:
        parser.error("--sessions and --decisions must be at least 1")
    if args.think < 0:
        parser.error("--think must not be negative")


def plan(index: int, step: int) -> tuple[str, str | None, bool]:
    """Reviewer ``index``'s decision ``step``: the action, a dismissal's reason, and whether it
    is made by its shortcut key (else by a click)."""
    action = ACTIONS[(index + step) % len(ACTIONS)]
    reason = list(REASONS)[(index + step) % len(REASONS)] if action == "dismiss" else None
    return action, reason, (index + step) % 2 == 1


@dataclass
class Decided:
    """One decision as the reviewer's screen (or protocol client) saw it."""

    reviewer: str
    finding_id: int
    action: str
    reason: str | None
    outcome: str  # ok | repeat | refused | error
    latency_ms: float
    detail: str = ""
    by_key: bool = False  # the decision's shortcut key, not a click


@dataclass
class SessionLog:
    """What one reviewer's session did and what went wrong in it."""

    reviewer: str
    decisions: list[Decided] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # (by key, milliseconds) from N (or the click on Next) to the claimed finding on screen
    next_ms: list[tuple[bool, float]] = field(default_factory=list)
    sign_in_s: float = 0.0
    # from the click on "Review queue" in the sidebar to the queue's list on screen, run ended
    queue_open_s: float = 0.0


@dataclass(frozen=True)
class Site:
    """A demo site: its home and database, the reviewers, the findings waiting."""

    home: Path
    url: str
    names: list[str]
    waiting: int


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


@contextmanager
def demo_site(args: argparse.Namespace, prefix: str) -> Iterator[Site]:
    """The demo organisation on SQLite (or a throwaway PostgreSQL database) and its reviewers;
    everything is removed afterwards. ``serve(site)`` runs the app on it."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        url = (
            f"sqlite:///{home / 'gapdesk.db'}"
            if args.database == "sqlite"
            else create_pg_database(PG_ADMIN_URL)
        )
        try:
            began = time.perf_counter()
            with _gapdesk_home(home):
                names, waiting = _prepare(url, home / "demo-org", args)
            needed = args.sessions * args.decisions
            if waiting < needed:
                raise SystemExit(
                    f"the demo organisation ({args.people} people) has {waiting} findings "
                    f"waiting; {args.sessions} sessions x {args.decisions} decisions need "
                    f"{needed}: use more --people"
                )
            print(
                f"demo organisation (seed {args.seed}, {args.people} people, {args.days} days) "
                f"on {args.database}: {waiting} findings waiting; set up in "
                f"{time.perf_counter() - began:.1f} s"
            )
            yield Site(home, url, names, waiting)
        finally:
            if args.database == "postgres":
                drop_pg_database(PG_ADMIN_URL, url)


@contextmanager
def serve(site: Site) -> Iterator[str]:
    """A ``streamlit run`` of the app on the site, on a free loopback port; yields its address
    (``server_cpu_seconds(base)`` reads its CPU time)."""
    env = {"GAPDESK_HOME": str(site.home), "GAPDESK_DATABASE_URL": site.url}
    with streamlit_server(env) as base:
        yield base


def median_ms(values: list[float]) -> str:
    """The median in milliseconds, or a dash when there is none."""
    return f"{statistics.median(values):.0f} ms" if values else "-"


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def print_figures(
    logs: list[SessionLog], args: argparse.Namespace, *, wall: float, cpu_s: float,
    load: tuple[float, float], how: tuple[str, str] = ("key press", "click"),
) -> None:  # fmt: skip
    """The latency per action (p50, p95), the server's CPU per decision and the load average,
    as both benchmarks print them; ``how`` names a decision by key and by click."""
    decided = [d for log in logs for d in log.decisions]
    ok = [d.latency_ms for d in decided if d.outcome in ("ok", "repeat")]
    repeats = sum(1 for d in decided if d.outcome == "repeat")
    refusals = [d for d in decided if d.outcome == "refused"]
    errors = [e for log in logs for e in log.errors]
    per_action = {a: sum(1 for d in decided if d.outcome in ("ok", "repeat") and d.action == a)
                  for a in ACTIONS}  # fmt: skip
    print(
        f"sessions {args.sessions} · think {args.think:g} s · decisions {len(ok)} confirmed of "
        f"{args.sessions * args.decisions} planned "
        f"({', '.join(f'{n} {a}' for a, n in per_action.items())}) · errors {len(errors)} · "
        f"refusals {len(refusals)}"
    )
    if repeats:
        print(f"{repeats} of them were answered 'already recorded' (a submission that reached "
              "the server twice; one decision is logged)")  # fmt: skip
    nexts_all = [ms for log in logs for _, ms in log.next_ms if ms == ms]
    if ok:
        print(
            f"decision to its confirmation: p50 {statistics.median(ok):.0f} ms · "
            f"p95 {percentile(ok, 0.95):.0f} ms · max {max(ok):.0f} ms · "
            f"{len(ok) / wall:.2f} decisions/s over {wall:.1f} s of work"
        )
    if nexts_all:
        print(
            f"N to the next finding: p50 {statistics.median(nexts_all):.0f} ms · "
            f"p95 {percentile(nexts_all, 0.95):.0f} ms · max {max(nexts_all):.0f} ms"
        )
    for name, key in zip(how, (True, False), strict=True):
        mine = [d.latency_ms for d in decided if d.outcome in ("ok", "repeat") and d.by_key == key]
        nexts = [ms for log in logs for k, ms in log.next_ms if k == key and ms == ms]
        if mine or nexts:
            print(
                f"by {name}: decision to its confirmation p50 {median_ms(mine)} ({len(mine)}) · "
                f"N to the next finding p50 {median_ms(nexts)} ({len(nexts)})"
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
    sign_ins = [log.sign_in_s for log in logs if log.sign_in_s]
    if sign_ins:
        print(f"sign-in to the home page: p50 {statistics.median(sign_ins):.1f} s, "
              f"max {max(sign_ins):.1f} s")  # fmt: skip
    for d in refusals:
        print(f"refusal: {d.reviewer}, #{d.finding_id} {d.action}: {d.detail}")


def fail_on_problems(
    errors: Sequence[str], problems: Sequence[str], tracebacks: Sequence[str], where: str
) -> None:
    """Print the sessions' errors, the database's problems and the server's tracebacks (the
    first few of each), then fail if the sessions or the database had any."""
    for e in errors[:20]:
        print(f"error: {e}")
    for p in problems[:20]:
        print(f"database: {p}")
    for t in tracebacks[:10]:
        print(f"server traceback: {t}")
    assert not errors, f"{len(errors)} errors in {where}, first: {errors[0]}"
    assert not problems, f"{len(problems)} database problems, first: {problems[0]}"
