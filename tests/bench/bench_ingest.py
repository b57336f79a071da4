"""Benchmark: ingest of the demo organisation, of a large Moodle log and of an Open edX log folder.

    .venv/bin/python -m tests.bench.bench_ingest --people 2000 --people 100000
    .venv/bin/python -m tests.bench.bench_ingest --moodle-events 10000000 --openedx-mb 1024

``--people N`` generates a demo organisation (not timed) and ingests its snapshot folder.
``--moodle-events N`` writes a Moodle Logs download of N events made of the real rows of
``../shared/data/lms/moodle_course_activity_log.csv``, repeated with their times shifted by one
minute per copy; ``--openedx-mb M`` writes a folder of Open edX tracking logs of M MiB made of
the real lines of ``../shared/data/lms/more/openedx/`` (times shifted by one second per copy, in
files of at most 128 MiB, as rotated logs are). Both are then ingested as ``gapdesk ingest``
does (recognise and convert, validate, store, coverage report: the functions the command calls),
skipped with a note when the shared files are absent.

Each ingest runs in a separate process with a fresh GAPDESK_HOME and SQLite database, so the
memory printed is the ingest's own: per stage its wall time, CPU time (all threads) and peak
resident memory during that stage (``VmHWM``, reset between stages where the kernel allows it).
Short mode for CI: ``--people 300 --moodle-events 200000 --openedx-mb 50``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lms"
MOODLE_LOG = SHARED / "moodle_course_activity_log.csv"
OPENEDX_DIR = SHARED / "more" / "openedx"
OPENEDX_FILE_BYTES = 128 * 1024 * 1024
MOODLE_YEAR = 2021


# --------------------------------------------------------------------------- inputs


def write_moodle_log(path: Path, events: int) -> int:
    """A Moodle Logs download of ``events`` real rows, each copy's times a minute later."""
    with MOODLE_LOG.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    at = header.index("Time")
    base = [datetime.strptime(f"{r[at]} {MOODLE_YEAR}", "%d %b, %H:%M %Y") for r in rows]
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        copy = 0
        while written < events:
            shift = timedelta(minutes=copy)
            for row, when in zip(rows[: events - written], base, strict=False):
                row = list(row)
                moved = when + shift
                row[at] = f"{moved.day} {moved:%b, %H:%M}"
                writer.writerow(row)
            written += min(len(rows), events - written)
            copy += 1
    return written


