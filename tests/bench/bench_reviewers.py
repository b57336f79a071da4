"""Benchmark: many reviewers deciding overlapping findings at once, on SQLite and PostgreSQL.

    .venv/bin/python -m tests.bench.bench_reviewers [--backend sqlite|postgres|both]
        [--reviewers 16] [--decisions 2000] [--findings 200]

Each reviewer is a separate process (spawned, with its own engine and connections) signed in as
its own admin account. Processes rather than threads: SQLite's write lock is a file lock taken
per connection, and separate interpreters also keep the GIL from quietly serialising the Python
half of each decision, so the database sees the contention real browser sessions would cause.

They work the same small set of findings through the services the Review queue page calls:
"Next finding" (``next_finding``), the decision buttons
(``app.learning.after_decision.decide_and_learn`` with the
row version the reviewer just read: confirm, dismiss with a reason, snooze, assign, claim,
resolve, reopen) and "Undo my last decision" (``undo``), until the target number of decisions
has landed. Retraining is switched off (``GAPDESK_RETRAIN_EVERY=0``) so the figure measures
deciding, not model fitting.

Afterwards the database is checked: every accepted decision is in the feedback log exactly once
and in its finding's state; each finding's log replays as an unbroken chain of statuses ending in
the stored status, one event per row version (so no two decisions were made from the same
version); the hash chain verifies; every refused attempt raised ``AlreadyDecided`` with a
message naming who won. Prints decisions per second, refusals by kind and per-decision latency.
Short mode for CI: ``--reviewers 4 --decisions 100``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import statistics
import sys
import tempfile
import time
import types
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.auth.accounts import create_user
from app.core.db import build_engine, session_scope, upgrade
from models.detectors.base import Proposal
from review_queue.decisions import AlreadyDecided, DecisionRefused, DismissReason
from review_queue.feedback_log import verify_chain
from review_queue.permissions import SYSTEM, Actor
from review_queue.propose import propose_findings
from review_queue.tables import FeedbackEvent, Finding, Role
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database

# Who won, as the refusal messages name it (review_queue.decisions._refusal and undo).
_WON_BY = re.compile(r"already ([\w ]+?) by (\S+) at |changed after it, by (\S+) \((\w+) at ")
_STATUS_CHANGING = ("claim", "assign", "confirm", "dismiss", "resolve", "snooze", "reopen", "undo")


@dataclass(frozen=True)
class Attempt:
    """One click of one reviewer and what came of it."""

    reviewer: str
    op: str  # the action tried (claim via "Next finding" is "next")
    finding_id: int | None
    outcome: str  # accepted | repeated | refused | empty | error
    event_id: int | None
    seconds: float
    params: tuple[tuple[str, Any], ...] = ()
    error_type: str = ""
    message: str = ""


# ------------------------------------------------------------------ the reviewers (children)
def _choose(
    rng: random.Random, status: str, finding_id: int, ids: list[int], admins: list[int]
) -> tuple[str, dict[str, Any]]:
    """An action the reviewer may take on a finding they see in ``status``, with its inputs."""
    if status in ("new", "in_review"):
        roll = rng.random()
        if roll < 0.30:
            return "confirm", {}
        if roll < 0.60:
            reason = rng.choice(list(DismissReason))
            extra: dict[str, Any] = {"reason": reason.value}
            if reason is DismissReason.other:
                extra["comment"] = "seen in the bench"
            if reason is DismissReason.duplicate:
                extra["duplicate_of_id"] = rng.choice([i for i in ids if i != finding_id])
            return "dismiss", extra
        if roll < 0.65:
            until = datetime.now(UTC) + timedelta(days=rng.randint(1, 30))
            return "snooze", {"until": until}
        if roll < 0.85:
            return "assign", {"assignee_id": rng.choice(admins)}
        return "claim", {}
    if status == "confirmed":
        roll = rng.random()
        if roll < 0.6:
            return "resolve", {}
        if roll < 0.9:
            return "assign", {"assignee_id": rng.choice(admins)}
        return "snooze", {"until": datetime.now(UTC) + timedelta(days=rng.randint(1, 30))}
    return "reopen", {}  # dismissed or resolved


def _reviewer(
    url: str,
    home: str,
    me: tuple[int, str],
    admins: list[int],
    finding_ids: list[int],
    target: int,
    landed: Any,
    start: Any,
    out: Any,
    seed: int,
) -> None:
    """One reviewer's session: click until ``target`` decisions have landed (all reviewers)."""
    os.environ["GAPDESK_HOME"] = home
    os.environ["GAPDESK_RETRAIN_EVERY"] = "0"
    from app.learning.after_decision import decide_and_learn
    from review_queue.claims import next_finding
    from review_queue.decisions import undo
    from review_queue.findings import get_finding

    engine = build_engine(url)
    actor = Actor(id=me[0], name=me[1], role=Role.admin)
    rng = random.Random(seed)
    attempts: list[Attempt] = []
    mine_last: int | None = None
    idle = 0  # clicks in a row with nothing to decide (everything snoozed or taken)
    start.wait()
    while landed.value < target and idle < 2000:
        idle += 1
        roll = rng.random()
        op: str
        finding_id: int | None = None
        params: dict[str, Any] = {}
        began = time.perf_counter()
        try:
            if roll < 0.08 and mine_last is not None:
                op = "undo"
                with session_scope(engine) as session:
                    done = undo(session=session, actor=actor, event_id=mine_last)
                finding_id = done.finding.id
            elif roll < 0.25:
                op = "next"
                with session_scope(engine) as session:
                    claimed = next_finding(session=session, actor=actor)
                if claimed is None:
                    attempts.append(Attempt(me[1], op, None, "empty", None, 0.0))
                    continue
                done = claimed
                finding_id = done.finding.id
            else:
                finding_id = rng.choice(finding_ids)
                with session_scope(engine) as session:
                    seen = get_finding(session=session, finding_id=finding_id)
                    status, version = seen.status, seen.row_version
                if status == "snoozed":
                    continue  # nothing on the page to click but Undo
                op, params = _choose(rng, status, finding_id, finding_ids, admins)
                began = time.perf_counter()  # the click, not the reading of the page
                done = decide_and_learn(
                    engine=engine,
                    actor=actor,
                    finding_id=finding_id,
                    action=op,
                    expected_row_version=version,
                    **params,
                )
        except (DecisionRefused, PermissionError) as exc:
            attempts.append(
                Attempt(
                    me[1],
                    op,
                    finding_id,
                    "refused",
                    None,
                    time.perf_counter() - began,
                    error_type=type(exc).__name__,
                    message=str(exc),
                )
            )
            continue
        except Exception as exc:  # anything else is a bug the parent reports
            attempts.append(
                Attempt(
                    me[1],
                    op,
                    finding_id,
                    "error",
                    None,
                    time.perf_counter() - began,
                    error_type=type(exc).__name__,
                    message=str(exc)[:500],
                )
            )
            continue
        idle = 0
        seconds = time.perf_counter() - began
        outcome = "repeated" if done.repeated else "accepted"
        if not done.repeated:
            with landed.get_lock():
                landed.value += 1
            mine_last = done.event.id if op != "undo" else None
        attempts.append(
            Attempt(
                me[1],
                op,
                finding_id,
                outcome,
                done.event.id,
                seconds,
                params=tuple(sorted(params.items())),
            )
        )
    engine.dispose()
    out.put(attempts)


