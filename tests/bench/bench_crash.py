"""Benchmark: `gapdesk ingest` and `gapdesk detect` killed with SIGKILL at random moments.

    .venv/bin/python -m tests.bench.bench_crash [--backend sqlite|postgres|both] [--kills 50]
        [--people 1500] [--days 90]

Two demo organisations are generated (the second two weeks later). The baseline before
``ingest`` holds the first one ingested, detected and partly reviewed (confirmed, resolved,
dismissed, snoozed, assigned); the baseline before ``detect`` is that plus the second one
ingested. Each command is first run to completion from its baseline, which measures its normal
duration and gives the state "after". Then, until ``--kills`` kills per command: the database
and ``$GAPDESK_HOME`` are put back to the baseline, the command starts as a real subprocess
(GAPDESK_HOME and GAPDESK_DATABASE_URL set), and after a random delay drawn evenly over its
normal duration (the median of its latest unkilled runs, which follows the machine's load) it
is sent SIGKILL. The state left behind must equal the state before or the state after, never
anything between: row counts and a content digest of every table (findings, detection runs,
snapshots, the feedback log ...; run times and the log's time stamps and hashes aside, which
differ between any two runs) and of the snapshot files the database references.
``PRAGMA integrity_check`` (SQLite) and the feedback log's chain must pass, and the next run,
not killed, must succeed and reach the state after. Snapshot folders no row references are
listed by kind. Short mode for CI: ``--kills 3 --people 200 --days 40``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from app.auth.accounts import create_user
from app.core.db import build_engine, open_engine
from app.core.schema import metadata
from app.core.settings import get_settings
from app.demo.organisation import DEFAULT_AS_OF, generate_demo_org
from app.detection.run import run_detection
from app.sources.store import ingest
from review_queue.decisions import decide
from review_queue.feedback_log import verify_chain
from review_queue.permissions import SYSTEM, Actor
from review_queue.tables import Finding
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database

GAPDESK = Path(sys.executable).with_name("gapdesk")
# Columns that differ between two complete runs from the same state: times, and the log's hashes
# (they cover its time stamps; the chain is verified on its own).
VOLATILE = {
    "findings": {"first_seen_at", "last_seen_at"},
    "detection_runs": {"started_at", "finished_at"},
    "snapshots": {"ingested_at"},
    "feedback_log": {"at", "prev_hash", "row_hash"},
    "feedback_log_head": {"last_hash"},
    "users": {"created_at"},
    # The trend roll-ups carry times derived from the log's and the findings' (and when built).
    "trend_first_moves": {"at", "minutes", "day"},
    "trend_rollup_state": {"built_at"},
}
VOLATILE_RUN_STATS = {"seconds", "duration_s", "cpu_seconds"}


@dataclass(frozen=True)
class State:
    """What a run can change: row counts, a digest of the rows and of the referenced files."""

    counts: tuple[tuple[str, int], ...]
    digest: str
    # Each table's own digest (not compared: it says which table differs).
    tables: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def describe(self, other: State | None = None) -> str:
        """The row counts, for messages; beside ``other``, also the tables whose rows differ."""
        text = ", ".join(f"{t} {n}" for t, n in self.counts if n)
        if other is not None:
            theirs = dict(other.tables)
            differ = [t for t, d in self.tables if theirs.get(t) != d]
            text += f" (rows differ in: {', '.join(differ) or 'the snapshot files'})"
        return text


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class Place:
    """One backend's working database plus GAPDESK_HOME, with saved baselines to go back to."""

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self.home = folder / "home"
        self.baselines: dict[str, Path | str] = {}
        if backend == "sqlite":
            self.db_file = folder / "db" / "gapdesk.db"
            self.url = f"sqlite:///{self.db_file}"
        else:
            self.url = create_pg_database(PG_ADMIN_URL)
            self.name = self.url.rsplit("/", 1)[1]

    def env(self) -> dict[str, str]:
        """The environment of a `gapdesk` subprocess working on this place."""
        # One installation, one integrity key: the subprocess chains the log with the key this
        # process verifies it with (GAPDESK_LOG_KEY if set, else the home's key file).
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GAPDESK_") or k == "GAPDESK_LOG_KEY"
        }
        return {**env, "GAPDESK_HOME": str(self.home), "GAPDESK_DATABASE_URL": self.url}

    def engine(self) -> Engine:
        """A fresh engine on the working database (the caller disposes of it)."""
        return build_engine(self.url)

    def save(self, label: str) -> None:
        """Keep the current database and home as baseline ``label``."""
        shutil.copytree(self.home, self.folder / f"home.{label}")
        if self.backend == "sqlite":
            shutil.copytree(self.db_file.parent, self.folder / f"db.{label}")
        else:
            template = f"{self.name}_{label}"
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{self.name}"')
            self.baselines[label] = template

    def restore(self, label: str) -> None:
        """Put the database and home back to baseline ``label``."""
        shutil.rmtree(self.home)
        shutil.copytree(self.folder / f"home.{label}", self.home)
        if self.backend == "sqlite":
            shutil.rmtree(self.db_file.parent)
            shutil.copytree(self.folder / f"db.{label}", self.db_file.parent)
            return
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.baselines[label]}"')

    def drop(self) -> None:
        """Drop the PostgreSQL databases this place made."""
        if self.backend == "postgres":
            drop_pg_database(PG_ADMIN_URL, self.url)
            for template in self.baselines.values():
                drop_pg_database(PG_ADMIN_URL, f"x/{template}")

    def state(self) -> tuple[State, Counter[str]]:
        """The state of the database and referenced files; unreferenced snapshot folders by kind."""
        engine = self.engine()
        digest = hashlib.sha256()
        counts = []
        per_table: list[tuple[str, str]] = []
        try:
            with Session(engine) as session:
                if self.backend == "sqlite":
                    check = session.execute(text("PRAGMA integrity_check")).all()
                    assert [tuple(r) for r in check] == [("ok",)], f"integrity_check: {check}"
                chain = verify_chain(session=session)
                assert chain.ok, f"feedback log broken at #{chain.first_broken_id}: {chain.problem}"
                snapshot_ids = []
                for table in metadata.sorted_tables:
                    skip = VOLATILE.get(table.name, set())
                    columns = [c for c in table.columns if c.name not in skip]
                    rows = session.execute(
                        select(*columns).order_by(*table.primary_key.columns)
                    ).all()
                    counts.append((table.name, len(rows)))
                    own = hashlib.sha256()
                    for row in rows:
                        values = dict(zip([c.name for c in columns], row, strict=True))
                        if table.name == "detection_runs":
                            values["stats"] = {
                                k: v
                                for k, v in (values["stats"] or {}).items()
                                if k not in VOLATILE_RUN_STATS
                            }
                        if table.name == "snapshots":
                            snapshot_ids.append(values["id"])
                        encoded = json.dumps(
                            {k: _plain(v) for k, v in values.items()}, sort_keys=True, default=str
                        ).encode()
                        digest.update(table.name.encode())
                        digest.update(encoded)
                        own.update(encoded)
                    per_table.append((table.name, own.hexdigest()))
        finally:
            engine.dispose()
        store = self.home / "snapshots"
        for sid in sorted(snapshot_ids):
            folder = store / sid
            assert (folder / "COMPLETE").is_file(), f"snapshot {sid} has no COMPLETE files"
            for path in sorted(folder.iterdir()):
                digest.update(f"{sid}/{path.name}".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
        orphans: Counter[str] = Counter()
        if store.is_dir():
            for entry in store.iterdir():
                if entry.name in snapshot_ids:
                    continue
                if entry.name.startswith("."):
                    orphans["temporary folder left by a killed ingest"] += 1
                elif (entry / "COMPLETE").is_file():
                    orphans["complete folder without its row (the next ingest reuses it)"] += 1
                else:
                    orphans[f"other: {entry.name}"] += 1
        return State(tuple(counts), digest.hexdigest(), tuple(per_table)), orphans


def gapdesk(place: Place, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a `gapdesk` command to completion; fail with its output if it fails."""
    done = subprocess.run(
        [str(GAPDESK), *args],
        env=place.env(),
        cwd=place.folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, f"gapdesk {' '.join(args)} failed: {done.stderr or done.stdout}"
    return done


@contextmanager
def _as_gapdesk(place: Place) -> Iterator[Engine]:
    """This process set up as `gapdesk` would be on ``place`` (settings, engine at head)."""
    saved = {k: os.environ.get(k) for k in ("GAPDESK_HOME", "GAPDESK_DATABASE_URL")}
    os.environ.update(GAPDESK_HOME=str(place.home), GAPDESK_DATABASE_URL=place.url)
    get_settings.cache_clear()
    engine = open_engine()
    try:
        yield engine
    finally:
        engine.dispose()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def _baselines(place: Place, first: Path, second: Path) -> None:
    """Baseline before ingest: the first organisation ingested, detected and partly reviewed.
    Baseline before detect: that, plus the second organisation ingested."""
    place.home.mkdir()
    with _as_gapdesk(place) as engine:
        ingest(engine=engine, actor=SYSTEM, path=first)
        run_detection(engine=engine, actor=SYSTEM)
        with Session(engine, expire_on_commit=False) as s:
            me = Actor.of(
                create_user(
                    session=s,
                    actor=SYSTEM,
                    name="crash-admin",
                    email="crash@example.org",
                    role="admin",
                    password=None,
                )
            )
            ids = [
                f.id or 0 for f in s.execute(select(Finding).order_by(col(Finding.id))).scalars()
            ]
            later = datetime.now(UTC) + timedelta(days=30)
            for n, fid in enumerate(ids[:40]):
                kind = n % 5
                if kind in (0, 1):
                    decide(session=s, actor=me, finding_id=fid, action="confirm")
                    if kind == 1:
                        decide(session=s, actor=me, finding_id=fid, action="resolve")
                elif kind == 2:
                    decide(session=s, actor=me, finding_id=fid, action="dismiss", reason="expected")
                elif kind == 3:
                    decide(session=s, actor=me, finding_id=fid, action="snooze", until=later)
                else:
                    decide(session=s, actor=me, finding_id=fid, action="assign", assignee_id=me.id)
            s.commit()
    place.save("before-ingest")
    with _as_gapdesk(place) as engine:
        ingest(engine=engine, actor=SYSTEM, path=second)
    place.save("before-detect")


@dataclass
class Tally:
    """How the kills of one command on one backend landed."""

    kills: int = 0
    before: int = 0
    after: int = 0
    finished_first: int = 0
    orphans: Counter[str] | None = None
    before_delays: list[float] = field(default_factory=list)
    after_delays: list[float] = field(default_factory=list)


def crash_command(
    place: Place, label: str, args: list[str], kills: int, rng: random.Random
) -> tuple[Tally, float, State, State]:
    """Measure ``args`` from baseline ``label``, then kill it ``kills`` times; check each."""
    place.restore(label)
    before, _ = place.state()
    started = time.perf_counter()
    gapdesk(place, *args)
    duration = time.perf_counter() - started
    after, _ = place.state()
    assert after != before, f"gapdesk {' '.join(args)} changed nothing; nothing to test"
    tally = Tally(orphans=Counter())
    durations = [duration]
    while tally.kills < kills:
        place.restore(label)
        launched = time.perf_counter()
        proc = subprocess.Popen(
            [str(GAPDESK), *args],
            env=place.env(),
            cwd=place.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Spread over the command's current normal duration: the median of its latest unkilled
        # runs, which follows the machine's load better than one measurement at the start.
        delay = rng.uniform(0, statistics.median(durations[-5:]))
        try:
            code = proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            code = proc.wait()
        assert proc.stderr is not None
        complaint = proc.stderr.read()
        proc.stderr.close()
        if code != -signal.SIGKILL:  # it finished before the kill came
            assert code == 0, f"gapdesk {' '.join(args)} failed, not killed: {complaint}"
            tally.finished_first += 1
            durations.append(time.perf_counter() - launched)  # a whole run: a fair sample
        else:
            tally.kills += 1
            if tally.kills % 10 == 0:
                print(f"  ... {place.backend} {args[0]}: {tally.kills} kills", flush=True)
        state, orphans = place.state()
        assert tally.orphans is not None
        tally.orphans.update(orphans)
        if state == before:
            tally.before += 1
            tally.before_delays.append(delay)
        elif state == after:
            tally.after += 1
            tally.after_delays.append(delay)
        else:
            raise AssertionError(
                f"{place.backend}: gapdesk {' '.join(args)} killed after {delay:.2f} s "
                f"(kill {tally.kills}) left a state between before and after:\n"
                f"  before: {before.describe()}\n  after:  {after.describe()}\n"
                f"  killed: {state.describe()}"
            )
        started = time.perf_counter()
        gapdesk(place, *args)  # the next run, not killed, succeeds
        if state == before:
            durations.append(time.perf_counter() - started)
        rerun, _ = place.state()
        if state == before:  # and arrives where an undisturbed run does
            same = rerun == after if place.backend == "sqlite" else rerun.counts == after.counts
            assert same, (
                f"{place.backend}: after a kill, gapdesk {' '.join(args)} reached "
                f"{rerun.describe(after)} instead of {after.describe()}"
            )
    return tally, statistics.median(durations), before, after


@contextmanager
def _place(backend: str, folder: Path) -> Iterator[Place]:
    place = Place(backend, folder)
    try:
        yield place
    finally:
        place.drop()


def bench(backend: str, kills: int, people: int, days: int, seed: int) -> None:
    """Set up one backend's baselines, crash both commands, print the tallies."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, _place(backend, Path(tmp)) as place:
        first, second = Path(tmp) / "org1", Path(tmp) / "org2"
        generate_demo_org(first, seed=3, people=people, days=days)
        generate_demo_org(
            second, seed=3, people=people, days=days + 14, as_of=DEFAULT_AS_OF + timedelta(days=14)
        )
        _baselines(place, first, second)
        for label, args in [
            ("before-ingest", ["ingest", str(second)]),
            ("before-detect", ["detect"]),
        ]:
            tally, duration, before, after = crash_command(place, label, args, kills, rng)
            assert tally.orphans is not None
            late_before = max(tally.before_delays, default=0.0)
            early_after = min(tally.after_delays, default=float("nan"))
            print(
                f"{backend}: gapdesk {args[0]} (median {duration:.2f} s unkilled): "
                f"{tally.kills} kills "
                f"-> {tally.before} left it as before, {tally.after - tally.finished_first} as "
                f"after, 0 between ({tally.finished_first} more runs finished before their kill); "
                f"latest kill leaving 'before' {late_before:.2f} s, earliest leaving 'after' "
                f"{early_after:.2f} s; integrity and chain checked, next run succeeded every time"
            )
            print(f"  before: {before.describe()}")
            print(f"  after:  {after.describe()}")
            for kind, n in sorted(tally.orphans.items()):
                print(f"  unreferenced snapshot folders seen after kills: {n} x {kind}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse arguments, run each backend, print the tallies."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--kills", type=int, default=50, help="Kills per command and backend.")
    parser.add_argument("--people", type=int, default=1500)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7, help="Seed of the kill delays.")
    args = parser.parse_args(argv)
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    if not GAPDESK.is_file():
        parser.error(f"no gapdesk command beside {sys.executable}; install the project first")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        bench(backend, args.kills, args.people, args.days, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
