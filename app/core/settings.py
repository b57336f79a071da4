"""Settings read from the environment (prefix ``GAPDESK_``) and an optional ``.env`` file."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.core.urls import ambiguous_password, mask_url_password


class ConfigError(Exception):
    """A setting is wrong; the message says which and how to fix it, in one line."""


class Settings(BaseSettings):
    """Every setting Gapdesk has: where it keeps its data, its database, sign-in, learning and
    reporting. Each is ``GAPDESK_<NAME>`` in the environment or a ``.env`` file."""

    model_config = SettingsConfigDict(
        env_prefix="GAPDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    home: Path = Field(default=Path(".gapdesk"))
    database_url: str | None = None
    session_days: int = Field(default=14, ge=1, le=365)
    # A browser session unused this long ends; a session token is replaced this often.
    session_idle_minutes: int = Field(default=120, ge=1, le=60 * 24 * 30)
    session_rotate_minutes: int = Field(default=30, ge=1, le=60 * 24 * 30)
    # REST API calls allowed per token in any 60 seconds (counted in the API's process).
    api_rate_per_minute: int = Field(default=120, ge=1, le=100_000)
    # Password sign-in back-off: failures allowed per account and per client address within
    # the window before each further try waits (base seconds, doubling, at most the window).
    sign_in_free_failures: int = Field(default=5, ge=1)
    sign_in_client_free_failures: int = Field(default=20, ge=1)
    sign_in_backoff_seconds: int = Field(default=30, ge=1)
    sign_in_window_minutes: int = Field(default=15, ge=1)
    # Password checks run at once in one server process (each costs ~64 MiB and ~0.3 s).
    sign_in_max_concurrent: int = Field(default=4, ge=1, le=64)
    # Single sign-on: the issuers (comma-separated URLs) whose users may sign in.
    oidc_issuers: str = ""
    # Retrain the priority model by itself after every N new decisions; 0 turns it off.
    retrain_every: int = Field(default=25, ge=0)
    # A claim nobody has acted on for this many minutes goes back to the queue.
    claim_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Audits: the target width of each share's 95% interval (wrong dismissals, misses among the
    # unflagged), per category; the sample sizes follow from it (0.3 → 43 where the population
    # is large).
    audit_interval_width: float = Field(default=0.3, gt=0.0, le=1.0)
    # The time zone weeks and days are cut in on the Trends page and in `gapdesk report`.
    reporting_tz: str = Field(default="UTC")
    # The integrity key (the log's chain, its anchors, model files); unset: <home>/integrity.key.
    log_key: SecretStr | None = None

    @field_validator("log_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 32:
            raise ValueError("the key must be at least 32 characters (e.g. openssl rand -hex 32)")
        return value

    # The paper the Trends PDF is laid out on, page after page: "a4" or "letter".
    report_paper: Literal["a4", "letter"] = Field(default="a4")
    # Folders the Data page may ingest from on the server (os.pathsep-separated); none: off.
    ingest_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    # What one upload on the Data page may unpack to, in bytes and in rows (lines).
    upload_max_bytes: int = Field(default=2 * 1024**3, ge=1)
    upload_max_rows: int = Field(default=50_000_000, ge=1)
    # Where links in e-mails point (the app as people open it), e.g. https://gapdesk.example.org
    base_url: str = Field(default="http://127.0.0.1:8501")
    # E-mail over SMTP: none set (no host), no mail is sent and deliveries wait.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "ssl"] = Field(default="starttls")
    smtp_user: str = ""
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(default="gapdesk@localhost", max_length=254)
    # A CA bundle (PEM) to trust for the SMTP server's certificate, besides the system's.
    smtp_ca_file: Path | None = None
    # Webhooks to private, loopback and link-local addresses (off: refused, against SSRF).
    webhook_allow_private: bool = False
    # How many times a delivery is tried before it is marked failed, and the first wait.
    notify_max_attempts: int = Field(default=8, ge=1, le=30)
    notify_retry_seconds: int = Field(default=30, ge=1, le=3600)

    @field_validator("base_url")
    @classmethod
    def _http_base(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                "needs an http:// or https:// address, e.g. https://gapdesk.example.org"
            )
        return value

    # Where detection's heavy passes run: "duckdb" (default, out of core over the stored
    # Parquet), "pandas" (everything in memory), or a Spark master ("spark://HOST:PORT",
    # "local[N]"); checked when detection starts (app.detection.engine).
    detection_engine: str = Field(default="duckdb")
    # DuckDB's memory limit (its own syntax: "1GB", "512MB"; empty: DuckDB's default, 80 % of
    # RAM) and threads (0: one per core).
    duckdb_memory_limit: str = Field(default="1GB")
    duckdb_threads: int = Field(default=0, ge=0, le=1024)

    @field_validator("ingest_roots", mode="before")
    @classmethod
    def _root_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [p.strip() for p in value.split(os.pathsep) if p.strip()]
        roots = [Path(p).expanduser() for p in value]
        relative = [str(p) for p in roots if not p.is_absolute()]
        if relative:
            raise ValueError(f"needs absolute folder paths, not {', '.join(relative)}")
        return roots

    @field_validator("reporting_tz")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        value = value.strip() or "UTC"
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name such as Europe/Berlin") from None
        return value

    def allowed_oidc_issuers(self) -> tuple[str, ...]:
        """The single-sign-on issuers accepted (none configured: none accepted)."""
        return tuple(i.strip() for i in self.oidc_issuers.split(",") if i.strip())

    def resolved_database_url(self) -> str:
        """The database URL to use: the configured one, or a SQLite file in ``home``."""
        if self.database_url:
            url = self.database_url.strip()
            check_database_url(url)
            return url
        return f"sqlite:///{(self.home / 'gapdesk.db').resolve()}"


SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def check_database_url(url: str) -> None:
    """Refuse a URL that SQLAlchemy cannot parse or whose backend Gapdesk does not support."""
    if ambiguous_password(url):
        raise ConfigError(
            f"GAPDESK_DATABASE_URL {mask_url_password(url)!r}: its password holds a character "
            "that must be percent-encoded ('@' as %40, '/' as %2F, '?' as %3F, '#' as %23)"
        )
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"GAPDESK_DATABASE_URL is not a database URL: {mask_url_password(url)!r} "
            "(expected e.g. sqlite:///path/gapdesk.db or postgresql+psycopg://user@host/db)"
        ) from None
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"GAPDESK_DATABASE_URL uses {parsed.get_backend_name()!r}; "
            "Gapdesk supports sqlite and postgresql"
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; a bad value is a ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "GAPDESK_" + str(first["loc"][0]).upper() if first["loc"] else "a GAPDESK_ setting"
        given = first.get("input")
        if name in ("GAPDESK_LOG_KEY", "GAPDESK_SMTP_PASSWORD"):
            given = "***"  # never echo a secret, not even a bad one
        raise ConfigError(f"{name}={given!r} cannot be used: {first['msg']}") from None