# ------------------------------------------------------------------ setting up and checking
@contextmanager
def _database(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'reviewers.db'}"
        return
    url = create_pg_database(PG_ADMIN_URL)
    try:
        yield url
    finally:
        drop_pg_database(PG_ADMIN_URL, url)


def _seed(url: str, reviewers: int, findings: int) -> tuple[list[tuple[int, str]], list[int]]:
    """Admins rev01.. and ``findings`` proposed findings (each with its 'propose' log row)."""
    engine = build_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        people = [
            create_user(
                session=session,
                actor=SYSTEM,
                name=f"rev{i:02d}",
                email=f"rev{i:02d}@example.org",
                role="admin",
                password=None,
            )
            for i in range(1, reviewers + 1)
        ]
        session.flush()
        admins = [(u.id or 0, u.name) for u in people]
        rng = random.Random(11)
        propose_findings(
            session=session,
            proposals=[
                Proposal(
                    category="compliance_overdue",
                    entity_key=f"enrollment=E{n}",
                    title=f"Enrolment E{n} is past its due date",
                    score=rng.random(),
                    severity=rng.choice(["low", "medium", "high", "critical"]),
                    detector="compliance_overdue",
                    detector_version="1",
                )
                for n in range(findings)
            ],
        )
    with Session(engine) as session:
        ids = [f.id or 0 for f in session.exec(select(Finding).order_by(col(Finding.id)))]
    engine.dispose()
    return admins, ids


