"""Typed literal snapshots for detector tests: tables written as lists of dicts, typed the way
``app.sources`` types a loaded snapshot (ids str, timestamps/dates UTC, bools, Int64, float)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from app.sources.contract import table as contract_table
from models.snapshot import Snapshot

AS_OF = "2026-11-27T00:00:00Z"
# The tables every literal snapshot carries, empty unless given (contract version 1's required
# tables: detector tests were written against them; version 2 requires only lms_users, courses).
DEFAULT_TABLES = ("people", "lms_users", "courses", "enrollments")


def typed(name: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A contract table from literal rows; absent columns are null. A column the rows carry that
    the contract does not declare is kept (extra columns are allowed): as a UTC timestamp when
    its name ends in ``_at``, else as text."""
    spec = contract_table(name)
    extra = list(dict.fromkeys(k for row in rows for k in row if k not in spec.column_names))
    frame = pd.DataFrame(list(rows), columns=[*spec.column_names, *extra])
    for col_name in extra:
        values = frame[col_name]
        if col_name.endswith("_at"):
            frame[col_name] = pd.to_datetime(values, utc=True, format="ISO8601").astype(
                pd.DatetimeTZDtype("us", "UTC")
            )
        else:
            frame[col_name] = values.astype("str").where(values.notna(), None).astype("str")
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
    """A Snapshot with the given tables (``DEFAULT_TABLES`` default to empty)."""
    out = {name: typed(name, tables.get(name, [])) for name in DEFAULT_TABLES}
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


# Mon 5 Oct .. Thu 26 Nov 2026: the days of the daily-series tests (as_of is the day after).
DAYS = pd.date_range("2026-10-05", "2026-11-26", freq="D", tz="UTC")


def daily_activity(
    *,
    course_outage: str | None = None,
    site_outage: str | None = None,
    quiet_day: str | None = None,
) -> list[dict[str, Any]]:
    """Launches of C1, site logins and views of C2 on every day of ``DAYS`` (30 a weekday, 3 a
    weekend day; C1 fails one launch each Wednesday), with an optional launch outage (half fail),
    login outage (two thirds fail) or a quiet day without events."""
    rows = []
    for d in DAYS:
        date = str(d.date())
        n = 3 if d.day_of_week >= 5 else 30  # quiet weekends
        if date == quiet_day:
            n = 0
        for i in range(n):
            ts = d + pd.Timedelta(hours=9, minutes=i)
            fail = (date == course_outage and i < n // 2) or (i == 0 and d.day_of_week == 2)
            rows.append(
                {
                    "event_id": f"L{date}-{i}",
                    "user_id": f"U{i}",
                    "course_id": "C1",
                    "verb": "launch_failed" if fail else "launched",
                    "timestamp": ts,
                }
            )
            login_fail = date == site_outage and i < 2 * n // 3
            rows.append(
                {
                    "event_id": f"G{date}-{i}",
                    "user_id": f"U{i}",
                    "course_id": None,
                    "verb": "login_failed" if login_fail else "login",
                    "timestamp": ts,
                }
            )
            rows.append(
                {
                    "event_id": f"V{date}-{i}",
                    "user_id": f"U{i}",
                    "course_id": "C2",
                    "verb": "viewed",
                    "timestamp": ts,
                }
            )
    return rows


def daily_snap(activity: list[dict[str, Any]], as_of: str = AS_OF) -> Snapshot:
    """A snapshot of 30 learners and courses C1, C2 with ``activity``."""
    return snap(
        as_of,
        lms_users=[user(f"U{i}") for i in range(30)],
        courses=[course("C1"), course("C2")],
        activity=activity,
    )
