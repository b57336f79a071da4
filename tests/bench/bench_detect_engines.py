"""``gapdesk detect`` end to end on a stored snapshot, on each detection engine: time, memory,
and whether the findings are the same.

    .venv/bin/python -m tests.bench.bench_detect_engines [--people N] [--keep DIR]
        [--engines duckdb pandas local[2]]

A demo organisation of N people is generated (or reused from ``--keep``), stored as a snapshot
(the typed Parquet files and the snapshot's row, as ``gapdesk ingest`` leaves them; validation is
timed by ``bench_ingest``), and ``gapdesk detect`` runs on it once per engine, each in its own
process with a database of its own. Each run prints wall time, CPU time (user + system: the
machine is shared) and peak resident memory of the ``gapdesk`` process (Spark's JVM is a process
of its own, not counted), then the findings of every engine are compared with the first's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]


def store(org: Path, home: Path) -> str:
    """The organisation as a stored snapshot under ``home`` (reused when already there); its id."""
    from app.core.db import open_engine, session_scope
    from app.core.records import SnapshotRecord
    from tests.bench.bench_detectors import read_fast

    url = f"sqlite:///{home / 'base.db'}"
    marker = home / "snapshot_id"
    if marker.exists():
        return marker.read_text().strip()
    snapshot = read_fast(org)
    digest = hashlib.sha256(f"{org.resolve()}:{snapshot.as_of}".encode()).hexdigest()
    folder = home / "snapshots" / digest[:16]
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in snapshot.tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "COMPLETE").write_text(digest)
    engine = open_engine(url)
    with session_scope(engine) as session:
        session.add(
            SnapshotRecord(
                id=digest[:16],
                content_hash=digest,
                as_of=snapshot.as_of,
                source=str(org),
                origin=str(org),
                ingested_by="bench",
                row_counts={n: len(f) for n, f in snapshot.tables.items()},
            )
        )
    engine.dispose()
    marker.write_text(digest[:16])
    return digest[:16]


def detect(home: Path, snapshot_id: str, engine_spec: str) -> dict[str, float | str]:
    """``gapdesk detect`` in a process of its own, on a copy of the base database."""
    db = home / f"run-{engine_spec.replace('/', '_').replace(':', '_')}.db"
    shutil.copyfile(home / "base.db", db)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GAPDESK_HOME": str(home),
        "GAPDESK_DATABASE_URL": f"sqlite:///{db}",
        "GAPDESK_DETECTION_ENGINE": engine_spec,
    }
    out_path, err_path = db.with_suffix(".out"), db.with_suffix(".err")
    start = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        # Through --child, which reads its own peak (ru_maxrss would carry the parent's).
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.bench_detect_engines", "--child", snapshot_id],
            env=env,
            stdout=out,
            stderr=err,
        )
        # wait4, not communicate: the child's own CPU time and peak memory come with it.
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        lines = err_path.read_text().strip().splitlines() or ["?"]
        return {"error": lines[-1]}
    result: dict[str, float | str] = {
        "wall": wall,
        "summary": _run_line(out_path.read_text()),
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_gib": _peak_kib(out_path.read_text()) / 1024**2,
    }
    result["db"] = str(db)
    result["detectors"] = _detector_cpu(db)
    return result


def _detector_cpu(db: Path) -> str:
    """The run's CPU seconds per detector, heaviest first (the run's stats keep them)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT stats FROM detection_runs ORDER BY id DESC")).scalar()
    engine.dispose()
    cpu = json.loads(raw).get("cpu_seconds", {}) if isinstance(raw, str) else {}
    top = sorted(cpu.items(), key=lambda kv: -kv[1])[:8]
    return ", ".join(f"{k} {v:.2f}" for k, v in top)


def child(snapshot_id: str) -> int:
    """``gapdesk detect SNAPSHOT`` in this process, then its peak resident memory printed."""
    from app.cli.main import cli

    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # the high-water mark of this program alone, not of the parent's fork
    try:
        cli(["detect", snapshot_id], prog_name="gapdesk")
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    status = Path("/proc/self/status").read_text().splitlines()
    hwm = next(x for x in status if x.startswith("VmHWM:"))
    print(f"PEAK_KIB {hwm.split()[1]}", flush=True)
    return code


def _peak_kib(output: str) -> int:
    return int(next(x for x in output.splitlines() if x.startswith("PEAK_KIB ")).split()[1])


def _run_line(output: str) -> str:
    """The "run #… on snapshot …" line of ``gapdesk detect``'s output."""
    return next((x for x in output.splitlines() if x.startswith("run #")), output.strip()[-200:])


def findings(db: str) -> list[tuple[object, ...]]:
    """The findings a run left, as comparable rows."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT category, entity_key, title, score, severity, evidence, features, "
                "explanation, detector FROM findings ORDER BY category, entity_key"
            )
        ).all()
    engine.dispose()
    return [
        tuple(json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v for v in r) for r in rows
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", nargs="+", default=["duckdb", "pandas"])
    parser.add_argument("--keep", type=Path, default=None, help="keep the organisation here")
    parser.add_argument("--child", metavar="SNAPSHOT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    from app.demo.organisation import generate_demo_org

    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep if args.keep else Path(tmp)
        org = base / f"org-{args.people}-seed{args.seed}"
        home = base / f"home-{args.people}-seed{args.seed}"
        home.mkdir(parents=True, exist_ok=True)
        if not (org / "ground_truth.csv").exists():
            generate_demo_org(org, overwrite=True, seed=args.seed, people=args.people)
        t0 = time.perf_counter()
        snapshot_id = store(org, home)
        took = time.perf_counter() - t0
        print(f"{args.people} people, snapshot {snapshot_id} stored in {took:.1f} s")
        results = {}
        for spec in args.engines:
            load = os.getloadavg()[0]
            res = detect(home, snapshot_id, spec)
            if "error" in res:
                print(f"  {spec:10s} FAILED: {res['error']}")
                return 1
            results[spec] = res
            print(
                f"  {spec:10s} {res['wall']:7.1f} s wall {res['cpu']:7.1f} s CPU  "
                f"peak {res['peak_gib']:5.2f} GiB  (load average {load:.1f} to "
                f"{os.getloadavg()[0]:.1f} "
                f"on {os.cpu_count()} cores)  {res['summary']}"
            )
            print(f"             CPU s per detector: {res['detectors']}")
        first = next(iter(results))
        reference = findings(str(results[first]["db"]))
        same = True
        for spec in list(results)[1:]:
            other = findings(str(results[spec]["db"]))
            ok = other == reference
            same &= ok
            print(f"  findings on {spec} {'identical to' if ok else 'DIFFER from'} {first}'s "
                  f"({len(other)} and {len(reference)})")  # fmt: skip
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
