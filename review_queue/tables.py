"""The review queue's tables (first version). Field names follow contracts/gap-taxonomy.md."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from review_queue.states import Status
from review_queue.types import PortableJSON, UTCDateTime, utcnow


class Role(StrEnum):
    """A user's one role; it decides which pages and services they may use."""

    admin = "admin"
    instructor = "instructor"
    manager = "manager"


class Severity(StrEnum):
    """How much harm a gap does if it is real."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class User(SQLModel, table=True):
    """A person who signs in. The password is only ever stored as an argon2 hash."""

    __tablename__ = "users"
    # One Gapdesk account per identity of a single-sign-on provider (issuer and subject).
    __table_args__ = (
        UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_users_oidc_identity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    email: str = Field(max_length=254, unique=True)
    role: str = Field(max_length=20)
    password_hash: str | None = Field(default=None, max_length=255)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Bound at the first single sign-on, then matched on instead of the email.
    oidc_issuer: str | None = Field(default=None, max_length=500)
    oidc_subject: str | None = Field(default=None, max_length=255)


class UserSession(SQLModel, table=True):
    """A signed-in browser. Only the SHA-256 of its token is kept, never the token."""

    __tablename__ = "user_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the browser last used it (for the idle timeout); written at most once a minute.
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The session this one was rotated from, first of its chain (None: opened by a sign-in).
    chain_id: int | None = Field(default=None)


class ApiToken(SQLModel, table=True):
    """A personal API token. Only the SHA-256 of the token is kept; it is shown once."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=80)
    scope: str = Field(max_length=10)  # "read" or "write"
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Finding(SQLModel, table=True):
    """A suspected gap about one entity, proposed by a detector (or filed by a person)."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("category", "entity_key", name="uq_findings_category_entity"),
        Index("ix_findings_queue", "status", "priority", "id"),
        Index("ix_findings_assignee_status", "assignee_id", "status"),
        Index("ix_findings_first_seen_at", "first_seen_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=40)
    entity_key: str = Field(max_length=400)
    title: str = Field(max_length=500)
    detector: str = Field(max_length=200)
    detector_version: str = Field(max_length=40)
    score: float = Field(ge=0.0, le=1.0)
    priority: float = Field(default=0.0)
    severity: str = Field(max_length=10)
    status: str = Field(default=Status.new.value, max_length=20)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    occurrences: int = Field(default=1, ge=1)
    assignee_id: int | None = Field(default=None, foreign_key="users.id")
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    explanation: str = Field(default="", max_length=2000)
    # Set when a resolved finding was proposed again: the fix did not hold.
    regression: bool = Field(default=False)
    # The status a snoozed finding wakes back into.
    status_before_snooze: str | None = Field(default=None, max_length=20)
    # The score when it was dismissed: only a marked rise brings a dismissed finding back.
    dismissed_score: float | None = None
    duplicate_of_id: int | None = Field(default=None, foreign_key="findings.id")
    # Where the gap is, for filters and trends: the course and the department it belongs to.
    course_id: str | None = Field(default=None, max_length=100, index=True)
    department: str | None = Field(default=None, max_length=200, index=True)
    # The instructor who filed a learner_report (they follow its status).
    reported_by_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    features: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    # Optimistic concurrency: every write bumps it; a write that names an older one is refused.
    row_version: int = Field(default=1)


class QueueCount(SQLModel, table=True):
    """How many findings share one combination of the queue's filter values, as rows to sum.

    Triggers on ``findings`` (migration 0014) insert a +1 row for a finding's new values and a
    -1 row for its old ones in the same transaction as the change, so writers only ever insert
    (no row two reviewers both update); ``queue_counts.fold_queue_counts`` sums the loose rows
    into one folded row per combination now and then.
    """

    __tablename__ = "queue_counts"
    __table_args__ = (Index("ix_queue_counts_folded_id", "folded", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(max_length=20)
    category: str = Field(max_length=40)
    severity: str = Field(max_length=10)
    detector: str = Field(max_length=200)
    department: str | None = Field(default=None, max_length=200)
    # No foreign key: a count row must never lock or block on the users table.
    assignee_id: int | None = None
    n: int
    folded: bool = Field(default=False)


class TrendRollup(SQLModel, table=True):
    """A signed count of one measure on one local day for one category, department and detector.

    Kept exact by triggers on ``findings`` and ``feedback_log`` (``trends.rollup_triggers``);
    days are cut in the zone ``trend_rollup_state`` names. ``day`` 0001-01-01 holds totals.
    """

    __tablename__ = "trend_rollups"
    __table_args__ = (Index("ix_trend_rollups_measure_day", "measure", "day"),)

    day: date = Field(primary_key=True)
    measure: str = Field(primary_key=True, max_length=20)
    category: str = Field(primary_key=True, max_length=40)
    department: str = Field(primary_key=True, max_length=200)
    detector: str = Field(primary_key=True, max_length=200)
    n: int


class TrendFindingCourse(SQLModel, table=True):
    """Findings first seen on a local day per course: ``opened``, ``open`` and ``real``."""

    __tablename__ = "trend_finding_courses"

    day: date = Field(primary_key=True)
    measure: str = Field(primary_key=True, max_length=20)
    course: str = Field(primary_key=True, max_length=400)
    category: str = Field(primary_key=True, max_length=40)
    department: str = Field(primary_key=True, max_length=200)
    n: int


class TrendFirstMove(SQLModel, table=True):
    """A finding's first triage (``kind`` triage) or resolution, with minutes since first seen."""

    __tablename__ = "trend_first_moves"
    __table_args__ = (Index("ix_trend_first_moves_kind_day", "kind", "day", "minutes"),)

    # No foreign keys: a roll-up row must never block a change to the rows it counts.
    finding_id: int = Field(primary_key=True)
    kind: str = Field(primary_key=True, max_length=10)
    at: datetime = Field(sa_type=UTCDateTime)
    day: date
    minutes: float
    category: str = Field(max_length=40)
    department: str = Field(max_length=200)


