"""The demo set-up a newcomer gets from ``gapdesk demo``: accounts (and, as it grows, data)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.auth.accounts import create_user
from app.core.db import session_scope
from app.core.records import SnapshotRecord
from app.core.settings import get_settings
from app.demo.fixes import write_fixed_export
from app.demo.organisation import generate_demo_org
from app.detection.labelled import read_ground_truth, read_near_misses
from app.detection.run import places_of, run_detection
from app.learning.retraining import retrain
from app.sources.store import ingest, load_stored
from models.detectors.registry import build_detectors, run_detectors
from models.snapshot import Snapshot
from review_queue.decisions import decide
from review_queue.permissions import SYSTEM, Actor
from review_queue.propose import propose_findings
from review_queue.tables import Finding, Role, User
from review_queue.types import utcnow

DEMO_ACCOUNTS: tuple[tuple[str, str, Role], ...] = (
    ("admin", "admin@demo.gapdesk.local", Role.admin),
    ("instructor", "instructor@demo.gapdesk.local", Role.instructor),
    ("manager", "manager@demo.gapdesk.local", Role.manager),
)

NOT_A_GAP = "simulated: not in the demo's ground truth"
KNOWN_EXCEPTION = "simulated: a known exception of the demo organisation"


@dataclass(frozen=True)
class DemoAccount:
    """A demo account; ``password`` is set only when it was just created (shown once)."""

    name: str
    role: Role
    password: str | None


def ensure_demo_accounts(
    *, session: Session, instructor_email: str | None = None
) -> list[DemoAccount]:
    """Create the admin, instructor and manager demo accounts that do not exist yet.

    ``instructor_email`` ties the demo instructor to a course owner of the demo organisation, so
    the courses they may report about are theirs in the LMS data too.
    """
    out: list[DemoAccount] = []
    for name, email, role in DEMO_ACCOUNTS:
        if role is Role.instructor and instructor_email:
            email = instructor_email
        exists = session.exec(select(User).where(col(User.name) == name)).first()
        if exists is not None:
            out.append(DemoAccount(name, role, None))
            continue
        password = secrets.token_urlsafe(9)
        create_user(
            session=session, actor=SYSTEM, name=name, email=email, role=role, password=password
        )
        out.append(DemoAccount(name, role, password))
    return out


def busiest_owner_email(snapshot: Snapshot) -> str | None:
    """The email of the LMS user who owns the most active courses (the demo instructor)."""
    courses, users = snapshot["courses"], snapshot["lms_users"]
    owned = courses.loc[courses["status"] == "active", "owner_user_id"].dropna()
    active = users.loc[users["status"] == "active", ["user_id", "email"]]
    ranked = owned.value_counts()
    for user_id in ranked.index:
        match = active.loc[active["user_id"] == user_id, "email"]
        if len(match):
            return str(match.iloc[0]).strip().lower()
    return None


def simulate_review_weeks(
    *,
    engine: Engine,
    snapshot: Snapshot,
    truth: set[tuple[str, str]],
    reviewer: Actor,
    weeks: int = 4,
    now: datetime | None = None,
    near_misses: Mapping[tuple[str, str], str] | None = None,
    fixed: set[tuple[str, str]] | None = None,
) -> int:
    """Replay ``weeks`` of detection and reviewing through the real services, so a newcomer's
    Trends and Models pages show a living history instead of empty charts.

    Each week a share of the detectors' proposals enters the queue (proposed at that week's
    start) and the reviewer decides most of them during the week as the ground truth says: real
    gaps are confirmed, and those in ``fixed`` (repaired in the organisation's next export, see
    app.demo.fixes) resolved two days later, so a detection run on that export reopens none; near
    misses dismissed with their
    reason (the organisation's known exceptions), other false alarms as ``false_positive_rule``;
    about one in six waits untouched. Returns how many decisions it made.
    """
    now = now or utcnow()
    near_misses = near_misses or {}
    fixed = fixed or set()
    found = run_detectors(snapshot, build_detectors()).proposals
    found.sort(key=lambda p: (p.category, p.entity_key))
    places = places_of(snapshot, found)
    decisions = 0
    for week in range(weeks):
        start = now - timedelta(days=7 * (weeks - week))
        batch = [p for i, p in enumerate(found) if i % weeks == week]
        with session_scope(engine) as session:
            propose_findings(session=session, proposals=batch, now=start, places=places)
        keys = [(p.category, p.entity_key) for p in batch]
        with session_scope(engine) as session:
            ids = {
                (f.category, f.entity_key): f.id
                for f in session.exec(select(Finding).where(col(Finding.first_seen_at) == start))
            }
        for i, key in enumerate(keys):
            finding_id = ids.get(key)
            if finding_id is None or i % 6 == 5:
                continue  # still waiting for a reviewer
            at = start + timedelta(hours=3 + (i * 7) % 120)
            with session_scope(engine) as session:
                if key in truth:
                    decide(session=session, actor=reviewer, finding_id=finding_id,
                           action="confirm", now=at)  # fmt: skip
                    if key in fixed and at + timedelta(days=2) < now:
                        decide(session=session, actor=reviewer, finding_id=finding_id,
                               action="resolve", now=at + timedelta(days=2))  # fmt: skip
                        decisions += 1
                else:
                    why = KNOWN_EXCEPTION if key in near_misses else NOT_A_GAP
                    decide(session=session, actor=reviewer, finding_id=finding_id,
                           action="dismiss", reason=near_misses.get(key, "false_positive_rule"),
                           now=at, comment=why)  # fmt: skip
            decisions += 1
    return decisions


def set_up_demo_data(
    *, engine: Engine, echo: Callable[[str], None], weeks: int = 4
) -> list[DemoAccount]:
    """Generate the demo organisation, ingest it, seed accounts, and fill the queue, unless
    data already exists. With ``weeks`` > 0 the queue is filled by replaying that many weeks of
    detection and reviewing (see simulate_review_weeks); with 0, by one detection run. Returns
    the demo accounts, with the passwords of those it created."""
    with session_scope(engine) as session:
        has_data = session.exec(select(SnapshotRecord)).first() is not None
    if has_data:
        echo("Data already ingested: skipping the demo organisation.")
        return []
    folder = get_settings().home.resolve() / "demo-org"
    echo(f"Generating the demo organisation in {folder} ...")
    generate_demo_org(folder, seed=1, overwrite=True, near_misses=True)
    outcome = ingest(engine=engine, actor=SYSTEM, path=folder)
    snapshot = load_stored(outcome.record)
    with session_scope(engine) as session:
        accounts = ensure_demo_accounts(
            session=session, instructor_email=busiest_owner_email(snapshot)
        )
        admin = session.exec(select(User).where(col(User.name) == "admin")).one()
        reviewer = Actor.of(admin)
    if weeks > 0:
        truth = set(read_ground_truth(folder))
        later = folder.with_name("demo-org-after-fixes")
        fixed = write_fixed_export(folder, later, truth, as_of=pd.Timestamp(snapshot.as_of))
        echo(f"Ingested snapshot {outcome.record.id}; replaying {weeks} weeks of reviewing ...")
        made = simulate_review_weeks(
            engine=engine, snapshot=snapshot, truth=truth, reviewer=reviewer, weeks=weeks,
            near_misses=read_near_misses(folder), fixed=fixed,
        )  # fmt: skip
        echo(f"{made} simulated decisions by 'admin'; the newest findings still wait for you.")
        # The organisation's next export carries the repairs behind every "resolved": detection
        # on it is the demo's last run, so the Detectors page shows its figures and a fresh run
        # reopens nothing that was truly fixed.
        after = ingest(engine=engine, actor=SYSTEM, path=later)
        run = run_detection(engine=engine, actor=SYSTEM, snapshot_id=after.record.id)
        echo(
            f"Ingested the export after the fixes ({after.record.id}); detection on it: "
            f"{run.stats['new']} new, {run.stats['updated']} seen again, "
            f"{run.stats['regressions']} regressions."
        )
        with session_scope(engine) as session:
            trained = retrain(session=session, actor=reviewer)
        echo(
            f"Trained priority model {trained.version.version} on those decisions: "
            f"{'promoted' if trained.promoted else 'kept as a candidate'} ({trained.reason})."
        )
        return accounts
    echo(f"Ingested snapshot {outcome.record.id}; running detection ...")
    run = run_detection(engine=engine, actor=SYSTEM, snapshot_id=outcome.record.id)
    echo(f"Detection proposed {run.stats['new']} findings into the review queue.")
    return accounts
