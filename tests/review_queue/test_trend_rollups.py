"""The trend roll-ups give every chart of the Trends page exactly what the full scan gives, on
SQLite and PostgreSQL, in UTC, Europe/Berlin and Asia/Kathmandu, through decisions, undos, bulk
changes, reopening by detection, and scripts that move, rewrite and delete rows."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import build_engine, upgrade
from app.core.settings import get_settings
from models.detectors.base import Proposal
from review_queue.permissions import Actor
from review_queue.propose import propose_findings
from review_queue.tables import Role
from review_queue.trends.filters import TrendFilters
from review_queue.trends.query import TrendQuery
from review_queue.trends.report import trend_report
from review_queue.trends.rollup_read import use_rollups
from review_queue.trends.rollups import built_zone, full_computation, rebuild_trend_rollups
from review_queue.types import utcnow
from tests.conftest import BACKENDS, REPO
from tests.helpers.queue_fixtures import add_people
from tests.review_queue.test_queue_counts import REVIEWING, _random_change

MANAGER = Actor(id=None, name="manager", role=Role.manager)
# This checkout's command (the installed ``gapdesk`` may be another checkout's).
CLI = "from app.cli.main import main; main()"
ZONES = ("UTC", "Europe/Berlin", "Asia/Kathmandu")


def _views(tz: str) -> list[TrendFilters]:
    today = utcnow().date()
    twelve = TrendFilters.last_weeks(12, tz=tz)
    return [
        twelve,
        TrendFilters.last_weeks(52, tz=tz),
        TrendFilters(twelve.start, twelve.end, tz, ("Sales",), ("compliance_overdue",)),
        TrendFilters(twelve.start, twelve.end, tz, ("no department", "Ops")),
        # a past range: the backlog's ages replay the log, its weekly figures come from roll-ups
        TrendFilters(today - timedelta(days=300), today - timedelta(days=20), tz),
    ]


def _report(session: Session, filters: TrendFilters) -> Any:
    return trend_report(
        session=session, actor=MANAGER, filters=filters, learners={"Sales": 40, "Ops": 7}
    )


def assert_same_as_full(session: Session, filters: TrendFilters) -> None:
    """Every metric's frame, side tables and takeaway equal the full computation's."""
    assert use_rollups(TrendQuery(session, filters))
    fast = _report(session, filters)
    with full_computation():
        assert not use_rollups(TrendQuery(session, filters))
        full = _report(session, filters)
    for a, b in zip(fast.metrics, full.metrics, strict=True):
        where = f"{a.key} for {filters.describe()}"
        pd.testing.assert_frame_equal(a.frame, b.frame, obj=where)
        assert a.frame.attrs == b.frame.attrs, where
        assert a.extras.keys() == b.extras.keys(), where
        for name in a.extras:
            pd.testing.assert_frame_equal(a.extras[name], b.extras[name], obj=f"{where} {name}")
        assert a.takeaway == b.takeaway, where


def _unguarded(session: Session, statements: list[tuple[str, dict[str, Any]]]) -> None:
    """Run ``statements`` with the log's append-only guard lifted, as its owner could."""
    if session.get_bind().dialect.name == "postgresql":
        guard = "ALTER TABLE feedback_log {} TRIGGER feedback_log_no_update_delete"
        session.execute(text(guard.format("DISABLE")))
        for sql, params in statements:
            session.execute(text(sql), params)
        session.execute(text(guard.format("ENABLE")))
        return
    guards = session.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
            " AND name IN ('feedback_log_no_update', 'feedback_log_no_delete')"
        )
    ).all()
    for name, _ in guards:
        session.execute(text(f"DROP TRIGGER {name}"))
    for sql, params in statements:
        session.execute(text(sql), params)
    for _, sql in guards:
        session.execute(text(sql))


def _spread(session: Session, rng: random.Random) -> None:
    """A script moving rows back in time (first seen, log times) so the days and DST differ."""
    dialect = session.get_bind().dialect.name
    for table, column in (("findings", "first_seen_at"), ("feedback_log", "at")):
        days, minutes = rng.randrange(1, 300), rng.randrange(0, 1440)
        shift = (
            f"{column} - make_interval(days => {days}, mins => {minutes})"
            if dialect == "postgresql"
            else f"datetime({column}, '-{days} days', '-{minutes} minutes')"
        )
        sql = f"UPDATE {table} SET {column} = {shift} WHERE id % 5 = :r"  # noqa: S608
        _unguarded(session, [(sql, {"r": rng.randrange(5)})])


def _rewrite_log(session: Session, rng: random.Random) -> None:
    """A script rewriting and deleting log rows (the database allows it to its owner)."""
    rewrite = "UPDATE feedback_log SET to_status = 'dismissed' WHERE id % 11 = :r"
    delete = (
        "DELETE FROM feedback_log WHERE id % 13 = :r AND id NOT IN"
        " (SELECT undoes_event_id FROM feedback_log WHERE undoes_event_id IS NOT NULL)"
        " AND id NOT IN (SELECT last_event_id FROM feedback_log_head"
        " WHERE last_event_id IS NOT NULL)"
        " AND id NOT IN (SELECT dismiss_event_id FROM work_items)"
    )
    _unguarded(session, [(rewrite, {"r": rng.randrange(11)}), (delete, {"r": rng.randrange(13)})])


