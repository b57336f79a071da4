"""Settings read from the environment (prefix ``GAPDESK_``) and an optional ``.env`` file."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


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
    # Retrain the priority model by itself after every N new decisions; 0 turns it off.
    retrain_every: int = Field(default=25, ge=0)
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

    @field_validator("reporting_tz")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        value = value.strip() or "UTC"
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name such as Europe/Berlin") from None
        return value

    def resolved_database_url(self) -> str:
        """The database URL to use: the configured one, or a SQLite file in ``home``."""
        if self.database_url:
            url = self.database_url.strip()
            check_database_url(url)
            return url
        return f"sqlite:///{(self.home / 'gapdesk.db').resolve()}"


SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def _mask_secret(url: str) -> str:
    # A URL we cannot parse may still carry a password: never echo what sits before an '@'.
    return re.sub(r"(?<=://)[^@/]*@", "***@", url)


def check_database_url(url: str) -> None:
    """Refuse a URL that SQLAlchemy cannot parse or whose backend Gapdesk does not support."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"GAPDESK_DATABASE_URL is not a database URL: {_mask_secret(url)!r} "
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
        if name == "GAPDESK_LOG_KEY":
            given = "***"  # never echo a secret, not even a bad one
        raise ConfigError(f"{name}={given!r} cannot be used: {first['msg']}") from None
