"""Typed literal snapshots for detector tests: tables written as lists of dicts, typed the way
``app.sources`` types a loaded snapshot (ids str, timestamps/dates UTC, bools, Int64, float)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from app.sources.contract import table as contract_table
from models.snapshot import REQUIRED_TABLES, Snapshot

AS_OF = "2026-11-27T00:00:00Z"


def typed(name: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A contract table from literal rows; absent columns are null."""
    spec = contract_table(name)
    frame = pd.DataFrame(list(rows), columns=list(spec.column_names))
    for col in spec.columns:
        values = frame[col.name]
        if col.type == "str":
            frame[col.name] = values.astype("str").where(values.notna(), None).astype("str")
        elif col.type in ("timestamp", "date"):
            frame[col.name] = pd.to_datetime(values, utc=True, format="ISO8601").astype(
                pd.DatetimeTZDtype("us", "UTC")
            )
        elif col.type == "bool":
            frame[col.name] = values.astype("boolean")
        elif col.type == "int":
            frame[col.name] = pd.to_numeric(values).astype("Int64")
        else:
            frame[col.name] = pd.to_numeric(values).astype("float64")
    return frame


def snap(as_of: str | datetime = AS_OF, **tables: Sequence[Mapping[str, Any]]) -> Snapshot:
    """A Snapshot with the given tables (required ones default to empty)."""
    out = {name: typed(name, tables.get(name, [])) for name in REQUIRED_TABLES}
    for name, rows in tables.items():
        out[name] = typed(name, rows)
    ts = pd.Timestamp(as_of)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return Snapshot(tables=out, as_of=ts.to_pydatetime())


def person(pid: str, **kw: Any) -> dict[str, Any]:
    """A people row with sensible defaults."""
    row = {
        "person_id": pid,
        "email": f"{pid.lower()}@example.org",
        "full_name": f"Person {pid}",
        "department": "Ops",
        "job_title": "Clerk",
        "employment_status": "active",
        "hire_date": "2026-01-05",
    }
    row.update(kw)
    return row


def user(uid: str, pid: str | None = None, **kw: Any) -> dict[str, Any]:
    """An lms_users row linked to ``pid`` (email matching the person's default)."""
    row = {
        "user_id": uid,
        "person_id": pid,
        "email": f"{pid.lower()}@example.org" if pid else f"{uid.lower()}@example.org",
        "status": "active",
        "created_at": "2026-01-05T09:00:00Z",
    }
    row.update(kw)
    return row


def course(cid: str, **kw: Any) -> dict[str, Any]:
    """A courses row with defaults."""
    row = {"course_id": cid, "title": f"Course {cid}", "is_compliance": False, "status": "active"}
    row.update(kw)
    return row


def enrol(eid: str, uid: str, cid: str, **kw: Any) -> dict[str, Any]:
    """An enrollments row with defaults."""
    row = {
        "enrollment_id": eid,
        "user_id": uid,
        "course_id": cid,
        "source": "manual",
        "status": "in_progress",
        "enrolled_at": "2026-10-01T09:00:00Z",
        "progress_pct": 50.0,
    }
    row.update(kw)
    return row
