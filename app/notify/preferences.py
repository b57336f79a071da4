"""Which e-mails a person gets: each kind on unless they turned it off (Notifications page, API)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.core.errors import UserError
from review_queue.outbox import MAIL_KIND_HELP, MailKind
from review_queue.permissions import EVERYONE, Actor, require_role
from review_queue.tables import NotificationPreference, Role

# The kinds each role can receive: only these are offered.
KINDS_FOR_ROLE: dict[Role, tuple[MailKind, ...]] = {
    Role.admin: (MailKind.assigned, MailKind.report_status),
    Role.instructor: (MailKind.report_status,),
    Role.manager: (MailKind.weekly_digest,),
}


@dataclass(frozen=True)
class MailChoice:
    """One kind of e-mail and whether this person gets it."""

    kind: str
    description: str
    enabled: bool


def notification_settings(*, session: Session, actor: Actor) -> list[MailChoice]:
    """The e-mails the actor's role can get, each with the actor's choice."""
    require_role(actor, EVERYONE, "seeing notification settings")
    stored = {
        p.kind: p.enabled
        for p in session.exec(
            select(NotificationPreference).where(col(NotificationPreference.user_id) == actor.id)
        )
    }
    return [
        MailChoice(k.value, MAIL_KIND_HELP[k], stored.get(k.value, True))
        for k in KINDS_FOR_ROLE[actor.role]
    ]


def set_notification(*, session: Session, actor: Actor, kind: str, enabled: bool) -> MailChoice:
    """Turn one kind of e-mail on or off for the actor themself."""
    require_role(actor, EVERYONE, "changing notification settings")
    if actor.id is None:
        raise UserError("notification settings belong to a person")
    # Any kind may be chosen (a role change keeps the choice); the page offers the role's.
    known = [k.value for k in MailKind]
    if kind not in known:
        raise UserError(f"no e-mail kind {kind!r}; use one of {', '.join(known)}")
    row = session.exec(
        select(NotificationPreference).where(
            col(NotificationPreference.user_id) == actor.id,
            col(NotificationPreference.kind) == kind,
        )
    ).first()
    if row is None:
        row = NotificationPreference(user_id=actor.id, kind=kind, enabled=enabled)
    row.enabled = enabled
    session.add(row)
    session.flush()
    return MailChoice(kind, MAIL_KIND_HELP[MailKind(kind)], enabled)
