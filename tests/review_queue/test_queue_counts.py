"""The queue's count rows stay equal to a full COUNT through every kind of change, on both
databases, and with concurrent writers and folds on PostgreSQL."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, text
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.db import alembic_config, build_engine, upgrade
from models.detectors.base import Proposal
from review_queue.claims import release_idle_claims
from review_queue.decisions import bulk_decide, decide, undo_last, wake_snoozed
from review_queue.findings import queue_counts
from review_queue.learner_reports import file_learner_report
from review_queue.propose import propose_findings
from review_queue.queue import QueueFilter, list_findings
from review_queue.queue_counts import DIMENSIONS, counts_by, fold_if_due, fold_queue_counts
from review_queue.tables import Finding
from review_queue.types import utcnow
from tests.conftest import BACKENDS, empty_tables
from tests.helpers.queue_fixtures import add_finding, add_people

CATEGORIES = ("compliance_overdue", "enrollment_missing", "notification_undelivered")
DEPARTMENTS = ("Sales", "Legal", None)
ACTIONS = ("claim", "release", "confirm", "dismiss", "resolve", "snooze", "reopen", "assign")


def _truth(session: Session) -> dict[tuple[Any, ...], int]:
    columns = [getattr(Finding, d) for d in DIMENSIONS]
    rows = session.execute(sa_select(*columns, func.count()).group_by(*columns)).all()
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


def _summary(session: Session) -> dict[tuple[Any, ...], int]:
    return counts_by(session, lambda q: q, by=DIMENSIONS)


def _proposals(rng: random.Random, size: int) -> list[Proposal]:
    out = []
    for _ in range(size):
        n = rng.randrange(40)
        category = rng.choice(CATEGORIES)
        out.append(
            Proposal(
                category=category,
                entity_key=f"enrollment=E{n}",
                title=f"Enrolment E{n} gap",
                score=rng.random(),
                severity=rng.choice(["low", "high"]),
                detector=rng.choice([category, f"{category}+z_model"]),
                detector_version="1",
            )
        )
    return out


def _places(rng: random.Random) -> dict[str, tuple[str | None, str | None]]:
    return {f"enrollment=E{n}": (f"C{n % 4}", rng.choice(DEPARTMENTS)) for n in range(40)}


EVERY_KIND = ("propose", "decide", "decide", "decide", "undo", "bulk", "wake", "report", "idle",
              "raw", "fold")  # fmt: skip
# What reviewers do at the same time (a detection run proposes alone; scripts run alone).
REVIEWING = ("decide", "decide", "decide", "undo", "bulk", "wake", "idle", "fold")


def _random_change(
    session: Session,
    rng: random.Random,
    people: dict[str, Any],
    kinds: tuple[str, ...] = EVERY_KIND,
) -> str:
    """One change of a random kind through the services (or raw SQL, as a script would)."""
    ids = [int(i or 0) for i in session.exec(select(col(Finding.id))).all()]
    kind = rng.choice(kinds)
    admin = people[rng.choice(["ada", "bo"])]
    if kind == "propose" or not ids:
        propose_findings(session=session, proposals=_proposals(rng, 8), places=_places(rng))
    elif kind == "decide":
        action = rng.choice(ACTIONS)
        extra: dict[str, Any] = {}
        if action == "dismiss":
            extra["reason"] = "expected"
        if action == "snooze":
            extra["until"] = utcnow() + timedelta(days=rng.choice([-1, 3]))
        if action == "assign":
            extra["assignee_id"] = rng.choice([people["ada"].id, people["bo"].id, None])
        try:
            decide(session=session, actor=admin, finding_id=rng.choice(ids), action=action,
                   **extra)  # fmt: skip
        except Exception as exc:  # a refusal (wrong state, no such move) changes nothing
            assert "Refused" in type(exc).__name__ or "Decided" in type(exc).__name__, exc
    elif kind == "undo":
        try:
            undo_last(session=session, actor=admin)
        except Exception as exc:
            assert "Refused" in type(exc).__name__ or "Decided" in type(exc).__name__, exc
    elif kind == "bulk":
        action = rng.choice(["confirm", "dismiss", "assign", "snooze"])
        args: dict[str, Any] = {
            "dismiss": {"reason": "expected"},
            "assign": {"assignee_id": admin.id},
            "snooze": {"until": utcnow() + timedelta(hours=1)},
        }.get(action, {})
        try:
            bulk_decide(session=session, actor=admin, action=action,
                        finding_ids=rng.sample(ids, min(5, len(ids))), **args)  # fmt: skip
        except Exception as exc:
            assert "Refused" in type(exc).__name__, exc
    elif kind == "wake":
        wake_snoozed(session=session, now=utcnow() + timedelta(days=1))
    elif kind == "report":
        file_learner_report(session=session, actor=people["ivy"], learner_user_id="u1",
                            course_id="C1", what_happened="cannot open the quiz",
                            urgency="high", allowed_courses={"C1": {"u1"}})  # fmt: skip
    elif kind == "idle":
        release_idle_claims(session=session, idle=timedelta(0), now=utcnow() + timedelta(hours=1))
    elif kind == "raw":
        # A script moving findings between departments, and one deleting a finding it made.
        session.execute(
            text("UPDATE findings SET department = :d WHERE id % 3 = :r"),
            {"d": rng.choice(["Ops", "Sales"]), "r": rng.randrange(3)},
        )
        session.execute(
            text(
                "INSERT INTO findings (category, entity_key, title, detector, detector_version,"
                " score, priority, severity, status, first_seen_at, last_seen_at, occurrences,"
                " explanation, regression, evidence, features, row_version) VALUES"
                " ('compliance_overdue', :k, 't', 'x', '1', 0.5, 0.5, 'low', 'new',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, '', false, '{}', '{}', 1)"
            ),
            {"k": f"raw={rng.random()}"},
        )
        session.execute(text("DELETE FROM findings WHERE entity_key LIKE 'raw=%' AND id % 2 = 0"))
    else:
        fold_queue_counts(session)
    return kind


def test_counts_match_a_full_count_after_every_kind_of_change(db: Engine) -> None:
    rng = random.Random(16)
    with Session(db, expire_on_commit=False) as session:
        people = add_people(session)
        kinds = set()
        for step in range(160):
            kinds.add(_random_change(session, rng, people))
            if rng.random() < 0.2:
                session.rollback()  # an abandoned change leaves no count behind
            else:
                session.commit()
            assert _summary(session) == _truth(session), f"step {step}"
        assert len(kinds) == 9
        # The page's counts for filters agree with counting the findings themselves.
        ada = people["ada"]
        filters = [
            QueueFilter(statuses=()),
            QueueFilter(categories=("compliance_overdue",), department="Sales"),
            QueueFilter(severities=("high",), detectors=("z_model",), assignee="me"),
            QueueFilter(assignee="unassigned", statuses=("new", "snoozed")),
            QueueFilter(assignee="bo"),
            QueueFilter(course="C1"),
        ]
        for f in filters:
            page = list_findings(session=session, actor=ada, queue_filter=f)
            every = list_findings(session=session, actor=ada, queue_filter=f, page_size=200)
            shown = {r.status for r in every.rows}
            assert set(page.status_counts) >= shown
            assert page.total == len(every.rows) or page.total > 200
            assert not page.at_least
        home = queue_counts(session=session, actor=ada)
        truth = _truth(session)
        assert home.new == sum(n for k, n in truth.items() if k[0] == "new")


def test_free_text_counts_are_exact_up_to_the_cap_then_at_least(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("review_queue.queue.TEXT_COUNT_CAP", 5)
    with Session(db, expire_on_commit=False) as session:
        people = add_people(session)
        proposals = [
            Proposal(category="compliance_overdue", entity_key=f"enrollment=E{n}",
                     title=f"Enrolment E{n} is overdue" + (" (rare)" if n < 3 else ""),
                     score=0.5, severity="high", detector="compliance_overdue")
            for n in range(12)
        ]  # fmt: skip
        propose_findings(session=session, proposals=proposals)
        session.commit()
        ada = people["ada"]
        rare = list_findings(session=session, actor=ada, queue_filter=QueueFilter(text="(rare)"))
        assert (rare.total, rare.count_label(), rare.status_counts) == (3, "3", {"new": 3})
        common = list_findings(session=session, actor=ada, queue_filter=QueueFilter(text="overdue"))
        assert common.total_at_least and common.count_label() == "5+"
        assert common.count_label("new") == "5+" and len(common.rows) == 12


@pytest.mark.postgres
def test_concurrent_writers_and_folds_keep_postgres_counts_exact(pg_engine: Engine) -> None:
    empty_tables(pg_engine)
    with Session(pg_engine, expire_on_commit=False) as session:
        people = add_people(session)
        propose_findings(session=session, proposals=_proposals(random.Random(1), 40),
                         places=_places(random.Random(1)))  # fmt: skip
        session.commit()
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        # Writer 0 is the detection run, proposing while the others review.
        kinds = ("propose",) if seed == 0 else REVIEWING
        for _ in range(25):
            try:
                with Session(pg_engine, expire_on_commit=False) as s:
                    _random_change(s, rng, people, kinds)
                    if rng.random() < 0.3:
                        fold_queue_counts(s)
                    else:
                        fold_if_due(s)
                    s.commit()
            except Exception as exc:
                # Two writers on one finding: one is told it changed. A bulk or wake that holds
                # the log's head while it locks its next finding can deadlock with a decision
                # holding that finding (the services' lock order, not the counts): PostgreSQL
                # rolls one back, which the counts must survive too. Nothing else may fail.
                told = "Stale" in type(exc).__name__ or "Decided" in type(exc).__name__
                if not told and "deadlock detected" not in str(exc):
                    errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    with Session(pg_engine) as session:
        assert _summary(session) == _truth(session)
        fold_queue_counts(session)
        session.commit()
        assert _summary(session) == _truth(session)


@pytest.mark.parametrize("fresh_db_url", BACKENDS, indirect=True)
def test_the_migration_counts_the_findings_an_existing_database_already_has(
    fresh_db_url: str,
) -> None:
    engine = build_engine(fresh_db_url)
    try:
        command.upgrade(alembic_config(engine), "0010")
        with Session(engine, expire_on_commit=False) as session:
            people = add_people(session)
            for n in range(30):
                add_finding(session, n, status=("new", "dismissed", "in_review")[n % 3],
                            department=DEPARTMENTS[n % 3], severity=("low", "high")[n % 2],
                            assignee_id=people["ada"].id if n % 4 == 0 else None)  # fmt: skip
        upgrade(engine)
        with Session(engine) as session:
            assert _summary(session) == _truth(session)
            assert sum(_summary(session).values()) == 30
            page = list_findings(session=session, actor=people["ada"],
                                 queue_filter=QueueFilter(statuses=()))  # fmt: skip
            assert page.status_counts == {"dismissed": 10, "in_review": 10, "new": 10}
    finally:
        engine.dispose()
