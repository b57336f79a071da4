"""The demo organisation generated table by table, and its files written (see the package)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from app.core.errors import UserError
from app.demo.organisation.activity import build_activity, write_activity
from app.demo.organisation.context import GenerationContext
from app.demo.organisation.courses import build_courses, courses_table, enrollment_rules_table
from app.demo.organisation.csv_bytes import timestamp_text, write_frame
from app.demo.organisation.enrollment_gaps import inject_enrollment_gaps, remove_missing_enrollments
from app.demo.organisation.enrollments import build_enrollments, write_enrollments
from app.demo.organisation.lms_users import build_lms_users
from app.demo.organisation.near_misses import (
    NEAR_MISS_FILE,
    NEAR_MISS_STREAM,
    NearMisses,
    near_miss_extension,
    near_miss_grandfathered,
    near_miss_mailboxless,
)
from app.demo.organisation.notifications import build_notifications, write_notifications
from app.demo.organisation.people import add_executive_office, build_people, people_table
from app.demo.organisation.submissions import build_submissions, submissions_table
from app.demo.organisation.sync_runs import build_sync_runs, sync_runs_table
from app.demo.organisation.timeline import DAY

DEFAULT_AS_OF = datetime(2026, 11, 27, tzinfo=UTC)
MIN_PEOPLE = 200
MAX_PEOPLE = 500_000
MIN_DAYS = 35
MAX_DAYS = 730


@dataclass(frozen=True)
class DemoOrgSummary:
    """What was written: row counts per table and gap counts per category."""

    out_dir: Path
    rows: dict[str, int]
    gaps: dict[str, int]
    near_misses: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        """All rows written across the contract tables."""
        return sum(self.rows.values())


TABLE_FILES = (
    "people.csv",
    "lms_users.csv",
    "courses.csv",
    "enrollments.csv",
    "enrollment_rules.csv",
    "activity.csv",
    "submissions.csv",
    "notifications.csv",
    "sync_runs.csv",
)

OUTPUT_FILES = (*TABLE_FILES, "snapshot.toml", "ground_truth.csv", NEAR_MISS_FILE)


def _check_params(
    out_dir: Path, seed: int, people: int, days: int, as_of: datetime, overwrite: bool
) -> int:
    """Validate the parameters; returns ``as_of`` in epoch seconds."""
    if not isinstance(seed, int) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    if not MIN_PEOPLE <= people <= MAX_PEOPLE:
        raise UserError(f"people must be between {MIN_PEOPLE} and {MAX_PEOPLE}, got {people}")
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise UserError(f"days must be between {MIN_DAYS} and {MAX_DAYS}, got {days}")
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    stamp = int(as_of.timestamp())
    if stamp % DAY:
        raise UserError(f"as_of must be a UTC midnight, got {as_of.isoformat()}")
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir() and not overwrite:
        clash = sorted(f for f in OUTPUT_FILES if (out_dir / f).exists())
        if clash:
            raise UserError(
                f"{out_dir} already holds {clash[0]} (and maybe more); choose an empty folder "
                "or replace it (--force, overwrite=True)"
            )
    return stamp


def generate_demo_org(
    out_dir: str | Path,
    *,
    seed: int = 1,
    people: int = 2000,
    days: int = 120,
    as_of: datetime = DEFAULT_AS_OF,
    overwrite: bool = False,
    near_misses: bool = False,
) -> DemoOrgSummary:
    """Write a synthetic organisation, its injected gaps and ``ground_truth.csv`` to ``out_dir``.

    With ``near_misses`` the organisation also holds look-alikes that the rules flag and its
    people know to be fine (``near_misses.csv``: category, entity_key, the dismissal reason and
    why), as a real one does; without, the files are byte-identical to those of earlier versions.

    Everything is generated in memory first, so bad parameters or a too-small organisation leave
    ``out_dir`` untouched. Raises :class:`UserError` with a one-line reason.
    """
    out = Path(out_dir)
    stamp = _check_params(out, seed, people, days, as_of, overwrite)
    ctx = GenerationContext(
        rng=np.random.default_rng(seed),
        people=people,
        days=days,
        as_of=stamp,
        scale=min(1.0, people / 2000),
    )
    nm = NearMisses(np.random.default_rng([seed, NEAR_MISS_STREAM])) if near_misses else None
    # Each step draws from ctx.rng in turn: moving a call changes every byte after it.
    org = build_people(ctx)
    build_courses(ctx, org)
    add_executive_office(org)
    enr = build_enrollments(ctx, org)
    remove_missing_enrollments(ctx, org, enr)
    if nm:
        near_miss_grandfathered(ctx, org, enr, nm)
    backslide, taken = inject_enrollment_gaps(ctx, org, enr)
    if nm:
        near_miss_extension(ctx, org, enr, taken, nm)
    ev = build_activity(ctx, org, enr, backslide, taken)
    subs = build_submissions(ctx, org, ev)
    notes = build_notifications(ctx, org, enr, subs)
    if nm:
        near_miss_mailboxless(ctx, org, notes, nm)
    users, owners = build_lms_users(ctx, org, ev)
    runs = build_sync_runs(ctx)

    out.mkdir(parents=True, exist_ok=True)
    user_ids, course_ids = org.user_ids(), org.course_ids()
    small_tables = {
        "people": people_table(org),
        "lms_users": users,
        "courses": courses_table(org, owners),
        "enrollment_rules": enrollment_rules_table(org),
        "submissions": submissions_table(subs, user_ids, course_ids),
        "sync_runs": sync_runs_table(runs),
    }
    rows: dict[str, int] = {}
    for name, frame in small_tables.items():
        write_frame(frame, out / f"{name}.csv")
        rows[name] = len(frame)
    del small_tables
    rows["enrollments"] = write_enrollments(out / "enrollments.csv", enr, user_ids, course_ids)
    rows["activity"] = write_activity(out / "activity.csv", ev, user_ids, course_ids)
    rows["notifications"] = write_notifications(
        out / "notifications.csv", notes, user_ids, course_ids
    )

    (out / "snapshot.toml").write_text(
        f'as_of = "{timestamp_text(np.array([stamp]))[0]}"\n'
        f'source = "gapdesk-demo seed={seed} people={people} days={days}"\n',
        encoding="utf-8",
    )
    truth = pd.DataFrame(sorted(ctx.truth), columns=["category", "entity_key"])
    write_frame(truth, out / "ground_truth.csv")
    gaps = truth["category"].value_counts().sort_index().to_dict()
    misses: dict[str, int] = {}
    if nm:
        near = pd.DataFrame(
            sorted(nm.rows), columns=["category", "entity_key", "reason", "explanation"]
        )
        write_frame(near, out / NEAR_MISS_FILE)
        misses = {str(k): int(v) for k, v in near["category"].value_counts().sort_index().items()}
    else:
        (out / NEAR_MISS_FILE).unlink(missing_ok=True)  # a stale one from an earlier run
    return DemoOrgSummary(
        out_dir=out,
        rows={k: rows[k] for k in sorted(rows)},
        gaps={str(k): int(v) for k, v in gaps.items()},
        near_misses=misses,
    )