def _run(
    url: str, home: str, admins: list[tuple[int, str]], ids: list[int], target: int
) -> tuple[list[Attempt], float]:
    ctx = mp.get_context("spawn")
    landed = ctx.Value("i", 0)
    start = ctx.Barrier(len(admins) + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=_reviewer,
            args=(url, home, me, [a for a, _ in admins], ids, target, landed, start, out, 100 + i),
        )
        for i, me in enumerate(admins)
    ]
    # A spawned child re-runs the parent's __main__ script first. Inside pytest that may be a
    # page script a Streamlit AppTest left in sys.modules["__main__"] (Streamlit runs scripts as
    # __main__ and does not put the old one back): start the children with a blank __main__.
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        for p in procs:
            p.start()
    finally:
        sys.modules["__main__"] = main
    start.wait(timeout=300)  # every reviewer has imported and connected
    began = time.perf_counter()
    attempts: list[Attempt] = []
    for _ in procs:
        attempts.extend(out.get(timeout=1800))
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0, f"reviewer process {p.pid} exited with {p.exitcode}"
    return attempts, elapsed


def check(url: str, attempts: list[Attempt], admins: list[tuple[int, str]]) -> Counter[str]:
    """Assert that nothing was lost, duplicated or contradictory; return refusals by kind."""
    errors = [a for a in attempts if a.outcome == "error"]
    assert not errors, "unexpected errors: " + "; ".join(
        f"{a.reviewer} {a.op} #{a.finding_id}: {a.error_type}: {a.message}" for a in errors[:5]
    )
    names = {n for _, n in admins} | {SYSTEM.name}
    refusals: Counter[str] = Counter()
    for a in attempts:
        if a.outcome != "refused":
            continue
        won = _WON_BY.search(a.message)
        assert a.error_type == AlreadyDecided.__name__ and won, (
            f"{a.reviewer}'s {a.op} on #{a.finding_id} was refused without naming who won: "
            f"{a.error_type}: {a.message}"
        )
        who = won.group(2) or won.group(3)
        assert who in names, f"refusal names {who!r}, who is no reviewer: {a.message}"
        what = f"already {won.group(1)}" if won.group(1) else f"{won.group(4)} came after it"
        refusals[f"{a.op} refused: {what}"] += 1
    accepted = [a for a in attempts if a.outcome == "accepted"]
    accepted_ids = [a.event_id or 0 for a in accepted]
    assert len(set(accepted_ids)) == len(accepted_ids), "two accepted clicks share one log row"
    by_event = {a.event_id: a for a in accepted}
    engine = build_engine(url)
    with Session(engine) as session:
        chain = verify_chain(session=session)
        assert chain.ok, f"feedback log broken at #{chain.first_broken_id}: {chain.problem}"
        total = session.exec(select(func.count()).select_from(FeedbackEvent)).one()
        assert chain.rows == total
        events = session.exec(select(FeedbackEvent).order_by(col(FeedbackEvent.id))).all()
        findings = {f.id: f for f in session.exec(select(Finding))}
    engine.dispose()
    by_reviewers = [e.id or 0 for e in events if e.actor != SYSTEM.name]
    assert sorted(by_reviewers) == sorted(accepted_ids), (
        f"{len(set(by_reviewers) - set(accepted_ids))} logged decisions nobody was told of, "
        f"{len(set(accepted_ids) - set(by_reviewers))} accepted decisions missing from the log"
    )
    for a in attempts:
        if a.outcome == "repeated":  # a double-click must match what was recorded first
            first = next(e for e in events if e.id == a.event_id)
            assert first.actor == a.reviewer and first.action == a.op.replace("next", "claim"), a
    per_finding: dict[int, list[FeedbackEvent]] = defaultdict(list)
    for e in events:
        per_finding[e.finding_id].append(e)
    for fid, finding in findings.items():
        history = per_finding[fid or 0]
        assert history[0].action == "propose", f"#{fid}'s log does not start with its proposal"
        versions: set[int] = set()
        status = history[0].to_status
        for version, e in enumerate(history[1:], start=1):
            assert e.action in _STATUS_CHANGING, e
            # Each decision starts where the previous one left the finding: no two made from one
            # version, none contradicting another.
            assert e.from_status == status, (
                f"#{fid}: event #{e.id} ({e.action} by {e.actor}) starts from {e.from_status}, "
                f"but the finding was {status}"
            )
            assert version not in versions
            versions.add(version)
            status = e.to_status
        assert finding.status == status, f"#{fid} is {finding.status}; its log says {status}"
        assert finding.row_version == len(history), (
            f"#{fid} is at version {finding.row_version} after {len(history) - 1} changes"
        )
        last = by_event.get(history[-1].id)
        if last is not None:  # the finding shows the newest accepted decision's inputs
            params = dict(last.params)
            if last.op == "assign":
                assert finding.assignee_id == params["assignee_id"], (fid, last)
            if last.op in ("claim", "next"):
                assert finding.assignee_id == next(i for i, n in admins if n == last.reviewer)
            if last.op == "snooze":
                assert finding.snoozed_until == params["until"], (fid, last)
            if last.op == "dismiss":
                assert finding.dismissed_score is not None
                assert finding.duplicate_of_id == params.get("duplicate_of_id"), (fid, last)
    return refusals


