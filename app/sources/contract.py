"""The LMS snapshot contract (contracts/lms-snapshot.md, version 2) as data.

Everything that validates, imports or maps snapshot data reads the tables, columns, types, enums
and references from here, so the contract is written down once.

Required and optional
---------------------
Only ``lms_users`` and ``courses`` are required tables; every other table may be absent (an LMS
log alone, ``lms_users`` + ``courses`` + ``activity``, is a valid snapshot). Within a table, a
column may be absent when the source cannot know it (:attr:`Column.may_be_absent`): every
nullable column, which includes those with a default such as ``grading_sla_days``. The columns
that are not nullable (ids, references, types, enums a row cannot do without) must be present.
*Absent is not empty*: a column left out means "the source does not say"; an empty cell in a
present column means "known to be empty". ``models.snapshot.Snapshot.has_column`` tells them
apart after loading.

Version 1 snapshots (all nine tables' version-1 columns) are valid version 2 snapshots: the
columns version 2 added (``lms_users.full_name``, ``courses.starts_at``/``ends_at``,
``activity.object_id``) are simply absent from them.

References, and which of them are integrity rules
-------------------------------------------------
A reference is *enforced* when a row whose reference dangles cannot be used at all: an enrolment,
submission, activity event or notification of a user or course that does not exist cannot be
attributed to anyone, so such rows are rejected (or quarantined). Enforced references point only at
``lms_users.user_id`` and ``courses.course_id``, the two required tables, so their target is
always there; a reference from an absent table, or from an absent (nullable) column, is not
checked, since nothing refers.

Three references are *not* enforced because a dangling value is exactly what a detector must see,
not a broken file:

* ``lms_users.person_id → people.person_id``: a link to no known person is the ``orphan_account``
  gap (when ``people`` is absent nothing is known about persons, and nothing dangles).
* ``courses.owner_user_id → lms_users.user_id``: an owner who is not an LMS user is the
  ``unowned_course`` gap.
* ``people.manager_person_id → people.person_id``: HR rosters routinely name managers outside the
  exported population (other legal entities, leavers); nothing in Gapdesk depends on it resolving.

They are still listed (``enforced=False``) so that detectors and the Data page can find them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from models.snapshot import ALL_TABLES, OPTIONAL_TABLES, REQUIRED_TABLES

ColumnType = Literal["str", "timestamp", "date", "bool", "int", "float"]

CONTRACT_VERSION = 2


@dataclass(frozen=True)
class Column:
    """One contract column: its type, whether it may be empty, and what values it allows."""

    name: str
    type: ColumnType
    nullable: bool = False
    unique: bool = False
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    # The value a reader takes for an empty (or absent) cell, when the contract names one.
    default: float | None = None

    @property
    def may_be_absent(self) -> bool:
        """Whether a source may leave this column out (it cannot know it): nullable columns."""
        return self.nullable or self.default is not None


@dataclass(frozen=True)
class Reference:
    """``table.column`` must name an existing ``target_table.target_column`` (when enforced)."""

    column: str
    target_table: str
    target_column: str
    enforced: bool = True
    why: str = ""


@dataclass(frozen=True)
class Table:
    """One contract table: required or optional, its columns and its references."""

    name: str
    required: bool
    columns: tuple[Column, ...]
    references: tuple[Reference, ...] = field(default=())

    @property
    def id_column(self) -> str:
        """The table's unique identifier column (every contract table has exactly one)."""
        return next(c.name for c in self.columns if c.unique)

    @property
    def column_names(self) -> tuple[str, ...]:
        """The contract columns in the contract's order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError if the contract has none."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    def missing_columns(self, names: Iterable[str]) -> list[str]:
        """The columns that must be present (not :attr:`Column.may_be_absent`) but are not
        among ``names``."""
        found = set(names)
        return [c.name for c in self.columns if not c.may_be_absent and c.name not in found]

    def absent_columns(self, names: Iterable[str]) -> tuple[str, ...]:
        """The contract columns not among ``names``: what a source with these columns left out."""
        found = set(names)
        return tuple(c.name for c in self.columns if c.name not in found)

    def carried(self, names: Iterable[str]) -> Table:
        """This table with only its columns among ``names`` (those a source carried)."""
        found = set(names)
        return replace(self, columns=tuple(c for c in self.columns if c.name in found))


def _c(
    name: str,
    type_: ColumnType = "str",
    *,
    nullable: bool = False,
    unique: bool = False,
    enum: tuple[str, ...] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    default: float | None = None,
) -> Column:
    return Column(name, type_, nullable, unique, enum, minimum, maximum, default)


_USER = Reference("user_id", "lms_users", "user_id")
_COURSE = Reference("course_id", "courses", "course_id")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "people",
            False,
            (
                _c("person_id", unique=True),
                _c("email"),
                _c("full_name"),
                _c("department"),
                _c("job_title"),
                _c("manager_person_id", nullable=True),
                _c("employment_status", enum=("active", "leave", "terminated")),
                _c("hire_date", "date"),
                _c("termination_date", "date", nullable=True),
            ),
            (
                Reference(
                    "manager_person_id",
                    "people",
                    "person_id",
                    enforced=False,
                    why="managers outside the exported population are normal",
                ),
            ),
        ),
        Table(
            "lms_users",
            True,
            (
                _c("user_id", unique=True),
                _c("person_id", nullable=True),
                _c("email", nullable=True),
                _c("full_name", nullable=True),
                _c("status", enum=("active", "suspended", "deleted")),
                _c("created_at", "timestamp", nullable=True),
                _c("last_login_at", "timestamp", nullable=True),
            ),
            (
                Reference(
                    "person_id",
                    "people",
                    "person_id",
                    enforced=False,
                    why="a link to no known person is the orphan_account gap",
                ),
            ),
        ),
        Table(
            "courses",
            True,
            (
                _c("course_id", unique=True),
                _c("title"),
                _c("department", nullable=True),
                _c("owner_user_id", nullable=True),
                _c("starts_at", "timestamp", nullable=True),
                _c("ends_at", "timestamp", nullable=True),
                _c("is_compliance", "bool"),
                _c("due_days", "int", nullable=True, minimum=0),
                _c("grading_sla_days", "int", nullable=True, minimum=0, default=7),
                _c("status", enum=("active", "archived")),
            ),
            (
                Reference(
                    "owner_user_id",
                    "lms_users",
                    "user_id",
                    enforced=False,
                    why="an owner who is not an LMS user is the unowned_course gap",
                ),
            ),
        ),
        Table(
            "enrollments",
            False,
            (
                _c("enrollment_id", unique=True),
                _c("user_id"),
                _c("course_id"),
                _c("source", enum=("rule", "manual", "hr_sync", "self")),
                _c(
                    "status",
                    enum=("enrolled", "in_progress", "completed", "withdrawn", "failed"),
                ),
                _c("enrolled_at", "timestamp"),
                _c("due_at", "timestamp", nullable=True),
                _c("completed_at", "timestamp", nullable=True),
                _c("withdrawn_at", "timestamp", nullable=True),
                _c("progress_pct", "float", nullable=True, minimum=0, maximum=100),
            ),
            (_USER, _COURSE),
        ),
        Table(
            "enrollment_rules",
            False,
            (
                _c("rule_id", unique=True),
                _c("course_id"),
                _c("department", nullable=True),
                _c("job_title", nullable=True),
                _c("active", "bool"),
                _c("grace_days", "int", nullable=True, minimum=0, default=3),
            ),
            (_COURSE,),
        ),
        Table(
            "activity",
            False,
            (
                _c("event_id", unique=True),
                _c("user_id"),
                _c("course_id", nullable=True),
                _c("object_id", nullable=True),
                _c(
                    "verb",
                    enum=(
                        "login",
                        "login_failed",
                        "launched",
                        "launch_failed",
                        "viewed",
                        "progressed",
                        "submitted",
                        "completed",
                        "passed",
                        "failed",
                    ),
                ),
                _c("timestamp", "timestamp"),
                _c("value", "float", nullable=True),
            ),
            (_USER, _COURSE),
        ),
        Table(
            "submissions",
            False,
            (
                _c("submission_id", unique=True),
                _c("user_id"),
                _c("course_id"),
                _c("assignment_id"),
                _c("submitted_at", "timestamp"),
                _c("graded_at", "timestamp", nullable=True),
                _c("score", "float", nullable=True),
            ),
            (_USER, _COURSE),
        ),
        Table(
            "notifications",
            False,
            (
                _c("notification_id", unique=True),
                _c("user_id"),
                _c("course_id", nullable=True),
                _c("kind", enum=("enrollment", "reminder", "overdue", "feedback", "other")),
                _c("channel", enum=("email", "sms", "push", "in_app")),
                _c("sent_at", "timestamp"),
                _c("delivered_at", "timestamp", nullable=True),
                _c("bounced", "bool"),
                _c("opened_at", "timestamp", nullable=True),
            ),
            (_USER, _COURSE),
        ),
        Table(
            "sync_runs",
            False,
            (
                _c("run_id", unique=True),
                _c("integration"),
                _c("started_at", "timestamp"),
                _c("finished_at", "timestamp", nullable=True),
                _c("status", enum=("success", "partial", "failed", "running")),
                _c("records_read", "int", minimum=0),
                _c("records_written", "int", minimum=0),
                _c("error_count", "int", minimum=0),
            ),
        ),
    )
}

# The contract and models.snapshot must agree on which tables exist and which are required.
assert tuple(TABLES) == ALL_TABLES
assert tuple(n for n, t in TABLES.items() if t.required) == REQUIRED_TABLES
assert tuple(n for n, t in TABLES.items() if not t.required) == OPTIONAL_TABLES

# Spellings accepted for booleans (compared after trimming and lower-casing).
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")


def table(name: str) -> Table:
    """The contract table called ``name``; KeyError naming the known tables otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no contract table {name!r}; known: {', '.join(TABLES)}") from None


def enforced_references() -> list[tuple[str, Reference]]:
    """(table, reference) pairs whose dangling values make a row unusable."""
    return [(t.name, r) for t in TABLES.values() for r in t.references if r.enforced]
