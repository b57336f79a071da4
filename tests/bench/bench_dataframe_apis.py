"""Ibis against Narwhals on two detector passes, on pandas, DuckDB and Spark: same results?
How fast, how much memory?

    .venv/bin/python -m tests.bench.bench_dataframe_apis [--people N] [--spark]

The two passes are the heavy parts of two detectors, written once in each API:

* ``learners``: events grouped by (learner, course) up to ``as_of``, access failures left out
  (events, failures, distinct active days, last day), then a window over the course (its
  cohort) and the minimum cohort: ``engagement_learner``'s features.
* ``missing``: active people matched to active enrolment rules by department and job title
  (four rule shapes, one a cross join), the grace deadline in date arithmetic, and an anti-join
  with the enrolments of each person's accounts: ``enrollment_missing``'s candidates.

Each (API, engine, pass) runs in a fresh process over the snapshot's Parquet files, which
prints wall and CPU time and its peak resident memory (Spark's JVM is a process of its own and
not counted). Results are sorted and compared with the first engine's. Ibis has no pandas
backend (removed in Ibis 10) and its PySpark backend pins ``pyspark<4.1``; when it cannot run,
the row says why.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

ACCESS_VERBS = ("login_failed", "launch_failed")
MIN_EVENTS, MIN_COHORT, GRACE_DAYS = 5, 10, 3


# ----------------------------------------------------------------------------- narwhals


def nw_learners(act: Any, as_of: datetime) -> Any:
    """The learner features in narwhals (lazy: pandas, DuckDB or Spark run it)."""
    import narwhals as nw

    from models.detectors.frames import as_count, at_or_before, day_number

    ev = act.filter(
        at_or_before("timestamp", as_of),
        ~nw.col("course_id").is_null(),
        ~nw.col("verb").is_in(ACCESS_VERBS),
    ).with_columns(day=day_number("timestamp"), failed=as_count(nw.col("verb") == "failed"))
    g = ev.group_by("user_id", "course_id").agg(
        events=nw.len(),
        failed=nw.col("failed").sum(),
        active_days=nw.col("day").n_unique(),
        last_day=nw.col("day").max(),
    )
    g = g.filter(nw.col("events") >= MIN_EVENTS)
    g = g.with_columns(cohort=nw.len().over("course_id"))
    return g.filter(nw.col("cohort") >= MIN_COHORT)


def nw_missing(tables: dict[str, Any], as_of: datetime) -> Any:
    """The enrolment-missing candidates in narwhals."""
    import narwhals as nw

    from models.detectors.frames import day_number

    people = tables["people"].filter(nw.col("employment_status") == "active")
    people = people.select("person_id", "department", "job_title", hire_day=day_number("hire_date"))
    rules = tables["enrollment_rules"].filter(nw.col("active").fill_null(False))
    rules = rules.with_columns(grace=nw.col("grace_days").fill_null(GRACE_DAYS).cast(nw.Int64))
    parts = []
    for dept in (True, False):
        for title in (True, False):
            r = rules.filter(
                ~nw.col("department").is_null() == dept,
                ~nw.col("job_title").is_null() == title,
            )
            on = [c for c, used in (("department", dept), ("job_title", title)) if used]
            r = r.select("rule_id", "course_id", "grace", *on)
            m = people.join(r, on=on) if on else people.join(r, how="cross")
            parts.append(m.select("person_id", "rule_id", "course_id", "hire_day", "grace"))
    m = nw.concat(parts)
    as_of_day = (pd.Timestamp(as_of) - pd.Timestamp("1970-01-01", tz="UTC")).days
    m = m.filter(nw.col("hire_day") + nw.col("grace") < as_of_day)
    users = tables["lms_users"].filter(~nw.col("person_id").is_null())
    have = (
        tables["enrollments"]
        .select("user_id", "course_id")
        .join(users.select("user_id", "person_id"), on="user_id")
    )
    return m.join(have.select("person_id", "course_id"), on=["person_id", "course_id"], how="anti")


# ----------------------------------------------------------------------------- ibis


def ibis_learners(act: Any, as_of: datetime) -> Any:
    """The learner features in Ibis."""
    import ibis

    ev = act.filter(
        act.timestamp <= ibis.literal(pd.Timestamp(as_of)),
        act.course_id.notnull(),
        ~act.verb.isin(ACCESS_VERBS),
    )
    ev = ev.mutate(day=(ev.timestamp.epoch_seconds() // 86400).cast("int64"))
    g = ev.group_by(["user_id", "course_id"]).aggregate(
        events=ev.count(),
        failed=(ev.verb == "failed").cast("int64").sum(),
        active_days=ev.day.nunique(),
        last_day=ev.day.max(),
    )
    g = g.filter(g.events >= MIN_EVENTS)
    g = g.mutate(cohort=g.user_id.count().over(ibis.window(group_by="course_id")))
    return g.filter(g.cohort >= MIN_COHORT)


def ibis_missing(tables: dict[str, Any], as_of: datetime) -> Any:
    """The enrolment-missing candidates in Ibis."""
    import ibis

    p = tables["people"]
    people = p.filter(p.employment_status == "active").select(
        "person_id",
        "department",
        "job_title",
        hire_day=(p.hire_date.epoch_seconds() // 86400).cast("int64"),
    )
    r0 = tables["enrollment_rules"]
    rules = r0.filter(r0.active.fill_null(False)).mutate(
        grace=r0.grace_days.fill_null(GRACE_DAYS).cast("int64")
    )
    parts = []
    for dept in (True, False):
        for title in (True, False):
            r = rules.filter(rules.department.notnull() == dept, rules.job_title.notnull() == title)
            on = [c for c, used in (("department", dept), ("job_title", title)) if used]
            r = r.select("rule_id", "course_id", "grace", *on)
            m = people.join(r, on) if on else people.cross_join(r)
            parts.append(m.select("person_id", "rule_id", "course_id", "hire_day", "grace"))
    m = ibis.union(*parts)
    as_of_day = (pd.Timestamp(as_of) - pd.Timestamp("1970-01-01", tz="UTC")).days
    m = m.filter(m.hire_day + m.grace < as_of_day)
    u = tables["lms_users"]
    e = tables["enrollments"]
    have = e.select("user_id", "course_id").join(
        u.filter(u.person_id.notnull()).select("user_id", "person_id"), "user_id"
    )
    return m.anti_join(have.select("person_id", "course_id"), ["person_id", "course_id"])


# ----------------------------------------------------------------------------- one run


def _spark() -> Any:
    from app.detection.engine import spark_session

    return spark_session("local[2]")


def run_one(api: str, engine: str, task: str, folder: Path, as_of: datetime) -> dict[str, Any]:
    """Run one pass in this process; returns its timing, memory and sorted result."""
    names = ["activity"] if task == "learners" else [
        "people", "enrollment_rules", "lms_users", "enrollments",
    ]  # fmt: skip
    # Imports and the Spark session's start are not the pass's cost: done before the clock.
    if api == "narwhals":
        import models.detectors.frames  # noqa: F401
    else:
        import ibis  # noqa: F401
    if engine == "spark":
        _spark()
    from tests.bench.bench_detectors import PeakRss

    with PeakRss() as mem:
        start, cpu = time.perf_counter(), time.process_time()
        out = _run_pass(api, engine, task, folder, as_of, names)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    keys = list(out.columns)
    ids = ("user_id", "course_id", "person_id", "rule_id")
    out = out.astype({c: "float64" for c in keys if c not in ids})
    out = out.sort_values(keys).reset_index(drop=True)
    return {"seconds": seconds, "cpu": cpu, "peak_mib": mem.peak_kib / 1024, "rows": len(out),
            "result": out.astype(str).to_dict("list")}  # fmt: skip


def _run_pass(
    api: str, engine: str, task: str, folder: Path, as_of: datetime, names: list[str]
) -> pd.DataFrame:
    if api == "narwhals":
        import narwhals as nw

        if engine == "pandas":
            tables = {
                n: nw.from_native(pd.read_parquet(folder / f"{n}.parquet")).lazy() for n in names
            }
        elif engine == "duckdb":
            import duckdb

            con = duckdb.connect()
            con.execute("SET TimeZone = 'UTC'")
            tables = {
                n: nw.from_native(con.read_parquet(str(folder / f"{n}.parquet"))) for n in names
            }
        else:
            spark = _spark()
            tables = {
                n: nw.from_native(spark.read.parquet(str(folder / f"{n}.parquet"))) for n in names
            }
        expr = (
            nw_learners(tables["activity"], as_of)
            if task == "learners"
            else nw_missing(tables, as_of)
        )
        out = expr.collect(backend="pandas").to_native()
    else:
        import ibis

        if engine == "duckdb":
            con = ibis.duckdb.connect()
            con.raw_sql("SET TimeZone = 'UTC'")
        elif engine == "spark":
            con = ibis.pyspark.connect(_spark())
        else:
            raise RuntimeError("Ibis has no pandas backend since Ibis 10")
        tables = {n: con.read_parquet(str(folder / f"{n}.parquet")) for n in names}
        expr = (
            ibis_learners(tables["activity"], as_of)
            if task == "learners"
            else ibis_missing(tables, as_of)
        )
        out = expr.to_pandas()
    return out


def prepare(people: int, workdir: Path) -> tuple[Path, datetime]:
    """A demo organisation as a stored snapshot's Parquet files."""
    from app.demo.organisation import generate_demo_org
    from app.sources.load import load_snapshot

    generate_demo_org(workdir / "org", seed=1, people=people)
    snap = load_snapshot(workdir / "org").raise_if_rejected()
    folder = workdir / "parquet"
    folder.mkdir()
    for name, frame in snap.tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder, snap.as_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--spark", action="store_true", help="also run on Spark local[2]")
    parser.add_argument("--one", nargs=5, metavar=("API", "ENGINE", "TASK", "FOLDER", "AS_OF"))
    args = parser.parse_args(argv)
    if args.one:
        api, engine, task, folder, as_of = args.one
        try:
            res = run_one(api, engine, task, Path(folder), datetime.fromisoformat(as_of))
        except Exception as exc:  # the row says why an API cannot run on an engine
            res = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"}
        print("RESULT " + json.dumps(res))
        return 0
    engines = ["pandas", "duckdb", *(["spark"] if args.spark else [])]
    with tempfile.TemporaryDirectory() as tmp:
        folder, as_of = prepare(args.people, Path(tmp))
        print(
            f"{args.people} people; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        head = ("pass", "api", "engine", "rows", "wall s", "CPU s", "peak MiB")
        print("{:9s} {:9s} {:7s} {:>8s} {:>7s} {:>7s} {:>9s}  same".format(*head))
        for task in ("learners", "missing"):
            first: Any = None
            for api in ("narwhals", "ibis"):
                for engine in engines:
                    proc = subprocess.run(
                        [sys.executable, "-m", "tests.bench.bench_dataframe_apis", "--one",
                         api, engine, task, str(folder), as_of.isoformat()],
                        capture_output=True, text=True, env={**os.environ},
                    )  # fmt: skip
                    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
                    res = json.loads(line[-1][7:]) if line else {"error": proc.stderr[-160:]}
                    if "error" in res:
                        print(f"{task:9s} {api:9s} {engine:7s} cannot run: {res['error']}")
                        continue
                    first = res["result"] if first is None else first
                    same = "yes" if res["result"] == first else "NO"
                    print(
                        f"{task:9s} {api:9s} {engine:7s} {res['rows']:8d} {res['seconds']:7.2f} "
                        f"{res['cpu']:7.2f} {res['peak_mib']:9.0f}  {same}"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
