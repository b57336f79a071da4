"""Reading the queue: filters, sorting and paging done in SQL, counts per status, history."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, column, func, literal_column, or_, table
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from review_queue.claims import held_claims
from review_queue.findings import detectors_of, proposed_by
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.states import OPEN_STATUSES, WAITING_STATUSES, Status, values
from review_queue.tables import FeedbackEvent, Finding, User

MAX_PAGE = 200
MAX_BULK = 10_000

# The queue's views: the work to do first, each decided state in its own view; () is every status.
QUEUE_VIEWS: dict[str, tuple[str, ...]] = {
    "To do": values(WAITING_STATUSES),
    "Confirmed": (Status.confirmed.value,),
    "Snoozed": (Status.snoozed.value,),
    "Dismissed": (Status.dismissed.value,),
    "Resolved": (Status.resolved.value,),
    "All": (),
}
# The views where the findings assigned to the reviewer come before the rest.
MINE_FIRST_VIEWS = frozenset({"To do"})


@dataclass(frozen=True)
class QueueFilter:
    """What the reviewer narrowed the queue to. Empty fields mean 'any'."""

    statuses: tuple[str, ...] = tuple(s.value for s in OPEN_STATUSES)
    categories: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    detectors: tuple[str, ...] = ()
    assignee: str | None = None  # "me", "unassigned" or a user name
    course: str | None = None
    department: str | None = None
    text: str | None = None
    # The findings assigned to (or claimed by) the reviewer first, then the rest by priority.
    mine_first: bool = False


def view_filter(view: str, **narrowing: Any) -> QueueFilter:
    """The filter of one of QUEUE_VIEWS, narrowed by the other filter fields."""
    if view not in QUEUE_VIEWS:
        raise ValueError(f"{view!r} is not a queue view; use one of {', '.join(QUEUE_VIEWS)}")
    return QueueFilter(statuses=QUEUE_VIEWS[view], mine_first=view in MINE_FIRST_VIEWS,
                       **narrowing)  # fmt: skip


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue table."""

    id: int
    priority: float
    score: float
    severity: str
    status: str
    category: str
    entity_key: str
    title: str
    detector: str
    assignee: str | None
    occurrences: int
    last_seen_at: datetime
    regression: bool
    course_id: str | None
    department: str | None
    row_version: int
    # When the assignee claimed it, while the claim is the last thing that happened to it.
    claimed_at: datetime | None = None


# The finding columns a QueueRow carries (all its fields but the assignee's name and the claim).
_ROW_COLUMNS = (
    "id", "priority", "score", "severity", "status", "category", "entity_key", "title",
    "detector", "occurrences", "last_seen_at", "regression", "course_id", "department",
    "row_version",
)  # fmt: skip


@dataclass
class QueuePage:
    """A page of the queue, the total matching, and counts per status for the same filter."""

    rows: list[QueueRow]
    total: int
    page: int
    page_size: int
    status_counts: dict[str, int] = field(default_factory=dict)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Migration 0007's FTS5 table (SQLite); a phrase of 3+ characters is a trigram index lookup.
_FINDINGS_TEXT = table("findings_text", column("rowid"))
_TRIGRAM = 3


def text_condition(text: str, dialect: str) -> ColumnElement[bool]:
    """Findings whose title or entity key contains ``text``, case-insensitively.

    SQLite answers through its FTS5 trigram index for three characters or more; PostgreSQL's
    ILIKE through its trigram GIN indexes; shorter text (or another database) scans.
    """
    if dialect == "sqlite" and len(text) >= _TRIGRAM:
        phrase = '"' + text.replace('"', '""') + '"'
        hits = select(_FINDINGS_TEXT.c.rowid).where(
            literal_column("findings_text").op("MATCH")(phrase)
        )
        return col(Finding.id).in_(hits)
    pattern = f"%{_escape_like(text)}%"
    return or_(
        col(Finding.title).ilike(pattern, escape="\\"),
        col(Finding.entity_key).ilike(pattern, escape="\\"),
    )


def _where(
    query: Any, f: QueueFilter, actor: Actor, dialect: str, *, with_status: bool = True
) -> Any:
    if with_status and f.statuses:
        query = query.where(col(Finding.status).in_(f.statuses))
    if f.categories:
        query = query.where(col(Finding.category).in_(f.categories))
    if f.severities:
        query = query.where(col(Finding.severity).in_(f.severities))
    if f.detectors:
        query = query.where(or_(*[proposed_by(d) for d in f.detectors]))
    if f.assignee == "me":
        query = query.where(col(Finding.assignee_id) == actor.id)
    elif f.assignee == "unassigned":
        query = query.where(col(Finding.assignee_id).is_(None))
    elif f.assignee:
        named = select(col(User.id)).where(col(User.name) == f.assignee)
        query = query.where(col(Finding.assignee_id).in_(named))
    if f.course:
        query = query.where(col(Finding.course_id) == f.course.strip())
    if f.department:
        query = query.where(col(Finding.department) == f.department)
    if f.text and f.text.strip():
        query = query.where(text_condition(f.text.strip(), dialect))
    return query


