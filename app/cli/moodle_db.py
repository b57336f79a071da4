"""``gapdesk import moodle-db URL --out FOLDER``: a Moodle site's database → a snapshot folder.

Meant for a nightly cron (see the README's "Moodle database" section): exit 0 when the folder
holds a complete new snapshot, 1 with one line (the password masked) when it does not, in which
case the folder is as it was.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from app.cli.progress import progress_printer
from app.core.errors import UserError

_WHEN = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])


def _enrol_sources(pairs: tuple[str, ...]) -> dict[str, str]:
    sources: dict[str, str] = {}
    for pair in pairs:
        plugin, sep, source = pair.partition("=")
        if not sep or not plugin.strip():
            raise UserError(f"--enrol-source takes PLUGIN=SOURCE (e.g. lti=self), not {pair!r}")
        sources[plugin.strip()] = source.strip()
    return sources


@click.command("moodle-db")
@click.argument("url")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The snapshot folder (created if needed; Moodle's tables in it are replaced, "
                   "other files are kept).")  # fmt: skip
@click.option("--prefix", default="mdl_", show_default=True, help="Moodle's table prefix.")
@click.option("--since", type=_WHEN, default=None,
              help="Read only log events from this date (UTC) on.")  # fmt: skip
@click.option("--as-of", "as_of", type=_WHEN, default=None,
              help="The moment the snapshot describes (UTC; default: now).")  # fmt: skip
@click.option("--password-stdin", is_flag=True,
              help="Read the database password from standard input, not from the URL.")  # fmt: skip
@click.option("--enrol-source", "enrol_sources", multiple=True, metavar="PLUGIN=SOURCE",
              help="How enrolments of a Moodle enrolment plugin were made (rule, manual, "
                   "hr_sync or self); repeat for several.")  # fmt: skip
@click.option("--gzip", "compress", is_flag=True, help="Write the tables as .csv.gz.")
def moodle_db_command(
    url: str,
    out: Path,
    prefix: str,
    since: datetime | None,
    as_of: datetime | None,
    password_stdin: bool,
    enrol_sources: tuple[str, ...],
    compress: bool,
) -> None:
    """A Moodle database (read-only URL, PostgreSQL or MySQL) → users, courses, enrolments,
    submissions and the log as a snapshot folder."""
    from app.sources.moodle_db import import_moodle_db

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    with progress_printer("reading Moodle") as progress:
        report = import_moodle_db(
            url, out, prefix=prefix, since=since, password=password, progress=progress,
            as_of=as_of.replace(tzinfo=UTC) if as_of else None,
            enrol_sources=_enrol_sources(enrol_sources), compress=compress,
        )  # fmt: skip
    for key, value in report.counts.items():
        if key.endswith(" rows"):
            click.echo(f"{key.removesuffix(' rows')}: {value:,} rows")
    click.echo(report.render())
    click.echo(f"next: gapdesk ingest {out}")
