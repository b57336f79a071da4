"""Reading the queue: filters, sorting and paging done in SQL, counts per status, history."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, column, func, literal_column, or_, table, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from review_queue.claims import held_claims
from review_queue.findings import DETECTOR_SEPARATOR, detectors_of
from review_queue.permissions import ADMIN_ONLY, Actor, require_role
from review_queue.queue_counts import counts_by
from review_queue.states import OPEN_STATUSES, WAITING_STATUSES, Status, values
from review_queue.tables import Finding, QueueCount, User

MAX_PAGE = 200
MAX_BULK = 10_000
# Free text is counted exactly up to this many matches per status, then shown as "1,000+".
TEXT_COUNT_CAP = 1000

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
    # Statuses whose count is a floor (free text matched more than TEXT_COUNT_CAP of them), and
    # whether ``total`` is one: shown as "1,000+".
    at_least: frozenset[str] = frozenset()
    total_at_least: bool = False

    def count_label(self, status: str | None = None) -> str:
        """A status's count (or the total) as shown: "1,234", or "1,000+" when it is a floor."""
        if status is None:
            return f"{self.total:,}" + ("+" if self.total_at_least else "")
        n = self.status_counts.get(status, 0)
        return f"{n:,}" + ("+" if status in self.at_least else "")


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
    query: Any, f: QueueFilter, actor: Actor, dialect: str, *, with_status: bool = True,
    model: Any = Finding, text: ColumnElement[bool] | None = None,
) -> Any:  # fmt: skip
    """``query`` narrowed by the filter, on ``model``'s columns (``Finding`` or ``QueueCount``,
    which has the same names; the count rows have no course or text, see ``_counts``)."""
    if with_status and f.statuses:
        query = query.where(model.status.in_(f.statuses))
    if f.categories:
        query = query.where(model.category.in_(f.categories))
    if f.severities:
        query = query.where(model.severity.in_(f.severities))
    if f.detectors:
        query = query.where(or_(*[_proposed_by(model.detector, d) for d in f.detectors]))
    if f.assignee == "me":
        query = query.where(model.assignee_id == actor.id)
    elif f.assignee == "unassigned":
        query = query.where(model.assignee_id.is_(None))
    elif f.assignee:
        named = select(col(User.id)).where(col(User.name) == f.assignee)
        query = query.where(model.assignee_id.in_(named))
    if f.department:
        query = query.where(model.department == f.department)
    if model is not Finding:
        return query
    if f.course:
        query = query.where(col(Finding.course_id) == f.course.strip())
    if text is not None:
        query = query.where(text)
    elif f.text and f.text.strip():
        query = query.where(text_condition(f.text.strip(), dialect))
    return query


def _proposed_by(column: Any, name: str) -> ColumnElement[bool]:
    """``findings.proposed_by`` on any table's detector column."""
    sep = DETECTOR_SEPARATOR
    return or_(
        column == name,
        column.startswith(name + sep, autoescape=True),
        column.endswith(sep + name, autoescape=True),
        column.contains(sep + name + sep, autoescape=True),
    )


def list_findings(
    *, session: Session, actor: Actor, queue_filter: QueueFilter, page: int = 0,
    page_size: int = 50,
) -> QueuePage:  # fmt: skip
    """A page of findings matching the filter, highest priority first, with the counts per
    status (admins only)."""
    require_role(actor, ADMIN_ONLY, "reviewing the queue")
    page_size = max(1, min(page_size, MAX_PAGE))
    page = max(0, page)
    rows, counts, at_least = _read_page(session, actor, queue_filter, page, page_size, True)
    shown = queue_filter.statuses or tuple(counts)
    total = sum(counts.get(s, 0) for s in shown)
    return QueuePage(
        rows, total, page, page_size, counts, at_least, any(s in at_least for s in shown)
    )


