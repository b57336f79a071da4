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
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

import app
import review_queue
from app.auth import accounts
from app.core.db import build_engine
from app.core.schema import metadata
from app.core.settings import get_settings
from app.detection import configuration as config
from app.detection import run as detect
from app.learning import after_decision, ledger, retraining
from app.sources import mapping_store as mappings
from app.sources import roster as reports
from app.sources import store as snapshots
from app.sources.load import LoadResult
from app.sources.mapping import SnapshotMapping, TableMapping
from app.web import cached
from app.web.navigation import PAGES, PAGES_DIR, PageSpec
from models.learning.ledger import ExceptionSuggestion
from review_queue import (
    comments,
    decisions,
    exports,
    feedback_log,
    findings,
    learner_reports,
    permissions,
    queue,
    suppressions,
)
from review_queue.permissions import SYSTEM, Actor
from review_queue.queue import QueueFilter
from review_queue.tables import Finding, Role
from review_queue.trends.backlog import compliance_exposure, open_backlog
from review_queue.trends.cycle_times import cycle_times
from review_queue.trends.filters import TrendFilters, trend_filter_options
from review_queue.trends.flow import gap_flow
from review_queue.trends.locations import gap_locations
from review_queue.trends.precision import detector_precision
from review_queue.trends.report import trend_report
from review_queue.types import utcnow
from tests.app.learning.test_learning import _decided_queue
from tests.helpers.apptest import app_on
from tests.helpers.queue_fixtures import add_finding, add_people

Call = Callable[["World", Any], object]


# A proposal condition in force on unowned_course (rules needing "condition").
CONDITION = {"place": "course_id", "op": "!=", "value": "C00001"}


@dataclass
class World:
    """A small populated Gapdesk: people, findings in each state, a suppression, a comment."""

    engine: Engine
    home: Path
    snapshot_folder: Path
    people: dict[str, Actor]
    new_id: int  # new and unclaimed
    claimed_id: int  # claimed by the admin a moment ago (undoable)
    claim_event_id: int
    confirmed_id: int  # reviewed, so it can be suppressed
    report_id: int  # a learner report filed by the instructor
    suppression_id: int
    load_result: LoadResult | None = None
    model_version: str | None = None
    session: Session | None = field(default=None, repr=False)

    @property
    def loaded(self) -> LoadResult:
        """The validated snapshot (rules needing "load")."""
        assert self.load_result is not None
        return self.load_result

    @property
    def s(self) -> Session:
        """The unit of work of the call being made."""
        assert self.session is not None
        return self.session

    def actor(self, role: Role | None) -> Actor | None:
        """The person of ``role`` (None: nobody is signed in)."""
        names = {Role.admin: "ada", Role.instructor: "ivy", Role.manager: "max"}
        return None if role is None else self.people[names[role]]


@dataclass(frozen=True)
class Rule:
    """Who may call ``fn``, and one call of it that succeeds for them in a fresh World."""

    fn: Callable[..., Any]
    allowed: tuple[Role, ...]
    call: Call
    # "snapshot" (stored), "load" (validated), "model", "condition" (on unowned_course)
    needs: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"


ADMIN = (Role.admin,)
ADMIN_INSTRUCTOR = (Role.admin, Role.instructor)
ADMIN_MANAGER = (Role.admin, Role.manager)
EVERYONE = (Role.admin, Role.instructor, Role.manager)
WEEKS = TrendFilters.last_weeks(12)
HR_MAPPING = SnapshotMapping(
    tables={"people": TableMapping(table="people", columns={"Employee ID": "person_id"})}
)


def _suppress(w: World, a: Any) -> object:
    until = utcnow() + timedelta(days=7)
    return suppressions.create_suppression(
        session=w.s, actor=a, finding_id=w.confirmed_id, until=until, reason="known outage"
    )


def _history(w: World, a: Any) -> object:
    finding = w.s.get(Finding, w.new_id)
    assert finding is not None
    return queue.entity_history(session=w.s, actor=a, finding=finding)