def _history(session: Session, rng: random.Random, steps: int) -> None:
    people = add_people(session)
    kinds = ("propose", *REVIEWING, "raw")
    for step in range(steps):
        _random_change(session, rng, people, kinds)
        if step % 9 == 4:
            _spread(session, rng)
        if step % 23 == 11:
            _rewrite_log(session, rng)
        if rng.random() < 0.15:
            session.rollback()
        else:
            session.commit()


@pytest.mark.parametrize("tz", ZONES)
def test_rollups_equal_the_full_computation_through_every_kind_of_change(
    db: Engine, tz: str
) -> None:
    rng = random.Random(15)
    with Session(db, expire_on_commit=False) as session:
        with session.begin():
            rebuild_trend_rollups(session.connection(), tz)
        _history(session, rng, 70)
        for filters in _views(tz):
            assert_same_as_full(session, filters)
        # The comparison is not between empty charts.
        year = _report(session, _views(tz)[1])
        assert year.metric("flow").frame["count"].sum() > 20
        assert year.metric("backlog").frame["open"].sum() > 5
        assert year.metric("cycle").frame["findings"].sum() > 5
        assert len(year.metric("where").extras["courses"]) > 1
        # A rebuild from the rows gives the same roll-ups the triggers kept.
        before = _rollup_rows(session)
        with session.begin():
            rebuild_trend_rollups(session.connection(), tz)
        assert _rollup_rows(session) == before


def _rollup_rows(session: Session) -> dict[str, set[tuple[Any, ...]]]:
    out = {}
    for table, where in (
        ("trend_rollups", "n <> 0"),
        ("trend_finding_courses", "n <> 0"),
        ("trend_first_moves", "1 = 1"),
    ):
        rows = session.execute(text(f"SELECT * FROM {table} WHERE {where}")).all()  # noqa: S608
        out[table] = {tuple(r) for r in rows}
    session.rollback()
    return out


def test_another_zone_than_the_built_one_is_scanned(db: Engine) -> None:
    with Session(db, expire_on_commit=False) as session:
        with session.begin():
            rebuild_trend_rollups(session.connection(), "Asia/Kathmandu")
        _history(session, random.Random(3), 25)
        berlin = TrendFilters.last_weeks(12, tz="Europe/Berlin")
        assert built_zone(session.connection()) == "Asia/Kathmandu"
        assert not use_rollups(TrendQuery(session, berlin))
        session.rollback()
        with session.begin():
            rebuild_trend_rollups(session.connection(), "Europe/Berlin")
        assert_same_as_full(session, berlin)


def test_a_bulk_proposal_is_counted_in_one_statement(db: Engine) -> None:
    """A detection run's batch (and its re-run, which reopens and moves findings) adds up."""
    proposals = [
        Proposal(category="compliance_overdue", entity_key=f"person=P{n};course=C{n % 7}",
                 title="overdue", score=0.4 + (n % 5) / 10, severity="high",
                 detector="compliance_overdue")
        for n in range(400)
    ]  # fmt: skip
    places = {p.entity_key: (None, ("Sales", "Ops", None)[n % 3]) for n, p in enumerate(proposals)}
    with Session(db, expire_on_commit=False) as session:
        with session.begin():
            rebuild_trend_rollups(session.connection(), "UTC")
        propose_findings(session=session, proposals=proposals, places=places)
        session.commit()
        session.execute(text("UPDATE findings SET status = 'resolved' WHERE id % 4 = 0"))
        session.commit()
        moved = {k: (None, "Legal") for k in list(places)[:150]}
        propose_findings(session=session, proposals=proposals, places=moved)
        session.commit()
        assert_same_as_full(session, TrendFilters.last_weeks(4, tz="UTC"))
        assert_same_as_full(
            session,
            TrendFilters(date.today() - timedelta(days=3), date.today(), "UTC", ("Legal",)),
        )


@pytest.mark.parametrize("fresh_db_url", BACKENDS, indirect=True)
def test_a_changed_reporting_zone_rebuilds_at_start_up_and_the_cli_on_demand(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAPDESK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GAPDESK_REPORTING_TZ", "Asia/Kathmandu")
    get_settings.cache_clear()
    engine = build_engine(fresh_db_url)
    try:
        upgrade(engine)  # the migration builds them for the setting
        with Session(engine, expire_on_commit=False) as session:
            _history(session, random.Random(8), 20)
            assert built_zone(session.connection()) == "Asia/Kathmandu"
            session.rollback()
        monkeypatch.setenv("GAPDESK_REPORTING_TZ", "Europe/Berlin")
        get_settings.cache_clear()
        upgrade(engine)  # start-up: the setting changed, so they are rebuilt
        with Session(engine, expire_on_commit=False) as session:
            assert_same_as_full(session, _views("Europe/Berlin")[1])
            session.rollback()
        env = {**os.environ, "GAPDESK_DATABASE_URL": fresh_db_url, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", CLI, "db", "rebuild-trend-rollups", "--tz", "UTC"],
            env=env, capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("trend roll-ups rebuilt for UTC in ")
        with Session(engine, expire_on_commit=False) as session:
            assert built_zone(session.connection()) == "UTC"
            assert_same_as_full(session, _views("UTC")[0])
            session.rollback()
        bad = subprocess.run(
            [sys.executable, "-c", CLI, "db", "rebuild-trend-rollups", "--tz", "Mars"],
            env=env, capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
        )  # fmt: skip
        assert bad.returncode != 0 and "not a time zone name" in bad.stderr
    finally:
        engine.dispose()
        get_settings.cache_clear()