def _ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] * 1000


def bench(backend: str, reviewers: int, decisions: int, findings: int) -> None:
    """Run one backend and print its figures."""
    with tempfile.TemporaryDirectory() as tmp, _database(backend, Path(tmp)) as url:
        admins, ids = _seed(url, reviewers, findings)
        attempts, elapsed = _run(url, str(Path(tmp) / "home"), admins, ids, decisions)
        refusals = check(url, attempts, admins)
    landed = sum(a.outcome == "accepted" for a in attempts)
    assert landed >= decisions, f"the reviewers ran out of findings to decide after {landed}"
    accepted = [a for a in attempts if a.outcome == "accepted"]
    ops = Counter(a.op for a in accepted)
    lat = [a.seconds for a in accepted]
    refused = [a.seconds for a in attempts if a.outcome == "refused"]
    repeated = sum(a.outcome == "repeated" for a in attempts)
    print(
        f"{backend}: {reviewers} reviewers, {len(ids)} findings: {len(accepted)} decisions in "
        f"{elapsed:.1f} s = {len(accepted) / elapsed:.1f} decisions/s; "
        f"latency p50 {_ms(lat, 0.5):.1f} ms, p95 {_ms(lat, 0.95):.1f} ms"
    )
    print(f"  decisions: {', '.join(f'{op} {n}' for op, n in ops.most_common())}")
    print(
        f"  refusals: {sum(refusals.values())} (p50 {_ms(refused, 0.5):.1f} ms), every one "
        f"AlreadyDecided naming who won; {repeated} double-clicks answered with the first decision"
    )
    for kind, n in refusals.most_common(8):
        print(f"    {n:>5}  {kind}")
    if len(refusals) > 8:
        rest = refusals.most_common()[8:]
        print(f"    {sum(n for _, n in rest):>5}  in {len(rest)} other kinds")
    for op in ("confirm", "undo"):
        told = next((a for a in attempts if a.outcome == "refused" and a.op == op), None)
        if told is not None:
            print(f"  e.g. {told.reviewer}, {op}: {told.message}")
    print("  checked: every decision in the log once and in its finding; no two from one version;")
    print("  chain verified")


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse arguments, run each backend, print figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--reviewers", type=int, default=16)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument(
        "--findings",
        type=int,
        default=None,
        help="Findings they share (default: decisions / 10, at least 20).",
    )
    args = parser.parse_args(argv)
    if args.reviewers < 1 or args.decisions < 1:
        parser.error("--reviewers and --decisions must be at least 1")
    findings = args.findings or max(20, args.decisions // 10)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        bench(backend, args.reviewers, args.decisions, findings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