def page_rows(
    *, session: Session, actor: Actor, queue_filter: QueueFilter, page: int = 0,
    page_size: int = 50,
) -> list[QueueRow]:  # fmt: skip
    """Only the rows of one page, without the counts (the API's list, where counting a million
    findings would cost more than the page; admins only)."""
    require_role(actor, ADMIN_ONLY, "reviewing the queue")
    page_size = max(1, min(page_size, MAX_PAGE))
    page = max(0, page)
    return _read_page(session, actor, queue_filter, page, page_size, False)[0]


def _read_page(
    session: Session, actor: Actor, queue_filter: QueueFilter, page: int, page_size: int,
    counted: bool,
) -> tuple[list[QueueRow], dict[str, int], frozenset[str]]:  # fmt: skip
    """One page's rows, and (when ``counted``) the counts per status and the statuses whose
    count is a floor."""
    dialect = _dialect(session)
    text = _text_for(session, queue_filter, dialect)
    at_least: frozenset[str] = frozenset()
    counts: dict[str, int] = {}
    if isinstance(text, list):
        ids, counts = _few_hits(session, actor, queue_filter, text, page * page_size, page_size)
    else:
        ids = _page_ids(session, actor, queue_filter, page * page_size, page_size, text)
        if counted:
            counts, at_least = _counts(session, actor, queue_filter, dialect, text)
    return _rows(session, ids), counts, at_least


def _rows(session: Session, ids: list[int]) -> list[QueueRow]:
    """The queue rows of these findings, in this order."""
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
    return rows


def _text_for(
    session: Session, f: QueueFilter, dialect: str
) -> ColumnElement[bool] | list[int] | None:
    """The free-text condition the page and its counts use, or None without text.

    A string in many titles is better found by reading the queue in priority order and testing
    each row than by listing every hit of the index first (SQLite's IN over FTS5 lists them all),
    so past ``TEXT_COUNT_CAP`` hits SQLite tests the rows with LIKE (same matches for ASCII text);
    below it, the page and counts read just the hits.
    """
    needle = (f.text or "").strip()
    if not needle:
        return None
    indexed = text_condition(needle, dialect)
    if len(needle) < _TRIGRAM:
        return indexed
    if dialect != "sqlite":
        # PostgreSQL's trigram index lists the hits; few of them are read and sorted here.
        found = select(col(Finding.id)).where(indexed).limit(TEXT_COUNT_CAP + 1)
        ids = [int(i or 0) for i in session.exec(found).all()]
        return ids if len(ids) <= TEXT_COUNT_CAP else indexed
    probe = select(_FINDINGS_TEXT.c.rowid).where(
        literal_column("findings_text").op("MATCH")('"' + needle.replace('"', '""') + '"')
    )
    hits = [int(i) for i in session.exec(probe.limit(TEXT_COUNT_CAP + 1)).all()]
    if len(hits) <= TEXT_COUNT_CAP:
        return hits  # few enough to read by rowid and sort here (``_few_hits``)
    pattern = f"%{_escape_like(needle)}%"
    return or_(
        col(Finding.title).ilike(pattern, escape="\\"),
        col(Finding.entity_key).ilike(pattern, escape="\\"),
    )


def _few_hits(
    session: Session, actor: Actor, f: QueueFilter, hits: list[int], offset: int, limit: int
) -> tuple[list[int], dict[str, int]]:
    """The page and exact counts when free text hit at most ``TEXT_COUNT_CAP`` findings: those
    rows read by rowid and sorted here (SQLite would otherwise walk a status index testing each
    row against the hits)."""
    query = _where(
        select(col(Finding.id), col(Finding.status), col(Finding.priority),
               col(Finding.assignee_id)),
        f, actor, "", with_status=False, text=col(Finding.id).in_(hits),
    )  # fmt: skip
    rows = session.exec(query).all()
    counts: dict[str, int] = {}
    for _, status, _, _ in rows:
        counts[status] = counts.get(status, 0) + 1
    chosen = [r for r in rows if not f.statuses or r[1] in f.statuses]
    mine_first = f.mine_first and actor.id is not None
    chosen.sort(key=lambda r: (mine_first and r[3] != actor.id, -r[2], r[0]))
    return [int(r[0]) for r in chosen[offset : offset + limit]], dict(sorted(counts.items()))


