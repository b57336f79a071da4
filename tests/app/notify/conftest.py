"""People and findings in a real database, webhooks allowed to loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.settings import get_settings
from review_queue.permissions import Actor
from tests.helpers.queue_fixtures import add_finding, add_people


@pytest.fixture
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """GAPDESK_WEBHOOK_ALLOW_PRIVATE=true: the receiver runs on 127.0.0.1."""
    monkeypatch.setenv("GAPDESK_WEBHOOK_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def people(db: Engine) -> dict[str, Actor]:
    """ada and bo (admins), ivy (instructor), max (manager)."""
    with Session(db, expire_on_commit=False) as s:
        return add_people(s)


@pytest.fixture
def finding_ids(db: Engine, people: dict[str, Actor]) -> list[int]:
    """Three new findings: high, low and critical."""
    ids = []
    with Session(db, expire_on_commit=False) as s:
        for n, severity in enumerate(("high", "low", "critical"), start=1):
            f = add_finding(s, n, severity=severity)
            assert f.id is not None
            ids.append(f.id)
    return ids