class FeedbackEvent(SQLModel, table=True):
    """One decision or status change. Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "feedback_log"
    __table_args__ = (Index("ix_feedback_log_finding_to_at", "finding_id", "to_status", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="findings.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    actor: str = Field(max_length=80)
    action: str = Field(max_length=30)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=40)
    comment: str | None = Field(default=None, max_length=4000)
    model_version: str | None = Field(default=None, max_length=60)
    priority_at_decision: float | None = None
    undoes_event_id: int | None = Field(default=None, foreign_key="feedback_log.id")
    prev_hash: str = Field(max_length=64)
    row_hash: str = Field(max_length=64, unique=True)
    # 1: plain SHA-256 (rows before migration 0008); 2: HMAC-SHA256 keyed outside the database.
    chain_version: int = Field(default=2, sa_column_kwargs={"server_default": "1"})


class FeedbackLogHead(SQLModel, table=True):
    """The newest link of the feedback log's hash chain; its one row serialises appends."""

    __tablename__ = "feedback_log_head"

    id: int = Field(default=1, primary_key=True)
    last_event_id: int | None = None
    last_hash: str = Field(max_length=64)


class DetectionRun(SQLModel, table=True):
    """One run of the detectors over a snapshot, and what it proposed."""

    __tablename__ = "detection_runs"

    id: int | None = Field(default=None, primary_key=True)
    snapshot_id: str | None = Field(default=None, max_length=80, index=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="running", max_length=20)
    started_by: str = Field(max_length=80)
    stats: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    error: str | None = Field(default=None, max_length=4000)


