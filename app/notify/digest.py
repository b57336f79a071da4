"""The weekly digest: the Trends takeaways of the last weeks, e-mailed to every manager who
wants it (``gapdesk notify digest``, from cron once a week)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.core.settings import get_settings
from app.sources.roster import course_titles
from review_queue.outbox import EventKind, MailKind, mail_enabled, record_event
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.tables import Role, User
from review_queue.trends.filters import TrendFilters
from review_queue.trends.report import trend_report

DIGEST_WEEKS = 4


@dataclass(frozen=True)
class DigestQueued:
    """What one digest run queued."""

    recipients: tuple[str, ...]
    takeaways: int
    period: str


def queue_weekly_digest(
    *, session: Session, actor: Actor, weeks: int = DIGEST_WEEKS
) -> DigestQueued:
    """Queue the digest (the Trends takeaways of the last ``weeks`` weeks, with a link) to every
    active manager with an e-mail who has not turned it off (admins; the CLI runs it)."""
    require_role(actor, ADMIN_ONLY, "sending the weekly digest")
    filters = TrendFilters.last_weeks(weeks, tz=get_settings().reporting_tz)
    managers = session.exec(
        select(User)
        .where(col(User.role) == Role.manager.value, col(User.active))
        .order_by(col(User.name))
    ).all()
    wanting = [
        u
        for u in managers
        if u.id is not None
        and u.email
        and mail_enabled(session=session, user_id=u.id, kind=MailKind.weekly_digest)
    ]
    period = f"{filters.start:%Y-%m-%d} to {filters.end:%Y-%m-%d}"
    if not wanting:
        return DigestQueued((), 0, period)
    report = trend_report(
        session=session, actor=actor, filters=filters, course_titles=course_titles(session=session)
    )
    takeaways = [{"title": m.title, "takeaway": m.takeaway} for m in report.metrics if m.takeaway]
    record_event(
        session=session, kind=EventKind.weekly_digest,
        payload={"period": period, "weeks": weeks, "takeaways": takeaways},
        endpoint_ids=[], mail_to=[u.id for u in wanting if u.id is not None],
    )  # fmt: skip
    return DigestQueued(tuple(u.name for u in wanting), len(takeaways), period)
