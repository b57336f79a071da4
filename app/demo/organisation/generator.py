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
from app.demo.organisation.shards import (
    MAX_SHARD_PEOPLE,
    MAX_SHARDS,
    SHARD_STREAM,
    append_table,
    clear,
    keep_truth,
    per_department_rules,
    shard_departments,
    shard_key,
    shard_sizes,
)
from app.demo.organisation.submissions import build_submissions, submissions_table
from app.demo.organisation.sync_runs import build_sync_runs, sync_runs_table
from app.demo.organisation.timeline import DAY

DEFAULT_AS_OF = datetime(2026, 11, 27, tzinfo=UTC)
MIN_PEOPLE = 200
MAX_PEOPLE = 2_000_000
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

TABLE_NAMES = tuple(f.removesuffix(".csv") for f in TABLE_FILES)

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
    shard_people: int | None = None,
) -> DemoOrgSummary:
    """Write a synthetic organisation, its injected gaps and ``ground_truth.csv`` to ``out_dir``.

    With ``near_misses`` the organisation also holds look-alikes that the rules flag and its
    people know to be fine (``near_misses.csv``: category, entity_key, the dismissal reason and
    why), as a real one does; without, the files are byte-identical to those of earlier versions.

    Everything is generated in memory first, so bad parameters or a too-small organisation leave
    ``out_dir`` untouched. Above :data:`~app.demo.organisation.shards.SINGLE_MAX_PEOPLE` people
    (or with ``shard_people``) the organisation is generated in shards of at most
    ``shard_people`` (default 100,000) people, each appended to the files, so memory stays that
    of one shard (:mod:`app.demo.organisation.shards` says what changes). Raises
    :class:`UserError` with a one-line reason.
    """
    out = Path(out_dir)
    stamp = _check_params(out, seed, people, days, as_of, overwrite)
    sizes = shard_sizes(people, shard_people)
    if len(sizes) > MAX_SHARDS or min(sizes) < MIN_PEOPLE or max(sizes) > MAX_SHARD_PEOPLE:
        raise UserError(
            f"shards of {shard_people} people cannot hold {people} people: a shard holds "
            f"{MIN_PEOPLE} to {MAX_SHARD_PEOPLE:,} people, and there are at most {MAX_SHARDS}"
        )
    if len(sizes) == 1:
        ctx = _context(np.random.default_rng(seed), people, days, stamp)
        nm = NearMisses(np.random.default_rng([seed, NEAR_MISS_STREAM])) if near_misses else None
        out.mkdir(parents=True, exist_ok=True)
        rows = _write_tables(out, ctx, nm)
        truth, near = sorted(ctx.truth), sorted(nm.rows) if nm else []
    else:
        rows, truth, near = _write_shards(out, seed, sizes, days, stamp, near_misses)

    (out / "snapshot.toml").write_text(
        f'as_of = "{timestamp_text(np.array([stamp]))[0]}"\n'
        f'source = "gapdesk-demo seed={seed} people={people} days={days}"\n',
        encoding="utf-8",
    )
    truth_frame = pd.DataFrame(truth, columns=["category", "entity_key"])
    write_frame(truth_frame, out / "ground_truth.csv")
    gaps = truth_frame["category"].value_counts().sort_index().to_dict()
    misses: dict[str, int] = {}
    if near_misses:
        frame = pd.DataFrame(near, columns=["category", "entity_key", "reason", "explanation"])
        write_frame(frame, out / NEAR_MISS_FILE)
        misses = {str(k): int(v) for k, v in frame["category"].value_counts().sort_index().items()}
    else:
        (out / NEAR_MISS_FILE).unlink(missing_ok=True)  # a stale one from an earlier run
    return DemoOrgSummary(
        out_dir=out,
        rows={k: rows[k] for k in sorted(rows)},
        gaps={str(k): int(v) for k, v in gaps.items()},
        near_misses=misses,
    )


def _context(rng: np.random.Generator, people: int, days: int, stamp: int) -> GenerationContext:
    return GenerationContext(
        rng=rng, people=people, days=days, as_of=stamp, scale=min(1.0, people / 2000)
    )


def _write_tables(out: Path, ctx: GenerationContext, nm: NearMisses | None) -> dict[str, int]:
    """Generate one organisation (or shard) in memory and write its nine tables to ``out``."""
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
    return rows


def _write_shards(
    out: Path, seed: int, sizes: list[int], days: int, stamp: int, near_misses: bool
) -> tuple[dict[str, int], list[tuple[str, str]], list[tuple[str, str, str, str]]]:
    """Generate shard by shard into a staging folder, append each to the tables, then move them.

    Memory is one shard's; ``out`` gets the tables only once every shard is written.
    """
    staging = out / ".gapdesk-demo-staging"
    clear(staging)
    merged, shard_dir = staging / "tables", staging / "shard"
    merged.mkdir(parents=True)
    rows = dict.fromkeys(TABLE_NAMES, 0)
    truth: set[tuple[str, str]] = set()
    near: set[tuple[str, str, str, str]] = set()
    try:
        for k, size in enumerate(sizes):
            ctx = _context(np.random.default_rng([seed, SHARD_STREAM, k]), size, days, stamp)
            nm = (
                NearMisses(np.random.default_rng([seed, NEAR_MISS_STREAM, k]))
                if near_misses
                else None
            )
            clear(shard_dir)
            shard_dir.mkdir()
            _write_tables(shard_dir, ctx, nm)
            departments = shard_departments(shard_dir / "people.csv", k)
            for name in TABLE_NAMES:
                if name == "sync_runs" and k > 0:
                    continue
                transform = (
                    per_department_rules(k, departments) if name == "enrollment_rules" else None
                )
                rows[name] += append_table(
                    shard_dir / f"{name}.csv", merged / f"{name}.csv", name, k, transform
                )
            truth |= {(c, shard_key(key, k)) for c, key in ctx.truth if keep_truth(c, key, k)}
            if nm:
                near |= {(c, shard_key(key, k), r, e) for c, key, r, e in nm.rows}
        clear(shard_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in TABLE_NAMES:
            (merged / f"{name}.csv").replace(out / f"{name}.csv")
    finally:
        clear(staging)
    return rows, sorted(truth), sorted(near)
