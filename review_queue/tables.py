"""The review queue's tables (first version). Field names follow contracts/gap-taxonomy.md."""

from __future__ import annotations

from datetime import datetime
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

    Triggers on ``findings`` (migration 0011) insert a +1 row for a finding's new values and a
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
