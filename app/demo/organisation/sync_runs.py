"""The ``sync_runs`` table: scheduled integration runs and sync_failure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.demo.organisation.context import GenerationContext
from app.demo.organisation.csv_bytes import timestamp_text
from app.demo.organisation.identifiers import text_ids
from app.demo.organisation.timeline import DAY, HOUR, NA, iso_day
from app.demo.organisation.vocabulary import INTEGRATIONS
from models.taxonomy import entity_key


def build_sync_runs(ctx: GenerationContext) -> pd.DataFrame:
    """Every integration run of the window (epoch seconds), with sync_failure injected."""
    rng, t, w0 = ctx.rng, ctx.as_of, ctx.w0
    frames = []
    for name, every, first, frac in INTEGRATIONS:
        k = np.arange(int((t - w0) // (every * HOUR)) + 1)
        jitter = rng.integers(-120, 120, k.size) if every == 1 else rng.integers(-300, 300, k.size)
        start = w0 + int(first * HOUR) + k * every * HOUR + jitter
        start = start[(start >= w0) & (start < t)]
        read = rng.poisson(max(ctx.people * frac, 3), start.size) + 1
        dur = rng.integers(60, 600, start.size) if every > 1 else rng.integers(40, 240, start.size)
        frames.append(
            pd.DataFrame(
                {
                    "integration": name,
                    "started": start,
                    "finished": start + dur,
                    "status": "success",
                    "read": read,
                    "written": read,
                    "errors": 0,
                }
            )
        )
    runs = pd.concat(frames, ignore_index=True)
    # The nightly HR sync skips three nights; the directory sync stops five days before as_of.
    hole = int(rng.integers(10, ctx.days - 15))
    hr_day = (runs["started"] - w0) // DAY
    runs = runs[~((runs["integration"] == "hr_to_lms") & hr_day.between(hole, hole + 2))]
    runs = runs[~((runs["integration"] == "sso_directory") & (runs["started"] >= t - 5 * DAY))]
    runs = runs.sort_values(["started", "integration"], kind="stable").reset_index(drop=True)
    in_flight = runs["finished"] >= t
    runs.loc[in_flight, ["status", "finished", "read", "written"]] = ["running", NA, 0, 0]

    keys: list[str] = []
    done = np.flatnonzero(
        (runs["started"] < t - 2 * DAY).to_numpy() & (runs["read"] >= 4).to_numpy()
    )
    picks = rng.choice(done, size=13, replace=False)
    fails, partial, never, lost = picks[:5], picks[5:8], picks[8:10], picks[10:]
    read = runs["read"].to_numpy()
    runs.loc[fails, "status"] = "failed"
    runs.loc[fails, "written"] = (read[fails] * rng.uniform(0, 0.5, fails.size)).astype(np.int64)
    runs.loc[fails, "errors"] = rng.integers(1, 50, fails.size)
    short = np.maximum(1, (read[partial] * rng.uniform(0.05, 0.3, partial.size)).astype(np.int64))
    runs.loc[partial, "status"] = "partial"
    runs.loc[partial, "written"] = read[partial] - short
    runs.loc[partial, "errors"] = short
    runs.loc[never, ["status", "finished", "read", "written"]] = ["running", NA, 0, 0]
    runs.loc[lost, "written"] = read[lost] - np.maximum(1, read[lost] // 10)
    for i in picks:
        keys.append(
            entity_key(
                {
                    "integration": runs.at[i, "integration"],
                    "date": iso_day(runs.at[i, "started"]),
                }
            )
        )
    # Overdue integrations, dated the way the reference rule dates them.
    for name, *_ in INTEGRATIONS:
        starts = np.sort(runs.loc[runs["integration"] == name, "started"].to_numpy())
        usual = float(np.median(np.diff(starts)))
        gaps = np.flatnonzero(np.diff(np.append(starts, t)) > 2 * usual)
        for g in gaps:
            keys.append(
                entity_key({"integration": name, "date": iso_day(int(starts[g] + 2 * usual))})
            )
    ctx.add("sync_failure", keys)
    runs.insert(0, "run_id", text_ids("R", np.arange(1, len(runs) + 1), 6))
    return runs


def sync_runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The ``sync_runs`` table from the runs' epoch-second frame."""
    return pd.DataFrame(
        {
            "run_id": runs["run_id"],
            "integration": runs["integration"],
            "started_at": timestamp_text(runs["started"].to_numpy()),
            "finished_at": timestamp_text(runs["finished"].to_numpy()),
            "status": runs["status"],
            "records_read": runs["read"],
            "records_written": runs["written"],
            "error_count": runs["errors"],
        }
    )
