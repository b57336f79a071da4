"""The generated tables read the way the contract types them, and the reference rules of
contracts/gap-taxonomy.md read literally: what the demo organisation's tests check it against.

The rules are a deliberately plain, independent reading of each reference rule; they share no code
with the generator.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
TABLES = (
    "people",
    "lms_users",
    "courses",
    "enrollments",
    "enrollment_rules",
    "activity",
    "submissions",
    "notifications",
    "sync_runs",
)
TIMESTAMPS = {
    "lms_users": ("created_at", "last_login_at"),
    "enrollments": ("enrolled_at", "due_at", "completed_at", "withdrawn_at"),
    "activity": ("timestamp",),
    "submissions": ("submitted_at", "graded_at"),
    "notifications": ("sent_at", "delivered_at", "opened_at"),
    "sync_runs": ("started_at", "finished_at"),
}


class Snap:
    """The generated tables, typed the way the contract describes them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.raw = {
            t: pd.read_csv(folder / f"{t}.csv", dtype=str, keep_default_na=False) for t in TABLES
        }
        self.t: dict[str, pd.DataFrame] = {}
        for name, frame in self.raw.items():
            frame = frame.replace("", np.nan)
            for col in TIMESTAMPS.get(name, ()):
                frame[col] = pd.to_datetime(frame[col], utc=True)
            self.t[name] = frame
        toml = (folder / "snapshot.toml").read_text()
        self.as_of = pd.Timestamp(toml.split('"')[1])
        truth = pd.read_csv(folder / "ground_truth.csv", dtype=str)
        self.truth = {c: set(g["entity_key"]) for c, g in truth.groupby("category")}

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.t[name]


def rule_enrollment_missing(s: Snap) -> set[str]:
    people, rules, users, enr = s["people"], s["enrollment_rules"], s["lms_users"], s["enrollments"]
    hire = pd.to_datetime(people["hire_date"], utc=True)
    out = set()
    have = set(
        zip(
            enr.merge(users[["user_id", "person_id"]], on="user_id")["person_id"],
            enr.merge(users[["user_id", "person_id"]], on="user_id")["course_id"],
            strict=True,
        )
    )
    for rule in rules[rules["active"] == "true"].itertuples():
        grace = int(rule.grace_days) if isinstance(rule.grace_days, str) else 3
        match = (people["employment_status"] == "active") & (s.as_of - hire > grace * DAY)
        if isinstance(rule.department, str):
            match &= people["department"] == rule.department
        if isinstance(rule.job_title, str):
            match &= people["job_title"] == rule.job_title
        for person in people.loc[match, "person_id"]:
            if (person, rule.course_id) not in have:
                out.add(f"person={person};course={rule.course_id}")
    return out


def rule_enrollment_failed(s: Snap) -> set[str]:
    enr, act, notes = s["enrollments"], s["activity"], s["notifications"]
    acted = set(zip(act["user_id"], act["course_id"], strict=True))
    told = set(zip(notes["user_id"], notes["course_id"], strict=True))
    out = set(enr.loc[enr["status"] == "failed", "enrollment_id"])
    progress = pd.to_numeric(enr["progress_pct"])
    stale = (
        (enr["status"] == "enrolled")
        & enr["source"].isin(["rule", "hr_sync"])
        & (enr["enrolled_at"] < s.as_of - 14 * DAY)
        & (progress.isna() | (progress == 0))
    )
    heard = acted | told
    for row in enr[stale].itertuples():
        if (row.user_id, row.course_id) not in heard:
            out.add(row.enrollment_id)
    return {f"enrollment={e}" for e in out}


def rule_notification_undelivered(s: Snap) -> set[str]:
    n = s["notifications"]
    n = n[n["sent_at"] >= s.as_of - 30 * DAY]
    g = n.groupby("user_id").agg(
        sent=("notification_id", "size"),
        bounced=("bounced", lambda b: (b == "true").sum()),
        delivered=("delivered_at", "count"),
    )
    bad = g[(g["sent"] >= 3) & ((g["bounced"] >= 3) | (g["delivered"] == 0))]
    return {f"user={u}" for u in bad.index}


def rule_orphan_account(s: Snap) -> set[str]:
    users, people = s["lms_users"], s["people"]
    status = dict(zip(people["person_id"], people["employment_status"], strict=True))
    out = set()
    for u in users[users["status"] == "active"].itertuples():
        if (
            not isinstance(u.person_id, str)
            or status.get(u.person_id, "terminated") == "terminated"
        ):
            out.add(f"user={u.user_id}")
    return out


def rule_record_mismatch(s: Snap) -> set[str]:
    m = s["lms_users"].merge(s["people"], on="person_id", suffixes=("_u", "_p"))
    differ = m["email_u"].str.strip().str.lower() != m["email_p"].str.strip().str.lower()
    return {f"user={u}" for u in m.loc[differ, "user_id"]}


def rule_duplicate_account(s: Snap) -> set[str]:
    u = s["lms_users"]
    counts = u[(u["status"] == "active") & u["person_id"].notna()]["person_id"].value_counts()
    return {f"person={p}" for p in counts[counts >= 2].index}


def rule_sync_failure(s: Snap) -> set[str]:
    runs = s["sync_runs"]
    read = runs["records_read"].astype(int)
    written = runs["records_written"].astype(int)
    never = runs["finished_at"].isna() & (runs["started_at"] < s.as_of - DAY)
    bad = runs["status"].isin(["failed", "partial"]) | never | (written < read)
    out = {
        f"integration={r.integration};date={r.started_at.date().isoformat()}"
        for r in runs[bad].itertuples()
    }
    for name, g in runs.groupby("integration"):
        starts = [*g["started_at"].sort_values().tolist(), s.as_of]
        usual = pd.Series(np.diff(starts[:-1])).median()
        for a, b in itertools.pairwise(starts):
            if b - a > 2 * usual:
                out.add(f"integration={name};date={(a + 2 * usual).date().isoformat()}")
    return out


