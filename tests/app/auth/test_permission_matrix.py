"""Every service acting for a person, for every role (and signed out): only what is allowed passes.

POLICY below is the one table of who may call what, written from what the product intends
(app/web/navigation.py gives each role its pages; the pages and docstrings say what each does
there).
Each row is run for admin, instructor, manager and nobody (``None``: how the app represents a
signed-out visitor, see app.web.signin.current_actor) on SQLite and PostgreSQL. A refused call
must raise PermissionError with a message naming the missing role, and leave every table and
every file
under GAPDESK_HOME exactly as they were, even when the caller commits afterwards.

The guard tests keep the table honest: a new public function taking an ``actor`` in app/ or
review_queue/, or a new database read imported by a page without one, fails until it is placed.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session

import app
import review_queue
from app.core.schema import metadata
from app.detection import configuration as config
from app.learning import retraining
from app.sources import store as snapshots
from app.sources.load import LoadResult
from app.web.navigation import PAGES_DIR
from review_queue import (
    audits,
    comments,
    decisions,
    learner_reports,
    permissions,
    suppressions,
)
from review_queue.permissions import SYSTEM, Actor
from review_queue.tables import AuditItem, DetectionRun, WorkItem
from review_queue.types import utcnow
from tests.app.auth.permission_policy import (
    ACTORLESS_PAGE_READS,
    API_ROUTES,
    CONDITION,
    EVERYONE,
    NOT_SERVICES,
    POLICY,
    READ_ONLY,
    ROLES,
    Rule,
    World,
    _label,
)
from tests.app.learning.test_learning import _decided_queue
from tests.helpers.apptest import app_on
from tests.helpers.queue_fixtures import add_finding, add_people


@pytest.fixture(scope="module")
def stored_snapshot(demo_folder: Path) -> LoadResult:
    """The demo organisation validated once (validation writes nothing)."""
    return snapshots.validate_snapshot(actor=SYSTEM, path=demo_folder)


def _build_world(
    engine: Engine, home: Path, folder: Path, needs: frozenset[str], loaded: LoadResult
) -> World:
    with Session(engine, expire_on_commit=False) as s:
        people = add_people(s)
        ada, ivy = people["ada"], people["ivy"]
        if "model" in needs:
            _decided_queue(s, ada, decided=12, waiting=4)
        new = add_finding(s, 1001, priority=0.9)
        claimed = add_finding(s, 1002, priority=0.8)
        confirmed = add_finding(s, 1003, priority=0.7)
        assert new.id and claimed.id and confirmed.id
        claim = decisions.decide(session=s, actor=ada, finding_id=claimed.id, action="claim")
        decisions.decide(session=s, actor=ada, finding_id=confirmed.id, action="confirm")
        report = learner_reports.file_learner_report(
            session=s, actor=ivy, learner_user_id="U7", course_id="C1",
            what_happened="Locked out of the course.", urgency="medium",
            allowed_courses={"C1": {"U7"}},
        )  # fmt: skip
        comments.add_comment(session=s, actor=ada, finding_id=report.id or 0, body="On it.")
        suppression = suppressions.create_suppression(
            session=s, actor=ada, finding_id=confirmed.id, until=utcnow() + timedelta(days=30),
            reason="the vendor fixes it next month",
        )  # fmt: skip
        if "tuning" in needs:  # false positives a threshold on days_over clears
            for n in range(12):
                decided = add_finding(s, 2000 + n, features={"days_over": float(n)})
                decisions.decide(
                    session=s, actor=ada, finding_id=decided.id or 0,
                    action="dismiss" if n < 6 else "confirm",
                    reason="false_positive_rule" if n < 6 else None,
                )  # fmt: skip
        # One dismissal per routed reason: an item on each work list.
        for n, reason in enumerate(("false_positive_rule", "data_error", "expected", "duplicate")):
            dismissed = add_finding(s, 1010 + n, priority=0.3, course_id="C1")
            decisions.decide(
                session=s, actor=ada, finding_id=dismissed.id or 0, action="dismiss",
                reason=reason, duplicate_of_id=confirmed.id if reason == "duplicate" else None,
            )  # fmt: skip
        run = DetectionRun(snapshot_id="earlier", started_by="ada", status="done",
                           finished_at=utcnow(), stats={"created": 3})  # fmt: skip
        s.add(run)
        s.flush()
        audit_item_id = 0
        if "audit" in needs:
            audits.record_sample(
                session=s, actor=SYSTEM, period_start=utcnow() - timedelta(days=7),
                period_end=utcnow(), snapshot_id=None, width=0.3,
                draws={"unowned_course": {"unflagged": audits.Draw(10, keys=["course=CY"])}},
            )  # fmt: skip
            audit_item_id = s.execute(sa_select(AuditItem.id)).scalar_one()
        version = None
        if "model" in needs:
            version = retraining.retrain(session=s, actor=ada, k=10).version.version
        if "condition" in needs:
            config.configure_detector(
                session=s, actor=ada, name="unowned_course", require=[CONDITION]
            )
        s.commit()
        work = {item.kind: item.id or 0 for item in s.exec(sa_select(WorkItem)).scalars()}
        world = World(
            engine=engine, home=home, snapshot_folder=folder, people=people, new_id=new.id,
            claimed_id=claimed.id, claim_event_id=claim.event.id or 0,
            confirmed_id=confirmed.id, report_id=report.id or 0,
            suppression_id=suppression.id or 0, run_id=run.id or 0, model_version=version,
            audit_item_id=audit_item_id,
            work=work,
        )  # fmt: skip
    if "snapshot" in needs:
        snapshots.store_snapshot(engine=engine, actor=SYSTEM, result=loaded, origin="demo")
    if "load" in needs:
        world.load_result = loaded
    return world


def _fingerprint(engine: Engine, home: Path) -> tuple[Any, ...]:
    """Every row of every table, and every file under GAPDESK_HOME with its size."""
    with engine.connect() as conn:
        rows = tuple(
            (
                table.name,
                tuple(
                    tuple(r)
                    for r in conn.execute(
                        sa_select(table).order_by(*table.primary_key.columns)
                    ).all()
                ),
            )
            for table in metadata.sorted_tables
        )
    files = tuple(
        sorted((str(p.relative_to(home)), p.stat().st_size) for p in home.rglob("*"))
        if home.exists()
        else ()
    )
    return rows, files


def _call(rule: Rule, world: World, actor: Actor | None) -> object:
    """Make the call in its own unit of work, committed whatever happened (a refused call that
    had written anything would show in the fingerprint)."""
    with Session(world.engine, expire_on_commit=False) as s:
        world.session = s
        try:
            return rule.call(world, actor)
        finally:
            s.commit()
            world.session = None


def _roles_in(message: str) -> set[str]:
    match = re.search(r"needs the (.+) role; ", message)
    assert match, f"the refusal does not say which role is needed: {message!r}"
    return set(match.group(1).split(" or "))


# ---------------------------------------------------------------- the matrix
def _rules(read_only: bool) -> list[Rule]:
    return [r for r in POLICY if (r.fn in READ_ONLY) is read_only]


@pytest.mark.parametrize("rule", _rules(False), ids=[r.name for r in _rules(False)])
def test_only_the_allowed_roles_may_call_a_writing_service(
    rule: Rule,
    db: Engine,
    gapdesk_home: Path,
    demo_folder: Path,
    stored_snapshot: LoadResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = _build_world(db, gapdesk_home, demo_folder, rule.needs, stored_snapshot)
    with app_on(db, monkeypatch):
        _check_rule(rule, world, db, gapdesk_home, read_only=False)


def test_only_the_allowed_roles_may_call_a_reading_service(
    db: Engine,
    gapdesk_home: Path,
    demo_folder: Path,
    stored_snapshot: LoadResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reading services share one world: none of their calls, allowed or not, may change it."""
    rules = _rules(True)
    needs = frozenset().union(*(r.needs for r in rules))
    world = _build_world(db, gapdesk_home, demo_folder, needs, stored_snapshot)
    failures = []
    with app_on(db, monkeypatch):  # the pages' units of work use the app's own engine
        for rule in rules:
            try:
                _check_rule(rule, world, db, gapdesk_home, read_only=True)
            except (Exception, pytest.fail.Exception) as exc:  # report every rule, not the first
                failures.append(f"{rule.name}: {type(exc).__name__}: {exc}".splitlines()[0])
    assert not failures, "\n".join(failures)