# fmt: off
POLICY: tuple[Rule, ...] = (
    # accounts: the Users page (admins)
    Rule(accounts.create_user, ADMIN, lambda w, a: accounts.create_user(
        session=w.s, actor=a, name="newcomer", email="newcomer@example.org", role="manager",
        password=None)),
    Rule(accounts.list_users, ADMIN, lambda w, a: accounts.list_users(session=w.s, actor=a)),
    Rule(accounts.set_password, ADMIN, lambda w, a: accounts.set_password(
        session=w.s, actor=a, name="max", password="a long new password")),
    # detectors and detection runs: the Detectors page (admins)
    Rule(config.configure_detector, ADMIN, lambda w, a: config.configure_detector(
        session=w.s, actor=a, name="unowned_course", enabled=False, note="too noisy")),
    Rule(config.remove_condition, ADMIN, lambda w, a: config.remove_condition(
        session=w.s, actor=a, name="unowned_course", condition=CONDITION),
         frozenset({"condition"})),
    Rule(detect.recent_runs, ADMIN, lambda w, a: detect.recent_runs(session=w.s, actor=a)),
    Rule(detect.run_detection, ADMIN, lambda w, a: detect.run_detection(
        engine=w.engine, actor=a), frozenset({"snapshot"})),
    # the priority model and the rule ledger: the Models page (admins); rollback is promote
    Rule(retraining.retrain, ADMIN, lambda w, a: retraining.retrain(session=w.s, actor=a, k=10),
         frozenset({"model"})),
    Rule(retraining.promote, ADMIN, lambda w, a: retraining.promote(
        session=w.s, actor=a, version=w.model_version or ""), frozenset({"model"})),
    Rule(ledger.rule_ledger_tables, ADMIN, lambda w, a: ledger.rule_ledger_tables(
        session=w.s, actor=a)),
    Rule(ledger.apply_suggestion, ADMIN, lambda w, a: ledger.apply_suggestion(
        session=w.s, actor=a, suggestion=ExceptionSuggestion(
            detector="unowned_course", place="course_id", value="C00001", removes_expected=5,
            removes_dismissed=5, removes_confirmed=0))),
    # data: the Data page (admins)
    Rule(mappings.save_mapping, ADMIN, lambda w, a: mappings.save_mapping(
        actor=a, name="workday-hr", mapping=HR_MAPPING)),
    Rule(snapshots.validate_snapshot, ADMIN, lambda w, a: snapshots.validate_snapshot(
        actor=a, path=w.snapshot_folder)),
    Rule(snapshots.store_snapshot, ADMIN, lambda w, a: snapshots.store_snapshot(
        engine=w.engine, actor=a, result=w.loaded, origin="test"), frozenset({"load"})),
    Rule(snapshots.ingest, ADMIN, lambda w, a: snapshots.ingest(
        engine=w.engine, actor=a, path=w.snapshot_folder)),
    Rule(snapshots.list_snapshots, ADMIN, lambda w, a: snapshots.list_snapshots(
        session=w.s, actor=a)),
    # the review queue: the Review queue page (admins)
    Rule(decisions.decide, ADMIN, lambda w, a: decisions.decide(
        session=w.s, actor=a, finding_id=w.new_id, action="confirm")),
    Rule(decisions.bulk_decide, ADMIN, lambda w, a: decisions.bulk_decide(
        session=w.s, actor=a, finding_ids=[w.new_id, w.claimed_id], action="confirm")),
    Rule(decisions.preview_bulk, ADMIN, lambda w, a: decisions.preview_bulk(
        session=w.s, actor=a, finding_ids=[w.new_id], action="dismiss")),
    Rule(decisions.undo, ADMIN, lambda w, a: decisions.undo(
        session=w.s, actor=a, event_id=w.claim_event_id)),
    Rule(decisions.next_finding, ADMIN, lambda w, a: decisions.next_finding(
        session=w.s, actor=a)),
    Rule(after_decision.decide_and_learn, ADMIN, lambda w, a: after_decision.decide_and_learn(
        engine=w.engine, actor=a, finding_id=w.new_id, action="dismiss", reason="expected")),
    Rule(after_decision.bulk_decide_and_learn, ADMIN,
         lambda w, a: after_decision.bulk_decide_and_learn(
        engine=w.engine, actor=a, finding_ids=[w.new_id], action="confirm")),
    Rule(queue.list_findings, ADMIN, lambda w, a: queue.list_findings(
        session=w.s, actor=a, queue_filter=QueueFilter())),
    Rule(queue.matching_ids, ADMIN, lambda w, a: queue.matching_ids(
        session=w.s, actor=a, queue_filter=QueueFilter())),
    Rule(queue.filter_options, ADMIN, lambda w, a: queue.filter_options(session=w.s, actor=a)),
    Rule(queue.entity_history, ADMIN, _history),
    Rule(suppressions.create_suppression, ADMIN, _suppress),
    Rule(suppressions.lift_suppression, ADMIN, lambda w, a: suppressions.lift_suppression(
        session=w.s, actor=a, suppression_id=w.suppression_id)),
    Rule(suppressions.list_suppressions, ADMIN, lambda w, a: suppressions.list_suppressions(
        session=w.s, actor=a)),
    # learner reports and comments: the Report page (instructors) and the queue (admins)
    Rule(reports.instructor_roster, ADMIN_INSTRUCTOR, lambda w, a: reports.instructor_roster(
        engine=w.engine, actor=a), frozenset({"snapshot"})),
    Rule(learner_reports.file_learner_report, ADMIN_INSTRUCTOR,
         lambda w, a: learner_reports.file_learner_report(
        session=w.s, actor=a, learner_user_id="U42", course_id="C1",
        what_happened="Cannot open the final quiz.", urgency="high", allowed_courses={"C1"})),
    Rule(learner_reports.my_reports, ADMIN_INSTRUCTOR,
         lambda w, a: learner_reports.my_reports(session=w.s, actor=a)),
    Rule(comments.add_comment, ADMIN_INSTRUCTOR, lambda w, a: comments.add_comment(
        session=w.s, actor=a, finding_id=w.report_id, body="The quiz opens again.")),
    Rule(comments.list_comments, ADMIN_INSTRUCTOR, lambda w, a: comments.list_comments(
        session=w.s, actor=a, finding_id=w.report_id)),
    # the feedback log and exports: the Feedback log page (admins; managers read only)
    Rule(feedback_log.log_page, ADMIN_MANAGER,
         lambda w, a: feedback_log.log_page(session=w.s, actor=a)),
    Rule(exports.decision_rows, ADMIN_MANAGER, lambda w, a: list(exports.decision_rows(
        session=w.s, actor=a))),
    Rule(exports.finding_rows, ADMIN_MANAGER, lambda w, a: list(exports.finding_rows(
        session=w.s, actor=a))),
    # trends: the Trends page (managers and admins)
    Rule(trend_filter_options, ADMIN_MANAGER, lambda w, a: trend_filter_options(
        session=w.s, actor=a)),
    Rule(trend_report, ADMIN_MANAGER, lambda w, a: trend_report(
        session=w.s, actor=a, filters=WEEKS)),
    Rule(gap_flow, ADMIN_MANAGER, lambda w, a: gap_flow(
        session=w.s, actor=a, filters=WEEKS)),
    Rule(open_backlog, ADMIN_MANAGER, lambda w, a: open_backlog(
        session=w.s, actor=a, filters=WEEKS)),
    Rule(cycle_times, ADMIN_MANAGER, lambda w, a: cycle_times(
        session=w.s, actor=a, filters=WEEKS)),
    Rule(detector_precision, ADMIN_MANAGER, lambda w, a: detector_precision(
        session=w.s, actor=a, filters=WEEKS)),
    Rule(gap_locations, ADMIN_MANAGER, lambda w, a: gap_locations(
        session=w.s, actor=a, filters=WEEKS)),
    Rule(compliance_exposure, ADMIN_MANAGER, lambda w, a: compliance_exposure(
        session=w.s, actor=a, filters=WEEKS)),
    Rule(cached.trend_report_for, ADMIN_MANAGER, lambda w, a: cached.trend_report_for(
        a, WEEKS, sla_days=14, learners=None)),
    # the Home page (everyone signed in; instructors count only their own reports)
    Rule(findings.queue_counts, EVERYONE, lambda w, a: findings.queue_counts(
        session=w.s, actor=a)),
)
# fmt: on

