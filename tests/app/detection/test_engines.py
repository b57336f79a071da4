"""Detection engines: DuckDB (the default), pandas and Spark find the same gaps on a stored
snapshot; a wrong engine setting or an unreachable Spark master stops detection in one line.

Spark runs in local mode (a real JVM, Debian's Java runtime) in the tests marked ``spark``; they
share the process's one Spark session. Real exports are read from ``../shared/data/lms`` and
the tests skip without them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from app.core.errors import UserError
from app.core.records import SnapshotRecord
from app.detection.engine import load_for_detection, parse_engine, start_engine
from app.detection.run import run_detection
from app.sources.convert import IngestOptions
from app.sources.exports import convert_exports
from app.sources.load import load_snapshot, write_snapshot
from app.sources.store import ingest, store_snapshot
from models.detectors import run_detectors
from review_queue.permissions import SYSTEM
from review_queue.tables import DetectionRun, Finding
from tests.conftest import SHARED

LMS = SHARED / "data" / "lms"
REAL = ("moodle_course_activity_log.csv", "xapi_statements.jsonl.gz")
GAPDESK = shutil.which("gapdesk", path=str(Path(sys.executable).parent)) or "gapdesk"


def found_on(record: SnapshotRecord, spec: str) -> list[dict[str, Any]]:
    """Every proposal of every detector on the stored snapshot, read on engine ``spec``."""
    engine = start_engine(spec)
    try:
        snapshot = load_for_detection(record, engine)
        if spec != "pandas":
            # The events stay on the engine: never loaded as a table.
            assert "activity" not in snapshot.tables and "activity" in snapshot.lazy
        return [p.to_dict() for p in run_detectors(snapshot).proposals]
    finally:
        engine.close()


def real_record(db: Engine, tmp_path: Path) -> SnapshotRecord:
    """The held real exports (a Moodle log and xAPI statements), converted and stored."""
    paths = [LMS / n for n in REAL]
    if not all(p.exists() for p in paths):
        pytest.skip(f"{LMS} is absent (real exports are read from ../shared, never copied)")
    converted = convert_exports(paths, IngestOptions(), tmp_path / "work")
    converted.raise_if_failed()
    folder = tmp_path / "snapshot"
    write_snapshot(converted.tables, folder, file_format="parquet")
    write_snapshot({}, folder, as_of=converted.meta.get("as_of"))
    result = load_snapshot(folder)
    return store_snapshot(engine=db, actor=SYSTEM, result=result, origin=str(folder)).record


def _count(db: Engine, model: type) -> int:
    with Session(db) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_engine_setting_names_a_known_engine() -> None:
    assert [parse_engine(s) for s in ("duckdb", "pandas", " local[2] ", "local[*]")] == [
        "duckdb",
        "pandas",
        "spark",
        "spark",
    ]
    assert parse_engine("spark://spark-master.internal:7077") == "spark"
    for bad in ("polars", "spark://no-port", "local[two]", ""):
        with pytest.raises(UserError, match="is not an engine: use duckdb, pandas"):
            parse_engine(bad)


def test_duckdb_finds_what_pandas_finds_on_the_demo_organisation(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    record = ingest(engine=db, actor=SYSTEM, path=demo_folder).record
    on_pandas = found_on(record, "pandas")
    assert len(on_pandas) > 50
    assert found_on(record, "duckdb") == on_pandas
    run = run_detection(engine=db, actor=SYSTEM, snapshot_id=record.id)
    assert run.stats["engine"] == "duckdb" and run.stats["proposals"] == len(on_pandas)


def test_duckdb_finds_what_pandas_finds_on_the_real_exports(
    db: Engine, gapdesk_home: Path, tmp_path: Path
) -> None:
    record = real_record(db, tmp_path)
    on_pandas = found_on(record, "pandas")
    assert found_on(record, "duckdb") == on_pandas


def test_an_unreachable_spark_master_stops_detection_and_changes_nothing(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    record = ingest(engine=db, actor=SYSTEM, path=demo_folder).record
    port = _free_port()
    with pytest.raises(UserError, match=rf"no Spark master answers at 127.0.0.1:{port}"):
        run_detection(
            engine=db,
            actor=SYSTEM,
            snapshot_id=record.id,
            detection_engine=f"spark://127.0.0.1:{port}",
        )
    assert _count(db, Finding) == 0 and _count(db, DetectionRun) == 0


def test_gapdesk_detect_says_in_one_line_that_the_master_is_unreachable(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GAPDESK_HOME": str(tmp_path / "home"),
        "GAPDESK_DATABASE_URL": "",
        "GAPDESK_DETECTION_ENGINE": f"spark://127.0.0.1:{_free_port()}",
    }
    demo = subprocess.run(
        [GAPDESK, "demo-data", str(tmp_path / "org"), "--people", "200", "--days", "40"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    ingested = subprocess.run(
        [GAPDESK, "ingest", str(tmp_path / "org")],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert ingested.returncode == 0, ingested.stderr
    out = subprocess.run(
        [GAPDESK, "detect"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode != 0
    lines = [x for x in out.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "no Spark master answers at 127.0.0.1" in lines[0], out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.spark
def test_spark_finds_what_pandas_and_duckdb_find(
    db: Engine, gapdesk_home: Path, demo_folder: Path, tmp_path: Path
) -> None:
    pytest.importorskip("pyspark", reason="pyspark is a dependency: pip install -e .")
    if shutil.which("java") is None:
        pytest.fail("no Java runtime: scripts/setup.sh --dev installs default-jre-headless")
    record = ingest(engine=db, actor=SYSTEM, path=demo_folder).record
    on_pandas = found_on(record, "pandas")
    assert found_on(record, "local[2]") == on_pandas
    if all((LMS / n).exists() for n in REAL):
        real = real_record(db, tmp_path)
        on_pandas = found_on(real, "pandas")
        assert found_on(real, "local[2]") == on_pandas == found_on(real, "duckdb")