def rule_progress_inconsistent(s: Snap) -> set[str]:
    enr, act = s["enrollments"], s["activity"]
    progress = pd.to_numeric(enr["progress_pct"])
    done = enr["status"] == "completed"
    bad = done & ((progress < 100) | progress.isna() | enr["completed_at"].isna())
    bad |= enr["completed_at"] < enr["enrolled_at"]
    span_lo, span_hi = act["timestamp"].min(), act["timestamp"].max()
    acted = set(zip(act["user_id"], act["course_id"], strict=True))
    inside = done & (enr["completed_at"] >= span_lo) & (enr["completed_at"] <= span_hi)
    silent = [(u, c) not in acted for u, c in zip(enr["user_id"], enr["course_id"], strict=True)]
    bad |= inside & pd.Series(silent, index=enr.index)
    bad |= (enr["status"] == "withdrawn") & enr["withdrawn_at"].isna()
    bad |= (enr["status"] != "withdrawn") & enr["withdrawn_at"].notna()
    out = set(enr.loc[bad, "enrollment_id"])
    prog = act[act["verb"] == "progressed"].copy()
    prog["value"] = pd.to_numeric(prog["value"])
    prog = prog.sort_values(["user_id", "course_id", "timestamp", "value"], kind="stable")
    drops = prog.groupby(["user_id", "course_id"])["value"].diff() < 0
    pairs = set(zip(prog.loc[drops, "user_id"], prog.loc[drops, "course_id"], strict=True))
    for row in enr.itertuples():
        if (row.user_id, row.course_id) in pairs:
            out.add(row.enrollment_id)
    return {f"enrollment={e}" for e in out}


def rule_feedback_delayed(s: Snap, by: str = "submitted_at") -> set[str]:
    subs, courses = s["submissions"], s["courses"]
    sla = dict(
        zip(courses["course_id"], courses["grading_sla_days"].fillna("7").astype(int), strict=True)
    )
    subs = subs.assign(sla=subs["course_id"].map(sla) * DAY)
    out = set(
        subs.loc[
            subs["graded_at"].isna() & (s.as_of - subs["submitted_at"] > subs["sla"]), "course_id"
        ]
    )
    recent = subs[subs["graded_at"].notna() & (subs[by] >= s.as_of - 30 * DAY)]
    wait = (recent["graded_at"] - recent["submitted_at"]).groupby(recent["course_id"]).median()
    out |= {c for c, w in wait.items() if w > sla[c] * DAY}
    return {f"course={c}" for c in out}


def rule_compliance_overdue(s: Snap) -> set[str]:
    enr = s["enrollments"].merge(s["courses"][["course_id", "is_compliance"]], on="course_id")
    bad = (
        (enr["is_compliance"] == "true")
        & (enr["due_at"] < s.as_of)
        & ~enr["status"].isin(["completed", "withdrawn"])
    )
    return {f"enrollment={e}" for e in enr.loc[bad, "enrollment_id"]}


def rule_unowned_course(s: Snap) -> set[str]:
    courses, users, people = s["courses"], s["lms_users"], s["people"]
    ustatus = dict(zip(users["user_id"], users["status"], strict=True))
    uperson = dict(zip(users["user_id"], users["person_id"], strict=True))
    pstatus = dict(zip(people["person_id"], people["employment_status"], strict=True))
    out = set()
    for c in courses[courses["status"] == "active"].itertuples():
        owner = c.owner_user_id
        if (
            not isinstance(owner, str)
            or owner not in ustatus
            or ustatus[owner] != "active"
            or pstatus.get(uperson[owner]) == "terminated"
        ):
            out.add(f"course={c.course_id}")
    return out


HEURISTIC_RULES = {
    "enrollment_missing": rule_enrollment_missing,
    "enrollment_failed": rule_enrollment_failed,
    "notification_undelivered": rule_notification_undelivered,
    "orphan_account": rule_orphan_account,
    "record_mismatch": rule_record_mismatch,
    "duplicate_account": rule_duplicate_account,
    "sync_failure": rule_sync_failure,
    "progress_inconsistent": rule_progress_inconsistent,
    "feedback_delayed": rule_feedback_delayed,
    "compliance_overdue": rule_compliance_overdue,
    "unowned_course": rule_unowned_course,
}


def daily_counts(s: Snap) -> pd.DataFrame:
    """Events per stream ("" = site-level) and day, zero-filled across the window."""
    act = s["activity"]
    days = pd.date_range(
        act["timestamp"].min().normalize(), act["timestamp"].max().normalize(), freq="D"
    )
    counts = (
        act.assign(stream=act["course_id"].fillna(""), day=act["timestamp"].dt.normalize())
        .groupby(["stream", "day"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=days, fill_value=0)
    )
    return counts


def rule_reporting_gap(s: Snap) -> set[str]:
    """Zero-event days inside the span of each stream that reports on (nearly) every day."""
    out = set()
    for stream, row in daily_counts(s).iterrows():
        nz = np.flatnonzero(row.to_numpy())
        span = row.iloc[nz[0] : nz[-1] + 1]
        if (span > 0).mean() < 0.9:
            continue
        for day in span.index[span.to_numpy() == 0]:
            d = day.date().isoformat()
            out.add(f"course={stream};date={d}" if stream else f"date={d}")
    return out