def _check_rule(
    rule: Rule, world: World, db: Engine, gapdesk_home: Path, *, read_only: bool
) -> None:
    # Refusals first, each against the same untouched world; then the allowed roles in turn.
    refused = [r for r in ROLES if r not in rule.allowed]
    before = _fingerprint(db, gapdesk_home)
    for role in refused:
        actor = world.actor(role)
        with pytest.raises(PermissionError) as refusal:
            _call(rule, world, actor)
        message = str(refusal.value)
        if actor is None:
            assert message.startswith("sign in to "), f"{rule.name}, signed out: {message!r}"
        else:
            assert message.endswith(f"; {actor.name} is {actor.role.value}"), message
            assert _roles_in(message) == {r.value for r in rule.allowed}, (
                f"{rule.name} says {message!r}; the policy allows "
                f"{', '.join(r.value for r in rule.allowed)}"
            )
        assert _fingerprint(db, gapdesk_home) == before, (
            f"{rule.name} refused {_label(role)} but changed the database or the files"
        )
    for role in rule.allowed:
        try:
            _call(rule, world, world.actor(role))
        except PermissionError as exc:
            pytest.fail(f"{rule.name} refused {_label(role)}, which the policy allows: {exc}")
        if read_only:
            assert _fingerprint(db, gapdesk_home) == before, (
                f"{rule.name} is listed in READ_ONLY but {_label(role)}'s call changed data"
            )


