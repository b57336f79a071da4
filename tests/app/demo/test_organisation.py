"""The demo organisation: contract shape, determinism, and ground truth that the reference rules
of contracts/gap-taxonomy.md reproduce exactly.

The checker below is a deliberately plain, independent reading of each reference rule; it shares
no code with the generator.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from app.cli.demo_data import demo_data_command
from app.core.errors import UserError
from app.demo.organisation import generate_demo_org
from models.taxonomy import DETECTED_CATEGORIES, parse_entity_key

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
COLUMNS = {
    "people": "person_id email full_name department job_title manager_person_id "
    "employment_status hire_date termination_date",
    "lms_users": "user_id person_id email status created_at last_login_at",
    "courses": "course_id title department owner_user_id is_compliance due_days grading_sla_days "
    "status",
    "enrollments": "enrollment_id user_id course_id source status enrolled_at due_at completed_at "
    "withdrawn_at progress_pct",
    "enrollment_rules": "rule_id course_id department job_title active grace_days",
    "activity": "event_id user_id course_id verb timestamp value",
    "submissions": "submission_id user_id course_id assignment_id submitted_at graded_at score",
    "notifications": "notification_id user_id course_id kind channel sent_at delivered_at bounced "
    "opened_at",
    "sync_runs": "run_id integration started_at finished_at status records_read records_written "
    "error_count",
}
ENUMS = {
    ("people", "employment_status"): {"active", "leave", "terminated"},
    ("lms_users", "status"): {"active", "suspended", "deleted"},
    ("courses", "status"): {"active", "archived"},
    ("courses", "is_compliance"): {"true", "false"},
    ("enrollments", "source"): {"rule", "manual", "hr_sync", "self"},
    ("enrollments", "status"): {"enrolled", "in_progress", "completed", "withdrawn", "failed"},
    ("enrollment_rules", "active"): {"true", "false"},
    ("activity", "verb"): {
        "login",
        "login_failed",
        "launched",
        "launch_failed",
        "viewed",
        "progressed",
        "submitted",
        "completed",
        "passed",
        "failed",
    },
    ("notifications", "kind"): {"enrollment", "reminder", "overdue", "feedback", "other"},
    ("notifications", "channel"): {"email", "sms", "push", "in_app"},
    ("notifications", "bounced"): {"true", "false"},
    ("sync_runs", "status"): {"success", "partial", "failed", "running"},
}
TIMESTAMPS = {
    "lms_users": ("created_at", "last_login_at"),
    "enrollments": ("enrolled_at", "due_at", "completed_at", "withdrawn_at"),
    "activity": ("timestamp",),
    "submissions": ("submitted_at", "graded_at"),
    "notifications": ("sent_at", "delivered_at", "opened_at"),
    "sync_runs": ("started_at", "finished_at"),
}
ANOMALY = {"notification_outage", "access_failure", "reporting_gap", "engagement_anomaly"}


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


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


@pytest.fixture(scope="module")
def default_org(tmp_path_factory: pytest.TempPathFactory) -> Snap:
    folder = tmp_path_factory.mktemp("demo-default")
    generate_demo_org(folder, seed=1)
    return Snap(folder)


@pytest.fixture(scope="module", params=[2, 3, 4])
def small_org(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Snap:
    folder = tmp_path_factory.mktemp(f"demo-small-{request.param}")
    generate_demo_org(folder, seed=request.param, people=400, days=49)
    return Snap(folder)


# ---------------------------------------------------------------------------------------------
# The reference rules, read literally
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_contract_shape(default_org: Snap) -> None:
    for name in TABLES:
        raw = default_org.raw[name]
        assert list(raw.columns) == COLUMNS[name].split(), name
        assert len(raw) > 0, name
        id_col = raw.columns[0]
        assert raw[id_col].is_unique and (raw[id_col] != "").all(), name
    for (table, col), allowed in ENUMS.items():
        assert set(default_org.raw[table][col]) <= allowed, (table, col)
    for table, cols in TIMESTAMPS.items():
        for col in cols:
            filled = default_org.raw[table][col]
            filled = filled[filled != ""]
            assert filled.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all(), (table, col)
    enr = default_org["enrollments"]
    progress = pd.to_numeric(enr["progress_pct"])
    assert progress.dropna().between(0, 100).all()
    users = default_org["lms_users"]
    assert set(enr["user_id"]) <= set(users["user_id"])
    assert set(default_org["activity"]["user_id"]) <= set(users["user_id"])
    assert set(enr["course_id"]) <= set(default_org["courses"]["course_id"])
    # Nothing happens after the moment the snapshot describes.
    for table, cols in TIMESTAMPS.items():
        for col in cols:
            if col != "due_at":
                assert (default_org[table][col].dropna() < default_org.as_of).all(), (table, col)


def test_looks_like_an_organisation(default_org: Snap) -> None:
    people = default_org["people"]
    assert people["department"].nunique() >= 6
    assert people["job_title"].nunique() >= 20
    assert people["manager_person_id"].notna().mean() > 0.99
    assert set(people["employment_status"]) == {"active", "leave", "terminated"}
    enr = default_org["enrollments"]
    assert set(enr["source"]) == {"rule", "manual", "hr_sync", "self"}
    assert 8 <= len(enr) / len(people) <= 14
    act = default_org["activity"]
    per_weekday = act["timestamp"].dt.day_of_week.value_counts().sort_index()
    assert per_weekday[5] < 0.45 * per_weekday[1] and per_weekday[6] < 0.45 * per_weekday[1]
    daily = act.groupby(act["timestamp"].dt.normalize()).size()
    thanksgiving = daily[pd.Timestamp("2026-11-26", tz=UTC)]
    usual_thursday = daily[daily.index.day_of_week == 3].median()
    assert thanksgiving < 0.5 * usual_thursday
    notes = default_org["notifications"]
    assert set(notes["channel"]) == {"email", "sms", "push", "in_app"}
    assert (notes["bounced"] == "true").mean() < 0.03
    runs = default_org["sync_runs"]
    hr = runs[runs["integration"] == "hr_to_lms"]["started_at"]
    minutes = hr.dt.hour * 60 + hr.dt.minute
    assert minutes.between(110, 130).all()  # the nightly HR sync, around 02:00


def test_every_category_injected_10_to_40_times(default_org: Snap) -> None:
    for category in DETECTED_CATEGORIES:
        if category == "learner_report":
            continue
        keys = default_org.truth.get(category, set())
        assert 10 <= len(keys) <= 40, (category, len(keys))
        for key in keys:
            parse_entity_key(key)  # well-formed, names in the contract's order
    assert "learner_report" not in default_org.truth


@pytest.mark.parametrize("category", sorted(HEURISTIC_RULES))
def test_ground_truth_is_what_the_reference_rule_finds(small_org: Snap, category: str) -> None:
    found = HEURISTIC_RULES[category](small_org)
    truth = small_org.truth.get(category, set())
    assert truth, category
    assert found == truth, (category, sorted(found - truth)[:5], sorted(truth - found)[:5])


def test_reference_rules_at_default_size(default_org: Snap) -> None:
    for category, rule in HEURISTIC_RULES.items():
        assert rule(default_org) == default_org.truth[category], category
    # Either reading of "the last 30 days" of grading gives the same courses.
    assert (
        rule_feedback_delayed(default_org, by="graded_at") == default_org.truth["feedback_delayed"]
    )


def test_reporting_gaps_are_the_only_silent_days(default_org: Snap) -> None:
    assert rule_reporting_gap(default_org) == default_org.truth["reporting_gap"]
    # Quiet weekends and holidays stay well above a missing day.
    counts = daily_counts(default_org)
    gaps = set()
    for key in default_org.truth["reporting_gap"]:
        parts = parse_entity_key(key)
        gaps.add((parts.get("course", ""), parts["date"]))
    weekday = counts.columns.day_of_week
    for stream, row in counts.iterrows():
        usual = row.groupby(weekday).median().reindex(weekday).to_numpy()
        for day, n, u in zip(counts.columns, row.to_numpy(), usual, strict=True):
            if (stream, day.date().isoformat()) not in gaps:
                assert n >= 0.12 * u, (stream, day, n, u)


def test_outages_and_access_failures_stand_out(default_org: Snap) -> None:
    n = default_org["notifications"]
    n = n[n["sent_at"] < default_org.as_of - DAY]
    failed = n["delivered_at"].isna() | (n["bounced"] == "true")
    share = failed.groupby([n["channel"], n["sent_at"].dt.date.astype(str)]).mean()
    injected = {
        tuple(k.replace("channel=", "").replace("date=", "").split(";"))
        for k in default_org.truth["notification_outage"]
    }
    for (channel, day), value in share.items():
        if (channel, day) in injected:
            assert value > 0.75, (channel, day)
        else:
            assert value < 0.25, (channel, day, value)

    act = default_org["activity"]
    act = act.assign(day=act["timestamp"].dt.date.astype(str), course=act["course_id"].fillna(""))
    truth = default_org.truth["access_failure"]
    for verb, ok in (("launch_failed", "launched"), ("login_failed", "login")):
        sub = act[act["verb"].isin([verb, ok])]
        g = (
            sub.assign(fail=sub["verb"] == verb)
            .groupby(["course", "day"])["fail"]
            .agg(fails="sum", total="size")
        )
        for (course, day), row in g.iterrows():
            key = f"course={course};date={day}" if course else f"date={day}"
            if key in truth:
                assert row["fails"] >= 20 and row["fails"] / row["total"] > 0.6, key
            else:
                share = row["fails"] / row["total"]
                assert row["fails"] < 10 or share < 0.1, (key, row.to_dict())


def test_engagement_anomalies_are_far_from_peers(default_org: Snap) -> None:
    act = default_org["activity"]
    act = act[act["course_id"].notna()]
    keys = default_org.truth["engagement_anomaly"]
    per_user = act.groupby(["course_id", "user_id"]).size()
    for key in keys:
        parts = parse_entity_key(key)
        if "user" in parts:
            peers = per_user.loc[parts["course"]]
            own = peers[parts["user"]]
            peers = peers.drop(parts["user"])
            assert own >= 2 * peers.quantile(0.99) and own >= 5 * peers.median(), key
        else:
            c = act[act["course_id"] == parts["course"]]
            week = c["timestamp"].dt.strftime("%G-W%V")
            per_learner = c.groupby(week).size() / c.groupby(week)["user_id"].nunique()
            others = per_learner.drop(parts["week"])
            assert per_learner[parts["week"]] >= 2.5 * others.median(), key


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    def digest(folder: Path) -> dict[str, str]:
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
        }

    generate_demo_org(tmp_path / "a", seed=7, people=400, days=42)
    generate_demo_org(tmp_path / "b", seed=7, people=400, days=42)
    generate_demo_org(tmp_path / "c", seed=8, people=400, days=42)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert len(a) == 11
    assert a == b
    assert a["people.csv"] != c["people.csv"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"people": 10}, "people must be between"),
        ({"days": 7}, "days must be between"),
        ({"seed": -1}, "seed must be"),
        ({"as_of": datetime(2026, 11, 27, 12, tzinfo=UTC)}, "as_of must be a UTC midnight"),
    ],
)
def test_bad_parameters_are_refused_and_write_nothing(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(UserError, match=message):
        generate_demo_org(out, **kwargs)  # type: ignore[arg-type]
    assert not out.exists()


def test_existing_output_is_not_overwritten_silently(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("mine")
    with pytest.raises(UserError, match=r"already holds people\.csv"):
        generate_demo_org(tmp_path, seed=1, people=300, days=42)
    assert (tmp_path / "people.csv").read_text() == "mine"


def test_cli_writes_the_organisation_and_fails_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        demo_data_command, [str(tmp_path / "org"), "--seed", "3", "--people", "300", "--days", "42"]
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "org" / "ground_truth.csv").exists()
    assert "ground_truth.csv" in ok.output
    again = runner.invoke(demo_data_command, [str(tmp_path / "org"), "--people", "300"])
    assert again.exit_code != 0 and "--force" in again.output
    bad = runner.invoke(demo_data_command, [str(tmp_path / "x"), "--people", "5"])
    assert bad.exit_code != 0
    assert "people must be between" in bad.output
    assert "Traceback" not in bad.output
    near = runner.invoke(
        demo_data_command,
        [str(tmp_path / "org"), "--people", "300", "--days", "42", "--near-misses", "--force"],
    )
    assert near.exit_code == 0, near.output
    assert "near misses in 3 categories" in near.output
    assert (tmp_path / "org" / "near_misses.csv").exists()


def test_another_as_of_moves_the_whole_organisation(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        demo_data_command,
        [str(tmp_path), "--seed", "5", "--people", "300", "--days", "40", "--as-of", "2025-01-06"],
    )
    assert result.exit_code == 0, result.output
    snap = Snap(tmp_path)
    assert snap.as_of == pd.Timestamp("2025-01-06", tz=UTC)
    act = snap["activity"]["timestamp"]
    assert act.max() < snap.as_of and act.min() >= snap.as_of - 40 * DAY
    # New Year's Day (a Wednesday) is quiet, like a weekend day.
    daily = act.groupby(act.dt.normalize()).size()
    assert (
        daily[pd.Timestamp("2025-01-01", tz=UTC)] < 0.6 * daily[pd.Timestamp("2024-12-31", tz=UTC)]
    )
    for category, rule in HEURISTIC_RULES.items():
        assert rule(snap) == snap.truth[category], category


# ---------------------------------------------------------------------------------------------
# Near misses: look-alikes the rules flag and the organisation knows to be fine
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def near_org(tmp_path_factory: pytest.TempPathFactory) -> tuple[Snap, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("demo-near")
    summary = generate_demo_org(folder, seed=2, people=400, days=49, near_misses=True)
    near = pd.read_csv(folder / "near_misses.csv", dtype=str, keep_default_na=False)
    assert summary.near_misses == near["category"].value_counts().to_dict()
    return Snap(folder), near


def test_near_misses_are_what_the_rules_flag_beyond_the_truth(
    near_org: tuple[Snap, pd.DataFrame],
) -> None:
    snap, near = near_org
    by_category = {c: set(g["entity_key"]) for c, g in near.groupby("category")}
    assert set(by_category) == {
        "enrollment_missing", "compliance_overdue", "notification_undelivered",
    }  # fmt: skip
    assert set(near["reason"]) == {"expected"} and near["explanation"].str.len().min() > 20
    for category, rule in HEURISTIC_RULES.items():
        misses = by_category.get(category, set())
        truth = snap.truth.get(category, set())
        assert truth and not (misses & truth), category
        assert rule(snap) == truth | misses, category


def test_each_kind_of_near_miss_sits_in_one_place(near_org: tuple[Snap, pd.DataFrame]) -> None:
    snap, near = near_org
    keys = {c: [parse_entity_key(k) for k in g["entity_key"]] for c, g in near.groupby("category")}
    assert len({k["course"] for k in keys["enrollment_missing"]}) == 1
    enr = snap["enrollments"].set_index("enrollment_id")["course_id"]
    assert len({enr[k["enrollment"]] for k in keys["compliance_overdue"]}) == 1
    person = snap["lms_users"].set_index("user_id")["person_id"]
    dept = snap["people"].set_index("person_id")["department"]
    assert len({dept[person[k["user"]]] for k in keys["notification_undelivered"]}) == 1


def test_near_misses_are_reproducible_and_never_left_stale(tmp_path: Path) -> None:
    def digest(folder: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}

    generate_demo_org(tmp_path / "a", seed=5, people=400, days=42, near_misses=True)
    generate_demo_org(tmp_path / "b", seed=5, people=400, days=42, near_misses=True)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    generate_demo_org(tmp_path / "c", seed=5, people=400, days=42)
    generate_demo_org(tmp_path / "a", seed=5, people=400, days=42, overwrite=True)
    assert digest(tmp_path / "a") == digest(tmp_path / "c")
    assert not (tmp_path / "a" / "near_misses.csv").exists()