# The rows whose calls only read: they are checked together on one shared world (quicker), and
# the test asserts that their allowed calls change nothing either.
READ_ONLY: frozenset[Callable[..., Any]] = frozenset({
    accounts.list_users, detect.recent_runs, ledger.rule_ledger_tables,
    snapshots.validate_snapshot, snapshots.list_snapshots, decisions.preview_bulk,
    queue.list_findings, queue.matching_ids, queue.filter_options, queue.entity_history,
    suppressions.list_suppressions, reports.instructor_roster, learner_reports.my_reports,
    comments.list_comments, feedback_log.log_page, exports.decision_rows, exports.finding_rows,
    trend_filter_options, trend_report, gap_flow, open_backlog,
    cycle_times, detector_precision, gap_locations,
    compliance_exposure, cached.trend_report_for, findings.queue_counts,
})  # fmt: skip

# Public functions with an ``actor`` parameter that are not services a person calls.
NOT_SERVICES: dict[str, str] = {
    "review_queue.feedback_log.append_event": "the log writer: records the actor of a service "
    "that has already checked the role (reports by instructors, wakes by the system)",
    "review_queue.permissions.require_role": "the check itself",
    "app.sources.xapi.actor_id": "reads the 'actor' field of an xAPI statement",
}

# Database reads that pages import and that take no actor, so check nothing themselves. They are
# reached only from pages whose role the router and require_actor enforce (and from the CLI,
# run by the server's administrator). Listed so that a new one is a decision, not an accident.
ACTORLESS_PAGE_READS: dict[str, str] = {
    "app.auth.accounts.user_id_by_name": "Review queue page (admins): the assignment picker",
    "app.detection.configuration.detector_settings": (
        "Detectors page (admins); also read by detection runs"
    ),
    "app.learning.model_store.list_versions": (
        "Models page (admins); also the CLI's `models` command"
    ),
    "app.learning.ranking.queue_diff": "Models page (admins)",
    "review_queue.feedback_log.verify_chain": "Feedback log page (admins, managers); also the CLI",
    "review_queue.findings.get_finding": "Review queue page (admins); the services' own lookup",
    "review_queue.decisions.last_event": "Review queue page (admins); the services' own lookup",
}

