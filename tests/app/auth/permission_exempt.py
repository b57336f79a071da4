"""The public functions the permission matrix does not call as services, each with why:
widgets, log writers, the REST routes (their own matrix) and the actorless page reads."""

from __future__ import annotations

# Public functions with an ``actor`` parameter that are not services a person calls.
NOT_SERVICES: dict[str, str] = {
    "review_queue.feedback_log.append_event": "the log writer: records the actor of a service "
    "that has already checked the role (reports by instructors, wakes by the system)",
    "review_queue.permissions.require_role": "the check itself",
    "review_queue.outbox.on_feedback_event": "the outbox side of the log writer: records what "
    "a service that has already checked the role did, in its transaction",
    "app.sources.xapi.actor_id": "reads the 'actor' field of an xAPI statement",
    "app.web.bulk_panel.bulk_panel": "Review queue page widgets; the services they call "
    "(preview_bulk, bulk_decide_and_learn) check the role",
    "app.web.finding_detail.finding_tabs": "Review queue page widgets; the services they call "
    "(entity_history, list_comments, add_comment, create_suppression) check the role",
    "app.web.audit_panel.audit_lane": "Review queue page widgets (the Audits view); the "
    "services they call (draw_audit_sample, audit_items, decide_audit) check the role",
    "app.web.audit_trends.audit_trends_panel": "Trends page widgets; the services they call "
    "(audit_estimates, reviewer_agreement) check the role",
    "app.web.finding_detail.suppressions_panel": "Review queue page widgets; the services they "
    "call (list_suppressions, lift_suppression) check the role",
    **{
        f"app.web.work_list_panels.{name}": "Work lists page widgets; the services they call "
        "(list_work, rule_tuning_backlog, data_quality_tickets, exception_proposals, "
        "duplicate_pair, merged_into, assign_work, finish_work and the fixes) check the role"
        for name in (
            "owner_controls",
            "rule_tuning_panel",
            "tickets_panel",
            "exceptions_panel",
            "duplicates_panel",
            "merged_panel",
        )
    },
    "app.web.queue_list.queue_list": "Review queue page widgets; the services they call "
    "(list_findings, matching_ids, the bulk panel's) check the role",
    "app.web.queue_list.read_page": "the Review queue list's page; list_findings checks the role",
}

# The REST API's route functions (their matrix: tests/app/api/test_api_permissions.py).
API_ROUTES = "app.api.routes."

# Database reads that pages import and that take no actor, so check nothing themselves. They are
# reached only from pages whose role the router and require_actor enforce (and from the CLI,
# run by the server's administrator). Listed so that a new one is a decision, not an accident.
ACTORLESS_PAGE_READS: dict[str, str] = {
    "app.auth.accounts.user_id_by_name": "Review queue page (admins): the assignment picker",
    "app.auth.accounts.user_name_by_id": "Review queue page (admins): who holds the open finding",
    "app.detection.configuration.detector_settings": (
        "Detectors page (admins); also read by detection runs"
    ),
    "app.learning.model_store.list_versions": (
        "Models page (admins); also the CLI's `models` command"
    ),
    "app.learning.ranking.queue_diff": "Models page (admins)",
    "review_queue.feedback_log.verify_chain": (
        "Feedback log page (admins, managers); also the CLI and the API (which checks the role)"
    ),
    "review_queue.findings.get_finding": "Review queue page (admins); the services' own lookup",
    "review_queue.claims.held_claims": (
        "Review queue page (admins): who holds the open finding; also the queue's own lookup"
    ),
}