def _counts(
    session: Session, actor: Actor, f: QueueFilter, dialect: str,
    text: ColumnElement[bool] | None,
) -> tuple[dict[str, int], frozenset[str]]:  # fmt: skip
    """Findings per status for the filter (any status), and the statuses counted only to a floor.

    Without text or course the figures are sums of ``queue_counts`` rows (exact, a few hundred
    rows at most); a course is narrow enough to count through its index; free text is counted
    exactly up to ``TEXT_COUNT_CAP`` matches per status, and "at least" beyond.
    """
    if text is not None:
        return _text_counts(session, actor, f, dialect, text)
    if f.course:
        grouped = _where(
            select(col(Finding.status), func.count()).group_by(col(Finding.status)),
            f, actor, dialect, with_status=False,
        )  # fmt: skip
        return {str(s): int(n) for s, n in session.exec(grouped).all()}, frozenset()
    summed = counts_by(
        session, lambda q: _where(q, f, actor, dialect, with_status=False, model=QueueCount)
    )
    return {str(key[0]): n for key, n in sorted(summed.items())}, frozenset()


def _text_counts(
    session: Session, actor: Actor, f: QueueFilter, dialect: str, text: ColumnElement[bool]
) -> tuple[dict[str, int], frozenset[str]]:
    counts: dict[str, int] = {}
    at_least: set[str] = set()
    for status in Status:
        hits = _where(
            select(col(Finding.id)).where(col(Finding.status) == status.value),
            f, actor, dialect, with_status=False, text=text,
        ).limit(TEXT_COUNT_CAP + 1)  # fmt: skip
        n = int(session.exec(select(func.count()).select_from(hits.subquery())).one())
        if n:
            counts[status.value] = min(n, TEXT_COUNT_CAP)
        if n > TEXT_COUNT_CAP:
            at_least.add(status.value)
    return counts, frozenset(at_least)


def _page_ids(
    session: Session, actor: Actor, f: QueueFilter, offset: int, limit: int,
    text: ColumnElement[bool] | None = None,
) -> list[int]:  # fmt: skip
    """The ids of one page, highest priority first (the reviewer's own first when asked).

    The sort and the page run over narrow (status, priority, id) index entries; only the rows
    shown are then read whole, so a big queue never sorts wide rows. Several statuses are read
    as one ordered index range each, merged (UNION ALL of per-status pages), so neither database
    sorts every open finding to show fifty. "Mine first" is two such reads (the reviewer's own,
    then the rest) rather than one sort on a computed column.
    """
    dialect = _dialect(session)
    order = (col(Finding.priority).desc(), col(Finding.id))

    def read(extra: list[Any], skip: int, take: int) -> list[int]:
        statuses: tuple[Any, ...] = tuple(f.statuses) or (None,)
        parts = []
        for status in statuses:
            query = select(col(Finding.id), col(Finding.priority)).where(*extra)
            if status is not None:
                query = query.where(col(Finding.status) == status)
            query = _where(query, f, actor, dialect, with_status=False, text=text)
            parts.append(query.order_by(*order).limit(skip + take).subquery().select())
        merged = parts[0].subquery() if len(parts) == 1 else union_all(*parts).subquery()
        page = (
            select(merged.c.id)
            .order_by(merged.c.priority.desc(), merged.c.id)
            .offset(skip)
            .limit(take)
        )
        return [int(i) for i in session.exec(page).all()]

    if not f.mine_first or actor.id is None:
        return read([], offset, limit)
    mine = col(Finding.assignee_id) == actor.id
    count = _where(
        select(func.count()).select_from(Finding).where(mine), f, actor, dialect, text=text
    )
    own = int(session.exec(count).one())
    ids = read([mine], offset, limit) if offset < own else []
    if len(ids) < limit:
        others = col(Finding.assignee_id).is_(None) | (col(Finding.assignee_id) != actor.id)
        ids += read([others], max(0, offset - own), limit - len(ids))
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


def with_statuses(f: QueueFilter, statuses: tuple[str, ...]) -> QueueFilter:
    """The same filter over other statuses."""
    return replace(f, statuses=statuses)
