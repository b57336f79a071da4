"""Benchmark: the REST API over real HTTP (uvicorn on loopback) at scale.

    .venv/bin/python -m tests.bench.bench_api --findings 1000000 --clients 50 --seconds 60 \
        [--backends sqlite postgres]

Fills a fresh database with synthetic findings (as bench_queue does), serves the API, then
prints: the median milliseconds of a list of 50 findings, of one decision (confirm), and what 50
concurrent clients (each listing, reading and deciding in turn) get in a fixed time: calls,
errors and p95. Short mode for CI: ``--findings 2000 --clients 4 --seconds 3``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.api.json_body import json_answer
from app.api.rate_limit import RateLimiter
from app.api.routes.findings import _row
from app.auth.accounts import create_user
from app.auth.api_tokens import check_api_token, create_api_token
from app.core.db import build_engine, session_scope, upgrade
from review_queue.permissions import SYSTEM, Actor
from review_queue.queue import QueueFilter, list_findings, page_rows
from review_queue.states import OPEN_STATUSES
from review_queue.tables import Finding
from tests.bench.bench_queue import fill, settle_after_fill
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database
from tests.helpers.api_server import serving


def _token_and_new_ids(engine: Engine) -> tuple[str, list[int]]:
    with Session(engine, expire_on_commit=False) as s:
        user = create_user(session=s, actor=SYSTEM, name="bench", email="bench@example.org",
                           role="admin", password=None)  # fmt: skip
        s.flush()
        _, token = create_api_token(session=s, actor=Actor.of(user), name="bench", scope="write")
        ids = list(s.exec(select(col(Finding.id)).where(col(Finding.status) == "new").limit(20000)))
        s.commit()
    return token, [i for i in ids if i is not None]


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered):7.1f} ms  p95 {p95:7.1f} ms  ({len(ordered)} calls)"


def _median_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds (CPU time suffers less from a shared machine)."""
    fn()  # warm
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def profile(engine: Engine, token: str, repeat: int) -> None:
    """Where a list call's time goes, part by part, in this process (no HTTP)."""
    check = None

    def token_check() -> None:
        nonlocal check
        with session_scope(engine, read_only=True) as s:
            check = check_api_token(session=s, token=token)

    token_check()
    assert check is not None
    actor = Actor.of(check.user)
    limiter = RateLimiter(10**9)
    opened = QueueFilter(statuses=tuple(s.value for s in OPEN_STATUSES))
    rows: list[Any] = []

    def rows_only() -> None:
        nonlocal rows
        with session_scope(engine, read_only=True) as s:
            rows = page_rows(session=s, actor=actor, queue_filter=opened, page_size=50)

    def with_counts() -> None:
        with session_scope(engine, read_only=True) as s:
            list_findings(session=s, actor=actor, queue_filter=opened, page_size=50)

    def serialise() -> None:
        body = {"total": None, "page": 0, "page_size": 50, "findings": [asdict(r) for r in rows]}
        JSONResponse(jsonable_encoder(body)).render(jsonable_encoder(body))

    parts = {
        "token check (a read unit of work, SHA-256, one join)": token_check,
        "rate limit": lambda: limiter.wait_for(check.token_id if check else 0),
        "list query, page of 50 (no counts)": rows_only,
        "list query with the counts per status": with_counts,
        "serialisation of 50 rows to JSON (jsonable_encoder)": serialise,
        "serialisation of 50 rows to JSON (json_answer, flat rows)": lambda: json_answer(
            {"total": None, "page": 0, "page_size": 50, "findings": [_row(r) for r in rows]}
        ),
    }
    rows_only()
    for label, fn in parts.items():
        wall, cpu = _median_ms(fn, repeat)
        print(f"    {label:<55} {wall:8.2f} ms wall {cpu:8.2f} ms CPU")


def bench(engine: Engine, repeat: int, clients: int, seconds: float) -> None:
    """Print the list, decision and concurrency figures for one filled database."""
    token, new_ids = _token_and_new_ids(engine)
    print("  in-process profile of a list call (median):")
    profile(engine, token, repeat)
    headers = {"Authorization": f"Bearer {token}"}
    with serving(engine) as url, httpx.Client(base_url=url, headers=headers, timeout=60) as c:
        c.get("/api/findings")  # warm the connection pool and the query plan
        lists, counted, decisions = [], [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            assert c.get("/api/findings", params={"page_size": 50}).status_code == 200
            lists.append((time.perf_counter() - t0) * 1000)
        for _ in range(max(3, repeat // 3)):
            t0 = time.perf_counter()
            answer = c.get("/api/findings", params={"page_size": 50, "include_total": "true"})
            assert answer.status_code == 200
            counted.append((time.perf_counter() - t0) * 1000)
        for finding_id in new_ids[:repeat]:
            t0 = time.perf_counter()
            answer = c.post(f"/api/findings/{finding_id}/decisions", json={"action": "confirm"})
            assert answer.status_code == 200, answer.text
            decisions.append((time.perf_counter() - t0) * 1000)
        print(f"  list of 50 findings       {_ms(lists)}")
        print(f"  the same, include_total   {_ms(counted)}")
        print(f"  a decision (confirm)      {_ms(decisions)}")
        pool = iter(new_ids[repeat:])
        lock = threading.Lock()
        samples: list[float] = []
        errors: list[str] = []
        stop = time.monotonic() + seconds

        def client() -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as mine:
                while time.monotonic() < stop:
                    with lock:
                        finding_id = next(pool, None)
                    for method, path, body in (
                        ("GET", "/api/findings", None),
                        ("GET", f"/api/findings/{finding_id or 1}", None),
                        ("POST", f"/api/findings/{finding_id}/decisions", {"action": "confirm"}),
                    ):
                        if finding_id is None and method == "POST":
                            continue
                        t0 = time.perf_counter()
                        answer = mine.request(method, path, json=body)
                        took = (time.perf_counter() - t0) * 1000
                        with lock:
                            samples.append(took)
                            if answer.status_code >= 400:
                                errors.append(f"{method} {path}: {answer.status_code}")

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"  {clients} clients for {seconds:g} s   {_ms(samples)}  {len(errors)} errors")
        for line in errors[:5]:
            print(f"    {line}")


def _cpu_and_load() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"process CPU {time.process_time():.1f} s; load average {load}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=5000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args(argv)
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as tmp:
            if backend == "sqlite":
                url, cleanup = f"sqlite:///{Path(tmp) / 'bench.db'}", None
            else:
                url = create_pg_database(PG_ADMIN_URL)
                cleanup = url
            engine = build_engine(url)
            t_start = time.perf_counter()
            try:
                upgrade(engine)
                fill(engine, args.findings)
                settle_after_fill(engine)
                t_fill = time.perf_counter()
                print(f"{backend} {args.findings:,} findings (filled in "
                      f"{t_fill - t_start:.0f} s), over HTTP; {_cpu_and_load()}:")  # fmt: skip
                bench(engine, args.repeat, args.clients, args.seconds)
                print(f"  done; {_cpu_and_load()}")
            finally:
                engine.dispose()
                if cleanup:
                    drop_pg_database(PG_ADMIN_URL, cleanup)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