class ModelVersion(SQLModel, table=True):
    """A trained model: a candidate until a promotion gate or a person promotes it."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("kind", "version", name="uq_model_versions_kind_version"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=60)
    version: str = Field(max_length=60)
    status: str = Field(default="candidate", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    promoted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    promoted_by: str | None = Field(default=None, max_length=80)
    training_size: int = Field(default=0)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    artifact_path: str | None = Field(default=None, max_length=500)
    artifact_sha256: str | None = Field(default=None, max_length=64)
    sklearn_version: str | None = Field(default=None, max_length=20)


class Suppression(SQLModel, table=True):
    """'Do not propose this category for this entity (or from this detector) until a date.'"""

    __tablename__ = "suppressions"
    __table_args__ = (Index("ix_suppressions_lookup", "category", "entity_key"),)

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=40)
    entity_key: str = Field(max_length=400)
    detector: str | None = Field(default=None, max_length=200)
    finding_id: int = Field(foreign_key="findings.id")
    reason: str = Field(max_length=2000)
    created_by_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    lifted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    absorbed_count: int = Field(default=0)
    score_at_creation: float = Field(default=0.0)


class Comment(SQLModel, table=True):
    """A plain-text remark on a finding."""

    __tablename__ = "comments"

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="findings.id", index=True)
    author_id: int = Field(foreign_key="users.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    body: str = Field(max_length=4000)


class AuditSample(SQLModel, table=True):
    """One audit draw: the period, the snapshot, the target width and, per category and
    stream, the population and how many of it were sampled (``plan``)."""

    __tablename__ = "audit_samples"

    id: int | None = Field(default=None, primary_key=True)
    drawn_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    drawn_by: str = Field(max_length=80)
    period_start: datetime = Field(sa_type=UTCDateTime)
    period_end: datetime = Field(sa_type=UTCDateTime)
    snapshot_id: str | None = Field(default=None, max_length=80)
    width: float
    # category -> stream -> {"population": N, "sampled": n}
    plan: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)


class AuditItem(SQLModel, table=True):
    """One sampled item for a second look: a dismissed finding (stream ``dismissal``) or an
    entity its detector checked and did not flag (stream ``unflagged``)."""

    __tablename__ = "audit_items"
    __table_args__ = (
        UniqueConstraint("sample_id", "category", "entity_key", name="uq_audit_items_entity"),
        Index("ix_audit_items_open", "verdict", "assignee_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sample_id: int = Field(foreign_key="audit_samples.id", index=True)
    stream: str = Field(max_length=20)
    category: str = Field(max_length=40)
    entity_key: str = Field(max_length=400)
    # The dismissed finding (dismissal stream), or the one the verdict made (unflagged stream).
    finding_id: int | None = Field(default=None, foreign_key="findings.id", index=True)
    # Who made the first decision, and what it was (hidden from the auditor until they decide).
    original_reviewer_id: int | None = Field(default=None, foreign_key="users.id")
    original_reviewer: str | None = Field(default=None, max_length=80)
    original_reason: str | None = Field(default=None, max_length=40)
    # The auditor it is meant for: a second admin, not the original reviewer, where one exists.
    assignee_id: int | None = Field(default=None, foreign_key="users.id")
    # Inclusion probability π = sampled / population of its category and stream.
    population: int = Field(ge=0)
    sampled: int = Field(ge=0)
    verdict: str | None = Field(default=None, max_length=20)  # confirmed | dismissed
    decided_by_id: int | None = Field(default=None, foreign_key="users.id")
    decided_by: str | None = Field(default=None, max_length=80)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    comment: str | None = Field(default=None, max_length=4000)
    row_version: int = Field(default=1)


class WorkItem(SQLModel, table=True):
    """The fix a dismissal asks for (review_queue.routing): a rule to tune, a data-quality
    ticket, a scoped exception to propose, or a duplicate to merge (the Work lists page)."""

    __tablename__ = "work_items"
    __table_args__ = (Index("ix_work_items_kind_status", "kind", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    # rule_tuning, data_quality, exception, duplicate (review_queue.routing.WorkKind)
    kind: str = Field(max_length=20)
    finding_id: int = Field(foreign_key="findings.id", index=True)
    # The dismissal that routed it (its log row).
    dismiss_event_id: int = Field(foreign_key="feedback_log.id")
    # open, applied, rejected, closed, merged, withdrawn (the dismissal was undone or reopened)
    status: str = Field(default="open", max_length=20)
    detector: str = Field(max_length=200)
    owner_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=80)
    # What the list shows and the fix needs: a ticket's snapshot, tables and rows; the original
    # of a duplicate; the places of an exception; the features that fired.
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    note: str | None = Field(default=None, max_length=2000)


class WebhookEndpoint(SQLModel, table=True):
    """A URL an admin registered for some events; deliveries to it are signed with its secret.

    The secret is kept as given (HMAC needs it to sign), shown to the admin once."""

    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    events: list[Any] = Field(default_factory=list, sa_type=PortableJSON)
    # finding.opened only above (at or over) this severity; None: every severity.
    min_severity: str | None = Field(default=None, max_length=10)
    secret: str = Field(max_length=100)
    description: str = Field(default="", max_length=200)
    active: bool = Field(default=True)
    created_by: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutboxEvent(SQLModel, table=True):
    """Something that happened that people or systems are told about, written in the same
    transaction as the change itself (the transactional outbox)."""

    __tablename__ = "outbox_events"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=60, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutboxDelivery(SQLModel, table=True):
    """One event to one webhook endpoint or one person's mailbox, until it is delivered or its
    attempts run out."""

    __tablename__ = "outbox_deliveries"
    __table_args__ = (Index("ix_outbox_deliveries_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="outbox_events.id", index=True)
    channel: str = Field(max_length=10)  # "webhook" or "email"
    endpoint_id: int | None = Field(default=None, foreign_key="webhook_endpoints.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id")  # the mail's recipient
    status: str = Field(default="pending", max_length=12)  # pending, delivered, failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # A deliverer holds the delivery until then, so two deliverers never send it twice at once.
    leased_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    """One try of a delivery: when, what the receiver answered, and how long it took."""

    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="outbox_deliveries.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ok: bool = Field(default=False)
    status_code: int | None = None  # the HTTP status, or the SMTP reply code
    duration_ms: int = Field(default=0)
    response_excerpt: str = Field(default="", max_length=500)
    error: str | None = Field(default=None, max_length=500)


class NotificationPreference(SQLModel, table=True):
    """One person's choice for one kind of e-mail (absent: on)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_notification_preferences"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(max_length=40)
    enabled: bool = Field(default=True)