def test_instructors_reach_only_their_own_reports(db: Engine, gapdesk_home: Path) -> None:
    """Beyond the role: an instructor comments on, reads and files only about their courses."""
    with Session(db, expire_on_commit=False) as s:
        people = add_people(s)
        other = add_finding(s, 7)
        s.commit()
    ivy = people["ivy"]
    attempts: list[tuple[str, Callable[[Session], object]]] = [
        ("comment on a finding they did not report", lambda s: comments.add_comment(
            session=s, actor=ivy, finding_id=other.id or 0, body="mine now")),
        ("read comments on a finding they did not report", lambda s: comments.list_comments(
            session=s, actor=ivy, finding_id=other.id or 0)),
        ("report about a course that is not theirs", lambda s: learner_reports.file_learner_report(
            session=s, actor=ivy, learner_user_id="U1", course_id="C9", what_happened="x",
            urgency="low", allowed_courses={"C1": {"U1"}})),
        ("report without their courses being known", lambda s: learner_reports.file_learner_report(
            session=s, actor=ivy, learner_user_id="U1", course_id="C1", what_happened="x",
            urgency="low", allowed_courses=None)),
    ]  # fmt: skip
    for what, attempt in attempts:
        before = _fingerprint(db, gapdesk_home)
        with Session(db) as s:
            with pytest.raises(PermissionError, match=r"ivy|instructor"):
                attempt(s)
            s.commit()
        assert _fingerprint(db, gapdesk_home) == before, f"refused ({what}) but changed data"


# ---------------------------------------------------------------- the guards
def _modules() -> Iterator[Any]:
    for package in (app, review_queue):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            # app.main is the Streamlit entry script; migrations run only inside alembic.
            if info.name == "app.main" or ".migrations" in info.name:
                continue
            yield importlib.import_module(info.name)


def _public_functions() -> dict[str, Callable[..., Any]]:
    out: dict[str, Callable[..., Any]] = {}
    for module in _modules():
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_"):
                out[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return out


def test_every_function_acting_for_someone_is_in_the_policy() -> None:
    acting = {
        name
        for name, fn in _public_functions().items()
        if "actor" in inspect.signature(fn).parameters
    }
    covered = {rule.name for rule in POLICY}
    assert len(covered) == len(POLICY), "a function appears twice in POLICY"
    assert {rule.fn for rule in POLICY} >= READ_ONLY, "READ_ONLY names a function not in POLICY"
    # API routes take the token's user as ``actor`` and call the services above: which role and
    # scope may call each is the matrix of tests/app/api/test_api_permissions.py, which checks
    # that it lists every route of the app.
    routes = {n for n in acting if n.startswith(API_ROUTES)}
    missing = sorted(acting - covered - set(NOT_SERVICES) - routes)
    assert not missing, (
        "public functions taking an actor that POLICY does not cover (add a row saying who may "
        f"call them): {', '.join(missing)}"
    )
    stale = sorted((covered | set(NOT_SERVICES)) - acting)
    assert not stale, f"POLICY or NOT_SERVICES name functions that no longer exist: {stale}"


def test_pages_read_the_database_only_through_checked_services() -> None:
    """A page importing a function that reads the database without an actor must be listed."""
    functions = _public_functions()
    unchecked = set()
    for page in sorted(PAGES_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(page.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if not node.module.startswith(("app", "review_queue")):
                continue
            for alias in node.names:
                fn = functions.get(f"{node.module}.{alias.name}")
                if fn is None:
                    continue
                params = inspect.signature(fn).parameters
                if {"session", "engine"} & set(params) and "actor" not in params:
                    unchecked.add(f"{fn.__module__}.{fn.__qualname__}")
    assert unchecked == set(ACTORLESS_PAGE_READS), (
        "pages read the database without a role check through: "
        f"{sorted(unchecked - set(ACTORLESS_PAGE_READS))}; no longer: "
        f"{sorted(set(ACTORLESS_PAGE_READS) - unchecked)}"
    )


def test_signed_out_is_refused_by_the_check_itself() -> None:
    """The app's representation of 'signed out' (None) is refused with a sign-in message."""
    with pytest.raises(PermissionError, match=r"^sign in to read$"):
        permissions.require_role(None, EVERYONE, "read")
