"""The fixes the demo's replayed reviewer made, as the organisation's next export.

The replay marks a confirmed gap resolved only when a later snapshot no longer shows it, as in a
real organisation: someone repaired the data in the LMS, and the next export says so. Here that
export is the demo folder with the repairs applied to a copy of its small tables (``lms_users``,
``courses``, ``enrollments``); the event tables are copied unchanged, so history is what it was.

Only gaps that a person repairs in a record are fixed (an account, an owner, an enrolment);
gaps that are past events (an outage, a failed sync, a quiet day) stay what they were and are
never marked resolved by the replay.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from models.taxonomy import parse_entity_key

FIXED_TABLES = ("lms_users", "courses", "enrollments")
Key = tuple[str, str]


def _read(folder: Path, table: str) -> pd.DataFrame:
    # Every cell as the file spells it, so what is not repaired is written back byte for byte.
    return pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)


def _stamp(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Tables:
    """The small tables of one demo folder, repaired in place, and the export's ``as_of``."""

    def __init__(self, folder: Path, as_of: pd.Timestamp) -> None:
        self.users = _read(folder, "lms_users")
        self.courses = _read(folder, "courses")
        self.enrollments = _read(folder, "enrollments")
        self.people = _read(folder, "people")
        self.as_of = as_of

    def suspend(self, user_ids: Iterable[str]) -> bool:
        rows = self.users["user_id"].isin(list(user_ids)) & self.users["status"].eq("active")
        self.users.loc[rows, "status"] = "suspended"
        return bool(rows.any())

    def valid_owner(self, avoid: set[str]) -> str | None:
        """An active user linked to an active person, owning some course not being repaired."""
        active_people = set(
            self.people.loc[self.people["employment_status"].eq("active"), "person_id"]
        )
        ok = self.users[
            self.users["status"].eq("active") & self.users["person_id"].isin(active_people)
        ]
        owners = self.courses.loc[~self.courses["course_id"].isin(avoid), "owner_user_id"]
        for owner in owners.value_counts().index:
            if owner in set(ok["user_id"]):
                return str(owner)
        return None


def _orphan_account(t: _Tables, key: dict[str, str]) -> bool:
    return t.suspend([key["user"]])  # the account nobody should hold is switched off


def _record_mismatch(t: _Tables, key: dict[str, str]) -> bool:
    user = t.users["user_id"].eq(key["user"])
    person = t.users.loc[user, "person_id"]
    hr = t.people.loc[t.people["person_id"].isin(person), "email"]
    if hr.empty:
        return False
    t.users.loc[user, "email"] = hr.iloc[0]  # the LMS takes the e-mail HR holds
    return True


def _duplicate_account(t: _Tables, key: dict[str, str]) -> bool:
    mine = t.users[t.users["person_id"].eq(key["person"]) & t.users["status"].eq("active")]
    if len(mine) < 2:
        return False
    # The account whose e-mail is spelled as HR spells it stays; the copies are switched off.
    keep = mine["email"].eq(mine["email"].str.lower()).idxmax()
    return t.suspend(mine.drop(index=keep)["user_id"])


def _unowned_course(t: _Tables, key: dict[str, str], avoid: set[str]) -> bool:
    owner = t.valid_owner(avoid)
    if owner is None:
        return False
    t.courses.loc[t.courses["course_id"].eq(key["course"]), "owner_user_id"] = owner
    return True


def _enrollment_failed(t: _Tables, key: dict[str, str]) -> bool:
    rows = t.enrollments["enrollment_id"].eq(key["enrollment"])
    # Enrolled again, two days ago: as fresh as the organisation's own new enrolments.
    t.enrollments.loc[rows, ["status", "enrolled_at", "progress_pct"]] = [
        "enrolled", _stamp(t.as_of - pd.Timedelta(days=2)), ""
    ]  # fmt: skip
    return bool(rows.any())


def _compliance_overdue(t: _Tables, key: dict[str, str]) -> bool:
    rows = t.enrollments["enrollment_id"].eq(key["enrollment"])
    t.enrollments.loc[rows, ["status", "completed_at", "progress_pct"]] = [
        "completed", _stamp(t.as_of - pd.Timedelta(hours=20)), "100.0"
    ]  # fmt: skip
    return bool(rows.any())


def _enrollment_missing(t: _Tables, key: dict[str, str]) -> bool:
    users = t.users[t.users["person_id"].eq(key["person"]) & t.users["status"].eq("active")]
    course = t.courses[t.courses["course_id"].eq(key["course"])]
    if users.empty or course.empty:
        return False
    enrolled = t.as_of - pd.Timedelta(days=2)
    due_days = course["due_days"].iloc[0]
    due = _stamp(enrolled + pd.Timedelta(days=int(float(due_days)))) if due_days else ""
    number = int(t.enrollments["enrollment_id"].str[1:].astype(int).max()) + 1
    row = {c: "" for c in t.enrollments.columns}
    row.update(
        enrollment_id=f"E{number:08d}", user_id=users["user_id"].iloc[0],
        course_id=key["course"], source="rule", status="enrolled",
        enrolled_at=_stamp(enrolled), due_at=due,
    )  # fmt: skip
    t.enrollments = pd.concat([t.enrollments, pd.DataFrame([row])], ignore_index=True)
    return True


REPAIRS: dict[str, Callable[[_Tables, dict[str, str]], bool]] = {
    "orphan_account": _orphan_account,
    "record_mismatch": _record_mismatch,
    "duplicate_account": _duplicate_account,
    "enrollment_failed": _enrollment_failed,
    "compliance_overdue": _compliance_overdue,
    "enrollment_missing": _enrollment_missing,
}
FIXABLE = frozenset({*REPAIRS, "unowned_course"})


def write_fixed_export(
    folder: Path, out: Path, keys: Iterable[Key], *, as_of: pd.Timestamp
) -> set[Key]:
    """Copy the demo export in ``folder`` to ``out`` with the gaps ``keys`` repaired where a
    person would repair them (categories in FIXABLE); returns the keys it repaired."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tables = _Tables(folder, as_of)
    fixed: set[Key] = set()
    todo = sorted(k for k in keys if k[0] in FIXABLE)
    unowned = {parse_entity_key(e)["course"] for c, e in todo if c == "unowned_course"}
    for category, entity in todo:
        parts = parse_entity_key(entity)
        if category == "unowned_course":
            done = _unowned_course(tables, parts, unowned)
        else:
            done = REPAIRS[category](tables, parts)
        if done:
            fixed.add((category, entity))
    frames = {
        "lms_users": tables.users,
        "courses": tables.courses,
        "enrollments": tables.enrollments,
    }
    for item in folder.iterdir():
        if item.is_file() and item.stem not in FIXED_TABLES:
            shutil.copy2(item, out / item.name)
    for name, frame in frames.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    source = (out / "snapshot.toml").read_text(encoding="utf-8")
    (out / "snapshot.toml").write_text(
        source.replace('source = "', 'source = "after the fixes: ', 1), encoding="utf-8"
    )
    return fixed
