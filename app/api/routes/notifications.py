"""The caller's own e-mail choices (as on the Notifications page)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import EngineDep, Reader, Writer
from app.core.db import session_scope
from app.notify.preferences import notification_settings, set_notification

router = APIRouter(prefix="/api/me/notifications", tags=["notifications"])


class ChoiceIn(BaseModel):
    """On or off."""

    enabled: bool


@router.get("")
def my_notifications_route(actor: Reader, engine: EngineDep) -> list[dict[str, Any]]:
    """The e-mails your role can get and whether you get each (everyone)."""
    with session_scope(engine, read_only=True) as session:
        return [asdict(c) for c in notification_settings(session=session, actor=actor)]


@router.put("/{kind}")
def set_notification_route(
    kind: str, body: ChoiceIn, actor: Writer, engine: EngineDep
) -> dict[str, Any]:
    """Turn one kind of e-mail on or off for yourself (everyone)."""
    with session_scope(engine) as session:
        choice = set_notification(session=session, actor=actor, kind=kind, enabled=body.enabled)
    return asdict(choice)