def _openedx_lines() -> list[tuple[str, datetime, str]]:
    """(text before the time, time, text after) of each real tracking-log line."""
    out = []
    for path in sorted(OPENEDX_DIR.glob("*.log")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            stamp = json.loads(line[line.find("{") :])["time"]
            key = f'"time": "{stamp}"'
            if key not in line:
                continue
            before, after = line.split(key, 1)
            out.append((before, datetime.fromisoformat(stamp), after))
    return out


def write_openedx_folder(folder: Path, megabytes: int) -> tuple[int, int]:
    """Tracking logs of ``megabytes`` MiB in files ``tracking.log-<n>``; (lines, files)."""
    folder.mkdir(parents=True)
    lines = _openedx_lines()
    total, target, copy, files = 0, megabytes * 1024 * 1024, 0, 0
    count = 0
    out = None
    size = OPENEDX_FILE_BYTES
    try:
        while total < target:
            shift = timedelta(seconds=copy)
            for before, when, after in lines:
                if size >= OPENEDX_FILE_BYTES:
                    if out is not None:
                        out.close()
                    files += 1
                    out = (folder / f"tracking.log-{files:03d}").open("w", encoding="utf-8")
                    size = 0
                text = f'{before}"time": "{(when + shift).isoformat()}"{after}\n'
                out.write(text)
                size += len(text.encode())
                total += len(text.encode())
                count += 1
                if total >= target:
                    break
            copy += 1
    finally:
        if out is not None:
            out.close()
    return count, files


# --------------------------------------------------------------------------- the child


def _reset_peak() -> bool:
    """Reset this process's resident high-water mark (Linux ``clear_refs`` 5); False if not."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_kib() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _staged(stages: list[dict[str, Any]], name: str, run: Callable[[], Any]) -> Any:
    reset = _reset_peak()
    wall, cpu = time.perf_counter(), time.process_time()
    value = run()
    stages.append(
        {
            "stage": name,
            "wall": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu,
            "peak_kib": _peak_kib(),
            "peak_is_stage": reset,
        }
    )
    return value


def _child_exports(sources: list[str], chunk_rows: int | None = None) -> int:
    """``gapdesk ingest SOURCES`` as the command runs it, stage by stage; prints JSON."""
    from app.core.db import open_engine
    from app.detection.coverage import coverage_lines
    from app.sources.convert import IngestOptions
    from app.sources.exports import convert_exports, validate_exports
    from app.sources.store import store_snapshot
    from review_queue.permissions import SYSTEM

    engine = open_engine(f"sqlite:///{Path(os.environ['GAPDESK_HOME']) / 'bench.db'}")
    stages: list[dict[str, Any]] = []
    options = IngestOptions(year=MOODLE_YEAR)
    if chunk_rows:  # every Moodle log in chunks of chunk_rows, whatever its size
        options = IngestOptions(year=MOODLE_YEAR, stream_bytes=0, chunk_rows=chunk_rows)
    with tempfile.TemporaryDirectory(prefix="gapdesk-ingest-") as tmp:
        work = Path(tmp)
        converted = _staged(
            stages,
            "recognise + convert",
            lambda: convert_exports([Path(s) for s in sources], options, work),
        )
        converted.raise_if_failed()
        result = _staged(
            stages,
            "validate",
            lambda: validate_exports(
                actor=SYSTEM, converted=converted, workdir=work, release_tables=True
            ),
        )
        outcome = _staged(
            stages,
            "store",
            lambda: store_snapshot(
                engine=engine, actor=SYSTEM, result=result, origin=" ".join(sources)
            ),
        )
    assert outcome.result.snapshot is not None
    _staged(
        stages,
        "coverage report",
        lambda: coverage_lines(engine=engine, actor=SYSTEM, snapshot=outcome.result.snapshot),
    )
    rows = {name: int(n) for name, n in outcome.record.row_counts.items()}
    print(json.dumps({"rows": rows, "stages": stages, "peak_kib": _peak_kib()}))
    return 0


def _child_folder(folder: str) -> int:
    from app.core.db import open_engine
    from app.sources.store import ingest
    from review_queue.permissions import SYSTEM

    engine = open_engine(f"sqlite:///{Path(os.environ['GAPDESK_HOME']) / 'bench.db'}")
    started = time.perf_counter()
    outcome = ingest(engine=engine, actor=SYSTEM, path=folder)
    seconds = time.perf_counter() - started
    rows = sum(int(n) for n in outcome.record.row_counts.values())
    print(f"{rows} {seconds:.3f}")
    return 0


def _run_child(args: list[str], home: Path) -> tuple[str, int]:
    """Run this module with ``args`` in a fresh process; (its stdout, its max RSS in KiB)."""
    env = {**os.environ, "GAPDESK_HOME": str(home), "GAPDESK_DATABASE_URL": ""}
    home.mkdir(parents=True, exist_ok=True)
    with (home / "out.txt").open("w+") as out, (home / "err.txt").open("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.bench_ingest", *args],
            env=env, stdout=out, stderr=err, text=True,
        )  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"ingest failed ({proc.returncode}):\n{err.read()[-3000:]}")
        return out.read(), usage.ru_maxrss


# --------------------------------------------------------------------------- the parent


def _print_stages(what: str, out: str, maxrss_kib: int, wall: float) -> None:
    done = json.loads(out.strip().splitlines()[-1])
    rows = done["rows"]
    total = sum(rows.values())
    stages = done["stages"]
    seconds = sum(s["wall"] for s in stages)
    cpu = sum(s["cpu"] for s in stages)
    # The kernel's own maximum misses peaks before the last reset; the stages' peaks do not.
    peak_kib = max([maxrss_kib, *(s["peak_kib"] for s in stages)])
    print(f"{what}: {total:,} rows stored ({', '.join(f'{n} {c:,}' for n, c in rows.items())})")
    for s in stages:
        peak = "peak" if s["peak_is_stage"] else "peak so far"
        print(
            f"  {s['stage']:<20} {s['wall']:7.1f} s wall {s['cpu']:7.1f} s CPU   "
            f"{peak} {s['peak_kib'] / 1024:,.0f} MiB"
        )
    print(
        f"  {'ingest':<20} {seconds:7.1f} s wall {cpu:7.1f} s CPU   peak {peak_kib / 1024:,.0f} "
        f"MiB (process start and imports included: {wall:.1f} s)"
    )


def _shared_missing(path: Path) -> bool:
    if path.exists():
        return False
    print(f"skipped: {path} is absent (the shared real files are not on this machine)")
    return True


def bench_moodle(events: int, chunk_rows: int | None = None) -> None:
    if _shared_missing(MOODLE_LOG):
        return
    with tempfile.TemporaryDirectory(prefix="gapdesk-bench-moodle-") as tmp:
        log = Path(tmp) / "logs_course.csv"
        written = write_moodle_log(log, events)
        size = log.stat().st_size
        started = time.perf_counter()
        chunks = ["--chunk-rows", str(chunk_rows)] if chunk_rows else []
        out, maxrss = _run_child(["--child-exports", str(log), *chunks], Path(tmp) / "home")
        streamed = f", in chunks of {chunk_rows:,} rows" if chunk_rows else ""
        _print_stages(
            f"Moodle log, {written:,} events ({size / 2**20:,.0f} MiB CSV{streamed})",
            out, maxrss, time.perf_counter() - started,
        )  # fmt: skip


def bench_openedx(megabytes: int) -> None:
    if _shared_missing(OPENEDX_DIR):
        return
    with tempfile.TemporaryDirectory(prefix="gapdesk-bench-openedx-") as tmp:
        folder = Path(tmp) / "tracking"
        lines, files = write_openedx_folder(folder, megabytes)
        started = time.perf_counter()
        out, maxrss = _run_child(["--child-exports", str(folder)], Path(tmp) / "home")
        _print_stages(
            f"Open edX tracking logs, {megabytes:,} MiB in {files} files ({lines:,} lines)",
            out, maxrss, time.perf_counter() - started,
        )  # fmt: skip


def bench_demo(people: int) -> None:
    from app.demo.organisation import generate_demo_org

    with tempfile.TemporaryDirectory(prefix="gapdesk-bench-ingest-") as tmp:
        folder = Path(tmp) / "org"
        generate_demo_org(folder, seed=1, people=people, days=120 if people > 300 else 40)
        out, maxrss = _run_child(["--child", str(folder)], Path(tmp) / "home")
        rows, seconds = out.split()
        n, s = int(rows), float(seconds)
        print(
            f"ingest of the demo organisation, {people:,} people: {n:,} rows in {s:.1f} s "
            f"= {n / s:,.0f} rows/s; peak memory {maxrss / 1024:,.0f} MiB"
        )


def _sizes(values: list[int] | None) -> Iterator[int]:
    yield from values or []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, action="append", help="repeatable")
    parser.add_argument("--moodle-events", type=int, action="append", help="repeatable")
    parser.add_argument("--openedx-mb", type=int, action="append", help="repeatable")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-exports", nargs="+", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--chunk-rows", type=int, default=None,
        help="convert the Moodle logs in chunks of N rows whatever their size (default: logs of "
        "64 MiB and more, in chunks of 1,000,000 rows)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.child:
        return _child_folder(args.child)
    if args.child_exports:
        return _child_exports(args.child_exports, args.chunk_rows)
    if not (args.people or args.moodle_events or args.openedx_mb):
        args.people = [2000]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"bench_ingest on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, {stamp}")
    for people in _sizes(args.people):
        bench_demo(people)
    for events in _sizes(args.moodle_events):
        bench_moodle(events, args.chunk_rows)
    for megabytes in _sizes(args.openedx_mb):
        bench_openedx(megabytes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
