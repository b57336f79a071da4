"""A synthetic organisation in snapshot-contract form, with known gaps and their ground truth.

``generate_demo_org(out_dir, seed=..., people=..., days=...)`` writes the nine contract tables
(``<table>.csv``), ``snapshot.toml`` (``as_of``, ``source``) and ``ground_truth.csv``
(``category,entity_key``, keys built with :func:`models.taxonomy.entity_key`).

Time model: ``as_of`` (default 2026-11-27T00:00:00Z, must be a UTC midnight) is "now"; the
*window* is the ``days`` whole days before it. Activity, notifications, submissions and sync runs
lie inside the window; HR and enrolment history reaches back years. Activity follows a weekly
rhythm (weekend days ~25-30 % of a weekday) and US federal public holidays (~30 % of a weekday:
quiet, *not* gaps; in the default window 2026-09-07, 2026-10-12, 2026-11-11 and 2026-11-26, see
:func:`public_holidays`). Every active course and the site-level stream (events without a course:
``login``/``login_failed``) report on every day of the window; a background day never falls below
~15 % of its weekday's median, so a day with zero events is unmistakable.

The clean background triggers no reference rule of the taxonomy, by construction:
everyone an active rule selects is enrolled (except people hired in the last two days, inside every
rule's grace period); compliance enrolments finish before their due date or are not due yet, and
those of leavers are withdrawn; ``enrolled`` rule/hr_sync enrolments are under a week old;
completions in the window always have activity; progress values only rise; every active user is
linked to a non-terminated person with the same e-mail (sometimes in another letter case);
grading takes at most SLA-1.5 days; sync runs succeed and write what they read, on a fixed
schedule; channels fail for ~0-3 % of messages and no user's notifications fail repeatedly.

Injected gaps (counts at the default 2,000 people; smaller orgs get proportionally fewer, at least
2), and exactly what ``ground_truth.csv`` holds for them:

- ``enrollment_missing`` (20) ``person;course``: a rule enrolment of an active person hired more
  than 30 days ago is removed (with all its activity and notifications).
- ``enrollment_failed`` (16) ``enrollment``: half get status ``failed`` (no due date, no
  activity, no notification); half are ``rule``/``hr_sync`` enrolments of non-overdue courses
  re-dated 16-60 days back, status ``enrolled``, progress 0 or empty, no activity, no
  notification (matched by user and course).
- ``notification_undelivered`` (18) ``user``: half have >= 4 bounced e-mails in the last 28 days;
  half have >= 4 notifications in the last 28 days and none delivered in the last 31.
- ``notification_outage`` (12) ``channel;date``: ~95 % of that channel's messages on that day
  (at least two days before ``as_of``) are never delivered; the usual share is 0-3 %.
- ``orphan_account`` (22) ``user``: active users with no person link (6), with a link to a person
  id that is not in ``people`` (5), or linked to a terminated person (8); plus the 3 owners of the
  ``unowned_course`` variant "owner's person terminated" (their active user is an orphan too).
- ``record_mismatch`` (15) ``user``: the person's e-mail changed in HR (new surname) but not in
  the LMS.
- ``duplicate_account`` (15) ``person``: a second (sometimes third) active user linked to an
  active person, same e-mail in upper case (so no record mismatch).
- ``sync_failure`` (14-15; two injected runs may share a key) ``integration;date``: runs that
  failed, were partial, never finished (started more than two days before ``as_of``) or silently
  wrote fewer records than they read (date = start date); a three-day hole in the nightly
  ``hr_to_lms`` sync and ``sso_directory`` stopping five days before ``as_of`` (date = last start +
  2 x the median interval between runs).
- ``progress_inconsistent`` (21) ``enrollment``: three each of completed with progress < 100;
  completed without ``completed_at``; ``completed_at`` before ``enrolled_at``; completed inside the
  activity span with no activity for that user and course; withdrawn without ``withdrawn_at``;
  ``withdrawn_at`` on an in-progress enrolment; a ``progressed`` value 20-40 points below the
  previous one.
- ``feedback_delayed`` (12) ``course``: half have three submissions ungraded for more than SLA+5
  days; half grade everything submitted in the last 45 days 2-8 days beyond the SLA.
- ``access_failure`` (13) ``course;date`` and ``date``: a course's weekday with >= 20
  ``launch_failed`` events (>= 3x its median daily launches), or a site-wide weekday where
  ``login_failed`` events outnumber logins 1.5:1. Background failure shares are ~1-2 %.
- ``compliance_overdue`` (20) ``enrollment``: compliance enrolments re-dated so that ``due_at``
  lies 3-40 days in the past, left in progress (10-70 %, with activity and ``overdue``
  notifications).
- ``unowned_course`` (14) ``course``: active courses with no owner, an owner id that is no LMS
  user, an owner whose user is suspended/deleted, or an owner whose person is terminated.
- ``reporting_gap`` (14) ``course;date`` and ``date``: all events of one course (or all site-level
  events) on one day inside the window are missing (moved to the next day, as a late re-delivery
  would); ``date`` alone means the site-level stream.
- ``engagement_anomaly`` (20) ``course;week`` and ``user;course``: ten ISO weeks (of ten courses)
  in which each active learner adds 12 ``launched`` and 8 ``failed`` (score 0-15) events on
  weekdays (a broken quiz: ~3x the usual events per learner, failures where there were none);
  ten learners (in ten other courses) with 150 ``viewed`` and 50 ``failed`` events spread over the
  window (over twice the busiest peer). These courses are kept apart from the access/reporting ones.

Near misses (``near_misses=True``, ``gapdesk demo-data --near-misses``; ``gapdesk demo`` uses
them): look-alikes that the rules flag and the organisation knows to be fine, written to
``near_misses.csv`` (``category,entity_key,reason,explanation``), never to the ground truth. A
real organisation has them; they are what a reviewer dismisses and the priority model learns from.
Each kind sits in one place, as such context does: 30 ``enrollment_missing`` of long-serving staff
in one course whose rule was meant for new hires, 30 ``compliance_overdue`` in one mandatory
course whose deadline HR extended by e-mail, 25 ``notification_undelivered`` of one department's
staff who have no company mailbox. They draw from their own random stream: without them the files
are byte-identical to an organisation generated before they existed.

Same seed, same parameters: byte-identical files. Large tables are generated as numpy arrays of
integer codes and written in chunks, so 100,000 people fit well within 4 GiB (about 1.5 GiB peak).
Above 200,000 people the organisation is generated in shards of 100,000 (``shards``), each a whole
organisation appended to the files, so memory is one shard's at any size (up to 2,000,000
people); up to 200,000 people it is one shard and the files are those of earlier versions.

Layout: one module per table builds it, injects the gaps that live in it and writes it
(``people``, ``courses`` with the rules, ``enrollments``, ``activity``, ``submissions``,
``notifications``, ``lms_users``, ``sync_runs``); the two biggest keep their gaps apart
(``enrollment_gaps``, ``activity_gaps``) and the activity's rows and what they share are in
``events``. ``near_misses`` holds the look-alikes; ``generator`` calls everything in order (the
order is the random stream: moving a call changes every byte after it) and writes the files.
Beside them: ``context`` (the run's state and ground truth), ``timeline`` (time units, holidays),
``identifiers`` (ids, entity keys), ``csv_bytes`` (the cell encoders and the fast writer),
``vocabulary`` (departments, titles, courses, integrations) and ``person_names``; ``shards``
merges shards into one organisation.
CLI: ``gapdesk demo-data OUT --seed N --people N --days N [--as-of DATE]``;
benchmark: ``python -m tests.bench.bench_demo_org --people 2000 --people 100000``.
"""

from app.demo.organisation.generator import (
    DEFAULT_AS_OF,
    MAX_DAYS,
    MAX_PEOPLE,
    MIN_DAYS,
    MIN_PEOPLE,
    OUTPUT_FILES,
    DemoOrgSummary,
    generate_demo_org,
)
from app.demo.organisation.near_misses import NEAR_MISS_FILE
from app.demo.organisation.timeline import public_holidays

__all__ = [
    "DEFAULT_AS_OF",
    "MAX_DAYS",
    "MAX_PEOPLE",
    "MIN_DAYS",
    "MIN_PEOPLE",
    "NEAR_MISS_FILE",
    "OUTPUT_FILES",
    "DemoOrgSummary",
    "generate_demo_org",
    "public_holidays",
]
