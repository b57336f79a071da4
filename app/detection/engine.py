"""The detection engine: where the detectors' heavy passes over a stored snapshot run.

``GAPDESK_DETECTION_ENGINE`` names it. ``duckdb`` (the default) reads the stored Parquet files
out of core, within ``GAPDESK_DUCKDB_MEMORY_LIMIT``; ``pandas`` loads every table into memory
(the path of earlier versions); ``spark://HOST:PORT`` or ``local[N]`` runs them on Apache Spark,
whose executors must see the snapshot folder at the same path (shared storage). The tables
listed in ``ENGINE_TABLES`` stay on the engine (``Snapshot.lazy``); the others, small beside
them, are loaded as before. An engine that cannot start (an unreachable master, no Java) stops
detection with one line; it never falls back to another engine.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import narwhals as nw
import pandas as pd

from app.core.errors import UserError
from app.core.records import SnapshotRecord
from app.core.settings import Settings, get_settings
from app.sources.store import load_stored, snapshots_dir
from models.snapshot import Snapshot

# The tables whose rows run to millions (events): held by the engine, never loaded whole.
ENGINE_TABLES = ("activity",)

_SPARK_MASTER = re.compile(r"^spark://(?P<host>[^:/\s]+):(?P<port>\d{1,5})$")
_LOCAL = re.compile(r"^local(\[(\d+|\*)\])?$")
# How long a Spark master may take to accept a connection before it is called unreachable.
CONNECT_TIMEOUT_S = 5.0


@dataclass
class DetectionEngine:
    """An open engine: its kind ("pandas", "duckdb" or "spark") and its connection."""

    kind: str
    spec: str
    connection: Any = None
    _owned: list[Any] = field(default_factory=list)

    def read_parquet(self, path: Path) -> nw.LazyFrame[Any]:
        """A lazy frame over one stored Parquet file, on this engine (nothing read yet)."""
        if self.kind == "duckdb":
            return nw.from_native(self.connection.read_parquet(str(path)))
        if self.kind == "spark":
            return nw.from_native(self.connection.read.parquet(str(path)))
        return nw.from_native(pd.read_parquet(path), eager_only=True).lazy()

    def close(self) -> None:
        """Release the engine's connection (a Spark session stays for the process: its JVM
        takes seconds to start, and tests and runs reuse it)."""
        if self.kind == "duckdb" and self.connection is not None:
            self.connection.close()
            self.connection = None


def parse_engine(spec: str) -> str:
    """The kind of engine ``spec`` names ("pandas", "duckdb", "spark"); UserError otherwise."""
    text = spec.strip()
    if text in ("pandas", "duckdb"):
        return text
    if _SPARK_MASTER.match(text) or _LOCAL.match(text):
        return "spark"
    raise UserError(
        f"GAPDESK_DETECTION_ENGINE {spec!r} is not an engine: use duckdb, pandas, "
        "spark://HOST:PORT or local[N]"
    )


def _duckdb(settings: Settings) -> Any:
    import duckdb

    con = duckdb.connect(":memory:")
    # Timestamps are read and compared in UTC whatever the machine's zone (frames.day_number).
    con.execute("SET TimeZone = 'UTC'")
    if settings.duckdb_memory_limit.strip():
        try:
            con.execute(f"SET memory_limit = '{settings.duckdb_memory_limit.strip()}'")
        except duckdb.Error as exc:
            raise UserError(
                f"GAPDESK_DUCKDB_MEMORY_LIMIT {settings.duckdb_memory_limit!r} is not a memory "
                f"size DuckDB reads (e.g. 1GB, 512MB): {str(exc).splitlines()[0]}"
            ) from None
    if settings.duckdb_threads:
        con.execute(f"SET threads = {int(settings.duckdb_threads)}")
    spill = settings.home.resolve() / "duckdb-spill"
    con.execute(f"SET temp_directory = '{spill}'")
    return con


def check_master_reachable(spec: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """UserError in one line when ``spark://HOST:PORT`` accepts no connection."""
    match = _SPARK_MASTER.match(spec.strip())
    if match is None:
        return
    host, port = match["host"], int(match["port"])
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise UserError(
            f"GAPDESK_DETECTION_ENGINE {spec}: no Spark master answers at {host}:{port} "
            f"({exc.strerror or exc}); detection did not run"
        ) from None


def spark_session(spec: str) -> Any:
    """The process's Spark session for master ``spec`` (started once, then reused)."""
    check_master_reachable(spec)
    if shutil.which("java") is None:
        raise UserError(
            f"GAPDESK_DETECTION_ENGINE {spec}: Spark needs a Java runtime and none is installed "
            "(scripts/setup.sh installs one)"
        )
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and active.sparkContext.master == spec.strip():
        return active
    if active is not None:
        active.stop()
    return (
        SparkSession.builder.master(spec.strip())
        .appName("gapdesk-detection")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def start_engine(spec: str | None = None, settings: Settings | None = None) -> DetectionEngine:
    """The engine ``spec`` (default: the setting) names, started; UserError in one line when it
    cannot start."""
    settings = settings or get_settings()
    text = (spec if spec is not None else settings.detection_engine).strip()
    kind = parse_engine(text)
    if kind == "duckdb":
        return DetectionEngine(kind, text, _duckdb(settings))
    if kind == "spark":
        return DetectionEngine(kind, text, spark_session(text))
    return DetectionEngine(kind, text)


@contextmanager
def detection_engine(spec: str | None = None) -> Iterator[DetectionEngine]:
    """``start_engine`` for the length of a ``with`` block."""
    engine = start_engine(spec)
    try:
        yield engine
    finally:
        engine.close()


def load_for_detection(record: SnapshotRecord, engine: DetectionEngine) -> Snapshot:
    """A stored snapshot for the detectors: ``ENGINE_TABLES`` held by ``engine`` (not loaded),
    the other tables loaded; everything loaded on the pandas engine."""
    if engine.kind == "pandas":
        return load_stored(record)
    held = [t for t in ENGINE_TABLES if t in record.row_counts]
    snapshot = load_stored(record, [t for t in record.row_counts if t not in held])
    folder = snapshots_dir() / record.id
    snapshot.lazy = {t: engine.read_parquet(folder / f"{t}.parquet") for t in held}
    for table in held:
        quarantined = folder / f"quarantine_{table}.parquet"
        if quarantined.exists():
            snapshot.set_aside[table] = pd.read_parquet(quarantined)
    return snapshot