ROLES: tuple[Role | None, ...] = (None, Role.admin, Role.instructor, Role.manager)


def _label(role: Role | None) -> str:
    return "signed out" if role is None else role.value


# ---------------------------------------------------------------- the world and its fingerprint
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
            what_happened="Locked out of the course.", urgency="medium", allowed_courses={"C1"},
        )  # fmt: skip
        comments.add_comment(session=s, actor=ada, finding_id=report.id or 0, body="On it.")
        suppression = suppressions.create_suppression(
            session=s, actor=ada, finding_id=confirmed.id, until=utcnow() + timedelta(days=30),
            reason="the vendor fixes it next month",
        )  # fmt: skip
        version = None
        if "model" in needs:
            version = retraining.retrain(session=s, actor=ada, k=10).version.version
        if "condition" in needs:
            config.configure_detector(
                session=s, actor=ada, name="unowned_course", require=[CONDITION]
            )
        s.commit()
        world = World(
            engine=engine, home=home, snapshot_folder=folder, people=people, new_id=new.id,
            claimed_id=claimed.id, claim_event_id=claim.event.id or 0,
            confirmed_id=confirmed.id, report_id=report.id or 0,
            suppression_id=suppression.id or 0, model_version=version,
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
            urgency="low", allowed_courses={"C1"})),
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
    missing = sorted(acting - covered - set(NOT_SERVICES))
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


# ---------------------------------------------------------------- page scripts (AppTest)
def _page_as(page: PageSpec, actor: Actor | None) -> AppTest:
    """Run one page script by itself (no navigation to filter it) with ``actor`` signed in."""
    # runpy keeps pages/ off sys.path (there, pages/admin/models.py would shadow the models package)
    # and runs the script under its own file name, as st.navigation does.
    at = AppTest.from_string(
        f"import runpy\nrunpy.run_path({str(page.path)!r}, run_name='__main__')\n",
        default_timeout=30,
    )
    if actor is not None:
        at.session_state["gapdesk_actor"] = actor
    return at.run()


def _shown(at: AppTest) -> list[str]:
    """Everything of a page's own content that rendered (titles, tables, inputs, buttons...)."""
    kinds = ("title", "header", "subheader", "dataframe", "table", "metric", "button",
             "text_input", "text_area", "selectbox", "multiselect", "number_input", "markdown",
             "caption", "success", "info", "error", "exception", "tabs", "expander")  # fmt: skip
    return [f"{kind}: {getattr(e, 'value', e)}" for kind in kinds for e in getattr(at, kind)]


@pytest.fixture(scope="module")
def page_site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[dict[Role, Actor]]:
    """A SQLite database with an admin, an instructor and a manager, for the page scripts."""
    home = tmp_path_factory.mktemp("perm-pages")
    target = home / "gapdesk.db"
    target.write_bytes(sqlite_template.read_bytes())
    mp = pytest.MonkeyPatch()
    mp.setenv("GAPDESK_HOME", str(home))
    mp.setenv("GAPDESK_DATABASE_URL", f"sqlite:///{target}")
    from app.web import units

    get_settings.cache_clear()
    units._engine.clear()
    engine = build_engine(f"sqlite:///{target}")
    with Session(engine) as s:
        people = add_people(s)
    engine.dispose()
    yield {Role.admin: people["ada"], Role.instructor: people["ivy"], Role.manager: people["max"]}
    units._engine.clear()
    mp.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize("page", PAGES, ids=[p.url_path for p in PAGES])
def test_a_page_script_shows_nothing_to_a_role_it_is_not_for(
    page: PageSpec, page_site: dict[Role, Actor]
) -> None:
    opener = page_site[page.roles[0]]
    at = _page_as(page, opener)
    assert not at.exception, at.exception
    assert at.title, f"{page.file} showed no title to {opener.role.value}, who may open it"
    for role in (None, *Role):
        if role is not None and role in page.roles:
            continue
        at = _page_as(page, None if role is None else page_site[role])
        expected = "Please sign in." if role is None else f"not open to the {role.value} role"
        assert [w.value for w in at.warning if expected in str(w.value)], (
            f"{page.file} as {_label(role)}: no refusal; warnings {[w.value for w in at.warning]}"
        )
        assert _shown(at) == [], f"{page.file} showed {_label(role)}: {_shown(at)}"