def list_findings(
    *, session: Session, actor: Actor, queue_filter: QueueFilter, page: int = 0,
    page_size: int = 50,
) -> QueuePage:  # fmt: skip
    """A page of findings matching the filter, highest priority first (admins only)."""
    require_role(actor, ADMIN_ONLY, "reviewing the queue")
    page_size = max(1, min(page_size, MAX_PAGE))
    page = max(0, page)
    ids = _page_ids(session, actor, queue_filter, page * page_size, page_size)
    assignee = aliased(User)
    # Only the columns a row shows: whole findings would decode every row's evidence and
    # features JSON, which was a fifth of the queue page's CPU per key press.
    found = {
        int(r[0]): r
        for r in session.execute(
            sa_select(*[col(getattr(Finding, name)) for name in _ROW_COLUMNS], col(assignee.name))
            .outerjoin(assignee, col(assignee.id) == col(Finding.assignee_id))
            .where(col(Finding.id).in_(ids))
        ).all()
    }
    claimed = held_claims(session=session, finding_ids=ids)
    rows = []
    for fid in ids:
        *values, name = found[fid]
        shown = dict(zip(_ROW_COLUMNS, values, strict=True))
        rows.append(QueueRow(**shown, assignee=name, claimed_at=claimed.get(fid)))
    counts_query = _where(
        select(col(Finding.status), func.count()).group_by(col(Finding.status)),
        queue_filter,
        actor,
        _dialect(session),
        with_status=False,
    )
    counts = {status: int(n) for status, n in session.exec(counts_query).all()}
    total = (
        sum(counts.get(s, 0) for s in queue_filter.statuses)
        if queue_filter.statuses
        else (sum(counts.values()))
    )
    return QueuePage(rows, total, page, page_size, counts)


def _page_ids(session: Session, actor: Actor, f: QueueFilter, offset: int, limit: int) -> list[int]:
    """The ids of one page, highest priority first (the reviewer's own first when asked).

    The sort and the page run over narrow (id, status, priority) index entries; only the rows
    shown are then read whole, so a big queue never sorts wide rows. "Mine first" is two such
    reads (the reviewer's own, then the rest) rather than one sort on a computed column.
    """
    dialect = _dialect(session)
    order = (col(Finding.priority).desc(), col(Finding.id))

    def read(query: Any, skip: int, take: int) -> list[int]:
        query = _where(query.order_by(*order).offset(skip).limit(take), f, actor, dialect)
        return [int(i) for i in session.exec(query).all()]

    if not f.mine_first or actor.id is None:
        return read(select(col(Finding.id)), offset, limit)
    mine = col(Finding.assignee_id) == actor.id
    count = _where(select(func.count()).select_from(Finding).where(mine), f, actor, dialect)
    own = int(session.exec(count).one())
    ids = read(select(col(Finding.id)).where(mine), offset, limit) if offset < own else []
    if len(ids) < limit:
        others = col(Finding.assignee_id).is_(None) | (col(Finding.assignee_id) != actor.id)
        ids += read(select(col(Finding.id)).where(others), max(0, offset - own), limit - len(ids))
    return ids


def matching_ids(
    *, session: Session, actor: Actor, queue_filter: QueueFilter, limit: int = MAX_BULK
) -> list[int]:
    """Ids of every finding matching the filter (for 'apply to all matching'), capped."""
    require_role(actor, ADMIN_ONLY, "reviewing the queue")
    query = _where(
        select(col(Finding.id)).order_by(col(Finding.priority).desc(), col(Finding.id)),
        queue_filter,
        actor,
        _dialect(session),
    ).limit(limit)
    return [int(i) for i in session.exec(query).all()]


@dataclass(frozen=True)
class FilterOptions:
    """Values present in the queue, for the filter widgets."""

    categories: list[str]
    detectors: list[str]
    departments: list[str]
    assignees: list[str]


def filter_options(*, session: Session, actor: Actor) -> FilterOptions:
    """Distinct categories, detectors, departments and assignees (GROUP BY, not a full read)."""
    require_role(actor, ADMIN_ONLY, "reviewing the queue")

    def distinct(column: Any) -> list[str]:
        return sorted(
            str(v) for v in session.exec(select(column).where(column.is_not(None)).group_by(column))
        )

    detectors = sorted(
        {d for combo in distinct(col(Finding.detector)) for d in detectors_of(combo)}
    )
    admins = session.exec(
        select(col(User.name)).where(col(User.role) == "admin", col(User.active).is_(True))
    ).all()
    return FilterOptions(
        categories=distinct(col(Finding.category)),
        detectors=detectors,
        departments=distinct(col(Finding.department)),
        assignees=sorted(admins),
    )


@dataclass(frozen=True)
class HistoryItem:
    """One thing that happened to this entity: a decision on it or on a sibling finding."""

    finding_id: int
    category: str
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str
    reason: str | None
    comment: str | None
    event_id: int


def entity_history(
    *, session: Session, actor: Actor, finding: Finding, limit: int = 100
) -> list[HistoryItem]:
    """Every logged event about the same entity (any category), newest first."""
    require_role(actor, ADMIN_ONLY, "reviewing the queue")
    rows = session.exec(
        select(FeedbackEvent, Finding.category)
        .join(Finding, col(Finding.id) == col(FeedbackEvent.finding_id))
        .where(col(Finding.entity_key) == finding.entity_key)
        .order_by(col(FeedbackEvent.id).desc())
        .limit(limit)
    ).all()
    return [
        HistoryItem(
            finding_id=e.finding_id,
            category=category,
            at=e.at,
            actor=e.actor,
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            reason=e.reason,
            comment=e.comment,
            event_id=e.id or 0,
        )
        for e, category in rows
    ]


def with_statuses(f: QueueFilter, statuses: tuple[str, ...]) -> QueueFilter:
    """The same filter over other statuses."""
    return replace(f, statuses=statuses)
