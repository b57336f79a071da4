"""The one table of who may call what (POLICY), and the lists that keep it honest.

Used by tests/app/auth/test_permission_matrix.py (services) and
tests/pages/test_page_permissions.py (page scripts)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from app.auth import accounts, api_tokens
from app.detection import audits as audit_sampling
from app.detection import configuration as config
from app.detection import coverage
from app.detection import run as detect
from app.learning import after_decision, retraining, rule_ledger, work_lists
from app.notify import digest, preferences, webhooks
from app.sources import exports as source_exports
from app.sources import intake as intakes
from app.sources import mapping_store as mappings
from app.sources import overlap as overlaps
from app.sources import roster as reports
from app.sources import store as snapshots
from app.sources import tickets
from app.sources.convert import IngestOptions
from app.sources.mapping import SnapshotMapping, TableMapping
from app.web import cached
from models.learning.ledger import ExceptionSuggestion
from review_queue import (
    audit_figures,
    audits,
    claims,
    comments,
    decisions,
    exports,
    feedback_log,
    findings,
    history,
    learner_reports,
    queue,
    suppressions,
    work_items,
)
from review_queue.permissions import SYSTEM
from review_queue.queue import QueueFilter
from review_queue.tables import Finding, Role, User
from review_queue.trends.backlog import compliance_exposure, open_backlog
from review_queue.trends.cycle_times import cycle_times
from review_queue.trends.filters import TrendFilters, trend_filter_options
from review_queue.trends.flow import gap_flow
from review_queue.trends.locations import gap_locations
from review_queue.trends.precision import detector_precision
from review_queue.trends.report import trend_report
from review_queue.types import utcnow
from tests.app.auth.permission_exempt import ACTORLESS_PAGE_READS as ACTORLESS_PAGE_READS
from tests.app.auth.permission_exempt import API_ROUTES as API_ROUTES
from tests.app.auth.permission_exempt import NOT_SERVICES as NOT_SERVICES
from tests.app.auth.permission_world import Call as Call
from tests.app.auth.permission_world import Rule as Rule
from tests.app.auth.permission_world import World as World

# A proposal condition in force on unowned_course (rules needing "condition").
CONDITION = {"place": "course_id", "op": "!=", "value": "C00001"}


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


def _store_exports(w: World, a: Any) -> object:
    # Converted in a folder outside GAPDESK_HOME: a refused call must leave the home as it was.
    workdir = Path(tempfile.mkdtemp(prefix="perm-exports-"))
    converted = source_exports.convert_exports([w.snapshot_folder], IngestOptions(), workdir)
    return source_exports.store_exports(
        engine=w.engine, actor=a, converted=converted, workdir=workdir
    )


class _Upload:
    def __init__(self, path: Path) -> None:
        self.name, self.path = path.name, path

    def getvalue(self) -> bytes:
        return self.path.read_bytes()


def _workdir() -> Path:
    # Outside GAPDESK_HOME: a refused call must leave the home as it was.
    return Path(tempfile.mkdtemp(prefix="perm-intake-"))


def _prepare(w: World, a: Any) -> intakes.Intake:
    return intakes.prepare_intake(
        actor=a, sources=[w.snapshot_folder], options=IngestOptions(), workdir=_workdir()
    )


def _prepare_uploads(w: World, a: Any) -> object:
    uploads = [_Upload(p) for p in sorted(w.snapshot_folder.glob("*.csv"))[:2]]
    return intakes.prepare_uploads(
        actor=a, uploads=uploads, options=IngestOptions(), workdir=_workdir()
    )


def _prepare_server_folder(w: World, a: Any) -> object:
    from app.core.settings import get_settings

    old = os.environ.get("GAPDESK_INGEST_ROOTS")
    os.environ["GAPDESK_INGEST_ROOTS"] = str(w.snapshot_folder.parent)
    get_settings.cache_clear()
    try:
        return intakes.prepare_server_folder(
            actor=a, path=str(w.snapshot_folder), options=IngestOptions(), workdir=_workdir()
        )
    finally:
        os.environ.pop("GAPDESK_INGEST_ROOTS")
        if old is not None:
            os.environ["GAPDESK_INGEST_ROOTS"] = old
        get_settings.cache_clear()


def _store_intake(w: World, a: Any) -> object:

    return intakes.store_intake(engine=w.engine, actor=a, intake=_prepare(w, SYSTEM))


def _validate_exports(w: World, a: Any) -> object:
    workdir = _workdir()
    converted = source_exports.convert_exports([w.snapshot_folder], IngestOptions(), workdir)
    return source_exports.validate_exports(actor=a, converted=converted, workdir=workdir)


def _apply_tuning(w: World, a: Any) -> object:
    groups = work_lists.rule_tuning_backlog(session=w.s, actor=SYSTEM)
    key = next(g.key for g in groups if g.suggestion is not None)
    return work_lists.apply_tuning(session=w.s, actor=a, key=key)


# A literal public address: registering it needs no DNS and sends nothing.
HOOK = "https://93.184.215.14/hooks/gapdesk"


def _endpoint(w: World, a: Any) -> int:
    view, _ = webhooks.register_endpoint(session=w.s, actor=a, url=HOOK, events=["finding.decided"])
    return view.id


def _mail_kind(a: Any) -> str:
    # A kind the actor's role is offered (signed out: any; the role check refuses first).
    return preferences.KINDS_FOR_ROLE[a.role][0].value if a is not None else "assigned"


def _user_id(w: World, name: str) -> int:
    return w.s.exec(select(col(User.id)).where(col(User.name) == name)).one()


def _history(w: World, a: Any) -> object:
    finding = w.s.get(Finding, w.new_id)
    assert finding is not None
    return history.entity_history(session=w.s, actor=a, finding=finding)


# fmt: off
POLICY: tuple[Rule, ...] = (
    # accounts: the Users page (admins)
    Rule(accounts.create_user, ADMIN, lambda w, a: accounts.create_user(
        session=w.s, actor=a, name="newcomer", email="newcomer@example.org", role="manager",
        password=None)),
    Rule(accounts.list_users, ADMIN, lambda w, a: accounts.list_users(session=w.s, actor=a)),
    Rule(accounts.set_password, ADMIN, lambda w, a: accounts.set_password(
        session=w.s, actor=a, name="max", password="a long new password")),
    Rule(accounts.set_active, ADMIN, lambda w, a: accounts.set_active(
        session=w.s, actor=a, name="max", active=False)),
    Rule(accounts.set_role, ADMIN, lambda w, a: accounts.set_role(
        session=w.s, actor=a, name="max", role="instructor")),
    Rule(accounts.revoke_tokens, ADMIN, lambda w, a: accounts.revoke_tokens(
        session=w.s, actor=a, name="max")),
    # detectors and detection runs: the Detectors page (admins)
    Rule(config.configure_detector, ADMIN, lambda w, a: config.configure_detector(
        session=w.s, actor=a, name="unowned_course", enabled=False, note="too noisy")),
    Rule(config.remove_condition, ADMIN, lambda w, a: config.remove_condition(
        session=w.s, actor=a, name="unowned_course", condition=CONDITION),
         frozenset({"condition"})),
    Rule(detect.recent_runs, ADMIN, lambda w, a: detect.recent_runs(session=w.s, actor=a)),
    Rule(detect.detection_run, ADMIN, lambda w, a: detect.detection_run(
        session=w.s, actor=a, run_id=w.run_id)),
    Rule(detect.run_detection, ADMIN, lambda w, a: detect.run_detection(
        engine=w.engine, actor=a), frozenset({"snapshot"})),
    # the priority model and the rule ledger: the Models page (admins); rollback is promote
    Rule(retraining.retrain, ADMIN, lambda w, a: retraining.retrain(session=w.s, actor=a, k=10),
         frozenset({"model"})),
    Rule(retraining.promote, ADMIN, lambda w, a: retraining.promote(
        session=w.s, actor=a, version=w.model_version or ""), frozenset({"model"})),
    Rule(rule_ledger.rule_ledger_tables, ADMIN, lambda w, a: rule_ledger.rule_ledger_tables(
        session=w.s, actor=a)),
    Rule(rule_ledger.apply_suggestion, ADMIN, lambda w, a: rule_ledger.apply_suggestion(
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
    Rule(source_exports.store_exports, ADMIN, lambda w, a: _store_exports(w, a),
         frozenset({"snapshot"})),
    Rule(source_exports.validate_exports, ADMIN, _validate_exports),
    Rule(intakes.prepare_intake, ADMIN, _prepare),
    Rule(intakes.prepare_uploads, ADMIN, _prepare_uploads),
    Rule(intakes.prepare_server_folder, ADMIN, _prepare_server_folder),
    Rule(intakes.store_intake, ADMIN, _store_intake),
    Rule(overlaps.current_snapshot, ADMIN, lambda w, a: overlaps.current_snapshot(
        session=w.s, actor=a), frozenset({"snapshot"})),
    Rule(overlaps.overlap_with_current, ADMIN, lambda w, a: overlaps.overlap_with_current(
        session=w.s, actor=a, snapshot=w.loaded.snapshot), frozenset({"snapshot", "load"})),
    Rule(coverage.snapshot_coverage, ADMIN, lambda w, a: coverage.snapshot_coverage(
        session=w.s, actor=a), frozenset({"snapshot"})),
    Rule(coverage.validated_coverage, ADMIN, lambda w, a: coverage.validated_coverage(
        session=w.s, actor=a, snapshot=w.loaded.snapshot), frozenset({"load"})),
    Rule(coverage.coverage_lines, ADMIN, lambda w, a: coverage.coverage_lines(
        engine=w.engine, actor=a, snapshot=w.loaded.snapshot), frozenset({"load"})),
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
    Rule(decisions.undo_last, ADMIN, lambda w, a: (decisions.decide(
        session=w.s, actor=a, finding_id=w.new_id, action="confirm"),
        decisions.undo_last(session=w.s, actor=a))),
    Rule(claims.next_finding, ADMIN, lambda w, a: claims.next_finding(
        session=w.s, actor=a, after_id=w.claimed_id, idle=timedelta(minutes=30))),
    Rule(claims.release_claim, ADMIN, lambda w, a: claims.release_claim(
        session=w.s, actor=a, finding_id=w.claimed_id)),
    Rule(after_decision.decide_and_learn, ADMIN, lambda w, a: after_decision.decide_and_learn(
        engine=w.engine, actor=a, finding_id=w.new_id, action="dismiss", reason="expected")),
    Rule(after_decision.bulk_decide_and_learn, ADMIN,
         lambda w, a: after_decision.bulk_decide_and_learn(
        engine=w.engine, actor=a, finding_ids=[w.new_id], action="confirm")),
    Rule(queue.list_findings, ADMIN, lambda w, a: queue.list_findings(
        session=w.s, actor=a, queue_filter=QueueFilter())),
    Rule(queue.page_rows, ADMIN, lambda w, a: queue.page_rows(
        session=w.s, actor=a, queue_filter=QueueFilter())),
    Rule(queue.matching_ids, ADMIN, lambda w, a: queue.matching_ids(
        session=w.s, actor=a, queue_filter=QueueFilter())),
    Rule(queue.filter_options, ADMIN, lambda w, a: queue.filter_options(session=w.s, actor=a)),
    Rule(cached.queue_filter_options, ADMIN, lambda w, a: cached.queue_filter_options(a)),
    Rule(history.entity_history, ADMIN, _history),
    Rule(suppressions.create_suppression, ADMIN, _suppress),
    Rule(suppressions.lift_suppression, ADMIN, lambda w, a: suppressions.lift_suppression(
        session=w.s, actor=a, suppression_id=w.suppression_id)),
    Rule(suppressions.list_suppressions, ADMIN, lambda w, a: suppressions.list_suppressions(
        session=w.s, actor=a)),
    # the work lists each dismissal reason is routed to: the Work lists page (admins)
    Rule(work_items.list_work, ADMIN, lambda w, a: work_items.list_work(
        session=w.s, actor=a, kind="data_quality")),
    Rule(work_items.work_counts, ADMIN, lambda w, a: work_items.work_counts(
        session=w.s, actor=a)),
    Rule(work_items.assign_work, ADMIN, lambda w, a: work_items.assign_work(
        session=w.s, actor=a, item_id=w.work["data_quality"], owner_id=w.people["bo"].id)),
    Rule(work_items.finish_work, ADMIN, lambda w, a: work_items.finish_work(
        session=w.s, actor=a, item_ids=[w.work["rule_tuning"]], action="work_reject")),
    Rule(work_items.reject_work, ADMIN, lambda w, a: work_items.reject_work(
        session=w.s, actor=a, item_ids=[w.work["exception"]], note="not an exception")),
    Rule(work_items.close_tickets, ADMIN, lambda w, a: work_items.close_tickets(
        session=w.s, actor=a, item_ids=[w.work["data_quality"]], note="fixed in HR")),
    Rule(work_items.merge_duplicate, ADMIN, lambda w, a: work_items.merge_duplicate(
        session=w.s, actor=a, item_id=w.work["duplicate"])),
    Rule(work_items.duplicate_pair, ADMIN, lambda w, a: work_items.duplicate_pair(
        session=w.s, actor=a, item_id=w.work["duplicate"])),
    Rule(work_items.merged_into, ADMIN, lambda w, a: work_items.merged_into(
        session=w.s, actor=a, finding_id=w.confirmed_id)),
    Rule(work_items.duplicate_grouping, ADMIN, lambda w, a: work_items.duplicate_grouping(
        session=w.s, actor=a, min_duplicates=1)),
    Rule(work_lists.rule_tuning_backlog, ADMIN, lambda w, a: work_lists.rule_tuning_backlog(
        session=w.s, actor=a)),
    Rule(work_lists.apply_tuning, ADMIN, _apply_tuning, frozenset({"tuning"})),
    Rule(work_lists.exception_proposals, ADMIN, lambda w, a: work_lists.exception_proposals(
        session=w.s, actor=a)),
    Rule(work_lists.apply_exception, ADMIN, lambda w, a: work_lists.apply_exception(
        session=w.s, actor=a, item_id=w.work["exception"], scope="course")),
    Rule(tickets.data_quality_tickets, ADMIN, lambda w, a: tickets.data_quality_tickets(
        session=w.s, actor=a)),
    Rule(tickets.tickets_csv, ADMIN, lambda w, a: tickets.tickets_csv(session=w.s, actor=a)),
    # learner reports and comments: the Report page (instructors) and the queue (admins)
    Rule(reports.instructor_roster, ADMIN_INSTRUCTOR, lambda w, a: reports.instructor_roster(
        engine=w.engine, actor=a), frozenset({"snapshot"})),
    Rule(learner_reports.file_learner_report, ADMIN_INSTRUCTOR,
         lambda w, a: learner_reports.file_learner_report(
        session=w.s, actor=a, learner_user_id="U42", course_id="C1",
        what_happened="Cannot open the final quiz.", urgency="high",
        allowed_courses={"C1": {"U42"}})),
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
    # personal API tokens: the API tokens page and `gapdesk tokens` (everyone, their own)
    Rule(api_tokens.create_api_token, EVERYONE, lambda w, a: api_tokens.create_api_token(
        session=w.s, actor=a, name="LMS plug-in", scope="write")),
    Rule(api_tokens.list_api_tokens, EVERYONE, lambda w, a: api_tokens.list_api_tokens(
        session=w.s, actor=a)),
    Rule(api_tokens.revoke_user_api_tokens, ADMIN, lambda w, a: api_tokens.revoke_user_api_tokens(
        session=w.s, actor=a, user_id=_user_id(w, "max"))),
    Rule(api_tokens.live_token_counts, ADMIN, lambda w, a: api_tokens.live_token_counts(
        session=w.s, actor=a)),
    Rule(api_tokens.revoke_api_token, EVERYONE, lambda w, a: api_tokens.revoke_api_token(
        session=w.s, actor=a, token_id=api_tokens.create_api_token(
            session=w.s, actor=a, name="old", scope="read")[0].id)),
    # audits: the Review queue's Audits lane and `gapdesk audit sample` (admins); their
    # figures on the Trends page (admins, managers) and in the rule ledger
    Rule(audit_sampling.draw_audit_sample, ADMIN, lambda w, a: audit_sampling.draw_audit_sample(
        engine=w.engine, actor=a, seed=1), frozenset({"snapshot"})),
    Rule(audits.record_sample, ADMIN, lambda w, a: audits.record_sample(
        session=w.s, actor=a, period_start=utcnow() - timedelta(days=7), period_end=utcnow(),
        snapshot_id=None, width=0.3,
        draws={"unowned_course": {"unflagged": audits.Draw(10, keys=["course=CX"])}})),
    Rule(audits.audit_items, ADMIN, lambda w, a: audits.audit_items(session=w.s, actor=a)),
    Rule(audits.audit_counts, ADMIN, lambda w, a: audits.audit_counts(session=w.s, actor=a)),
    Rule(audits.decide_audit, ADMIN, lambda w, a: audits.decide_audit(
        session=w.s, actor=a, item_id=w.audit_item_id, verdict="dismissed"),
         frozenset({"audit"})),
    Rule(audit_figures.audit_estimates, ADMIN_MANAGER, lambda w, a: audit_figures.audit_estimates(
        session=w.s, actor=a)),
    Rule(audit_figures.confirmed_misses, ADMIN_MANAGER,
         lambda w, a: audit_figures.confirmed_misses(session=w.s, actor=a)),
    Rule(audit_figures.reviewer_agreement, ADMIN_MANAGER,
         lambda w, a: audit_figures.reviewer_agreement(session=w.s, actor=a)),
    # webhooks: the Webhooks page and `gapdesk notify add-webhook` (admins)
    Rule(webhooks.register_endpoint, ADMIN, _endpoint),
    Rule(webhooks.list_endpoints, ADMIN, lambda w, a: webhooks.list_endpoints(
        session=w.s, actor=a)),
    Rule(webhooks.set_endpoint_active, ADMIN, lambda w, a: webhooks.set_endpoint_active(
        session=w.s, actor=a, endpoint_id=_endpoint(w, a), active=False)),
    Rule(webhooks.send_test, ADMIN, lambda w, a: webhooks.send_test(
        session=w.s, actor=a, endpoint_id=_endpoint(w, a))),
    Rule(webhooks.list_deliveries, ADMIN, lambda w, a: webhooks.list_deliveries(
        session=w.s, actor=a)),
    Rule(webhooks.delivery_attempts, ADMIN, lambda w, a: webhooks.delivery_attempts(
        session=w.s, actor=a, delivery_id=1)),
    Rule(webhooks.resend_delivery, ADMIN, lambda w, a: webhooks.resend_delivery(
        session=w.s, actor=a, delivery_id=webhooks.send_test(
            session=w.s, actor=a, endpoint_id=_endpoint(w, a)))),
    Rule(digest.queue_weekly_digest, ADMIN, lambda w, a: digest.queue_weekly_digest(
        session=w.s, actor=a)),
    # e-mail choices: the Notifications page and the API (everyone, their own)
    Rule(preferences.notification_settings, EVERYONE,
         lambda w, a: preferences.notification_settings(session=w.s, actor=a)),
    Rule(preferences.set_notification, EVERYONE, lambda w, a: preferences.set_notification(
        session=w.s, actor=a, kind=_mail_kind(a), enabled=False)),
    # the Home page (everyone signed in; instructors count only their own reports)
    Rule(findings.queue_counts, EVERYONE, lambda w, a: findings.queue_counts(
        session=w.s, actor=a)),
)
# fmt: on

# The rows whose calls only read: they are checked together on one shared world (quicker), and
# the test asserts that their allowed calls change nothing either.
READ_ONLY: frozenset[Callable[..., Any]] = frozenset({
    accounts.list_users, detect.recent_runs, detect.detection_run, api_tokens.list_api_tokens,
    rule_ledger.rule_ledger_tables,
    snapshots.validate_snapshot, snapshots.list_snapshots, decisions.preview_bulk,
    queue.list_findings, queue.page_rows, queue.matching_ids, queue.filter_options,
    history.entity_history,
    suppressions.list_suppressions, reports.instructor_roster, learner_reports.my_reports,
    comments.list_comments, feedback_log.log_page, exports.decision_rows, exports.finding_rows,
    trend_filter_options, trend_report, gap_flow, open_backlog,
    cycle_times, detector_precision, gap_locations,
    compliance_exposure, cached.trend_report_for, findings.queue_counts,
    cached.queue_filter_options, audits.audit_items, audits.audit_counts,
    audit_figures.audit_estimates, audit_figures.confirmed_misses,
    audit_figures.reviewer_agreement,
    work_items.list_work, work_items.work_counts, work_items.merged_into, work_items.duplicate_pair,
    work_items.duplicate_grouping, work_lists.rule_tuning_backlog, work_lists.exception_proposals,
    tickets.data_quality_tickets, tickets.tickets_csv,
    coverage.snapshot_coverage, coverage.validated_coverage, coverage.coverage_lines,
    webhooks.list_endpoints, webhooks.list_deliveries, webhooks.delivery_attempts,
    preferences.notification_settings,
    source_exports.validate_exports, intakes.prepare_intake, intakes.prepare_uploads,
    intakes.prepare_server_folder, overlaps.current_snapshot, overlaps.overlap_with_current,
})  # fmt: skip

ROLES: tuple[Role | None, ...] = (None, Role.admin, Role.instructor, Role.manager)


def _label(role: Role | None) -> str:
    return "signed out" if role is None else role.value
