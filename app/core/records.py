"""Tables the application layer keeps: ingested snapshots, detector configuration versions and
failed sign-ins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from review_queue.types import PortableJSON, UTCDateTime, utcnow


class SnapshotRecord(SQLModel, table=True):
    """An accepted snapshot: its id, what it describes, and where its typed tables are kept."""

    __tablename__ = "snapshots"

    id: str = Field(primary_key=True, max_length=16)  # the content hash's first 16 hex digits
    content_hash: str = Field(max_length=64, unique=True)
    as_of: datetime = Field(sa_type=UTCDateTime)
    source: str = Field(default="", max_length=500)
    origin: str = Field(default="", max_length=1000)  # the folder or upload it came from
    ingested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    ingested_by: str = Field(max_length=80)
    row_counts: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    quarantined_counts: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    notes: list[Any] = Field(default_factory=list, sa_type=PortableJSON)


class DetectorConfig(SQLModel, table=True):
    """One version of a detector's configuration (enabled, thresholds); the newest one applies."""

    __tablename__ = "detector_configs"
    __table_args__ = (UniqueConstraint("detector", "version", name="uq_detector_configs_version"),)

    id: int | None = Field(default=None, primary_key=True)
    detector: str = Field(max_length=80, index=True)
    version: int = Field(ge=1)
    enabled: bool = Field(default=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=80)
    note: str = Field(default="", max_length=2000)


class SignInFailure(SQLModel, table=True):
    """One refused password sign-in: for which account name and from which client.

    Kept in the database so that the back-off holds across every process serving the app."""

    __tablename__ = "sign_in_failures"

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=254, index=True)  # the name or email typed, normalised
    client: str = Field(max_length=100, index=True)  # the browser's address, or "unknown"
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
