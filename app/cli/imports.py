"""``gapdesk import``: turn real exports (Moodle, xAPI, Canvas, mapped CSV) into snapshot tables.

The tables land in a snapshot folder, merged with what the folder already holds (rows already
there win on equal ids), ready for ``gapdesk ingest FOLDER``: ``lms_users`` and ``courses`` are
all a snapshot needs (contract version 2), so an LMS log alone will do.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime
from pathlib import Path

import click
import pandas as pd

from app.cli.moodle_db import moodle_db_command
from app.core.errors import UserError
from app.sources.load import write_snapshot
from app.sources.recognise import Recognition, mismatch, recognise
from app.sources.result import ImportResult, merge_tables

_out = click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="The snapshot folder to write the tables into (created if needed).",
)  # fmt: skip


def _as_text(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    with tempfile.TemporaryDirectory() as tmp:
        write_snapshot(tables, tmp)
        return {
            name: pd.read_csv(Path(tmp) / f"{name}.csv", dtype=str, keep_default_na=False)
            for name in tables
        }


def _expect(file: Path, fmt: str) -> Recognition:
    """The file's recognition; a UserError when its content is plainly another format."""
    found = recognise(file)
    message = mismatch(fmt, found)
    if message:
        raise UserError(f"{file.name}: {message}; `gapdesk ingest {file}` reads it as it is")
    if found.format == fmt and found.problem:
        raise UserError(f"{file.name}: {found.problem}")
    return found


def _write(result: ImportResult, out: Path) -> None:
    """Merge the import into ``out`` (existing rows first) and print the import's report."""
    if all(len(f) == 0 for f in result.tables.values()):
        raise UserError(f"{result.report.source} yields no rows:\n{result.report.render()}")
    new = _as_text({n: f for n, f in result.tables.items() if len(f.columns)})
    existing: dict[str, pd.DataFrame] = {}
    for name in new:
        path = out / f"{name}.csv"
        if path.is_file():
            try:
                existing[name] = pd.read_csv(path, dtype=str, keep_default_na=False)
            except (ValueError, UnicodeDecodeError) as exc:
                raise UserError(f"{path} cannot be read to merge into: {exc}") from None
    merged = merge_tables(existing, new) if existing else new
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in merged.items():
        tmp = out / f".{name}.csv.partial"
        frame.to_csv(tmp, index=False)
        tmp.replace(out / f"{name}.csv")  # never a half-written table under its real name
        click.echo(
            f"{name}.csv: {len(frame):,} rows ({len(frame) - len(existing.get(name, [])):+,})"
        )
    click.echo(result.report.render())


@click.group("import")
def import_group() -> None:
    """Turn an export of another system into snapshot tables."""


@import_group.command("moodle")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_out
@click.option(
    "--year", type=int, default=None, help="Year of the log's times (default: this year)."
)
@click.option("--tz", default="UTC", show_default=True, help="Time zone of the log's times.")
@click.option("--course-id", default=None, help="Course id to give the log's course.")
def import_moodle(file: Path, out: Path, year: int | None, tz: str, course_id: str | None) -> None:
    """Moodle's Logs report download → activity (+ users and courses it reveals)."""
    from app.sources.moodle import import_moodle_log

    _expect(file, "moodle-log")
    _write(import_moodle_log(file, year=year, tz=tz, course_id=course_id), out)


@import_group.command("xapi")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_out
def import_xapi(file: Path, out: Path) -> None:
    """xAPI statements (JSON lines, a JSON array, saved LRS pages; gzipped or not) → activity."""
    from app.sources.convert import read_lrs_pages
    from app.sources.xapi import import_xapi_file, statements_to_activity

    if _expect(file, "xapi").kind == "lrs-page":
        statements = read_lrs_pages(file)
        _write(statements_to_activity(statements, source=file.name), out)  # type: ignore[arg-type]
        return
    _write(import_xapi_file(file), out)


@import_group.command("lrs")
@click.argument("base_url")
@_out
@click.option("--user", "username", required=True, help="The LRS's Basic-auth user.")
@click.option("--since", default=None, help="Only statements stored after this ISO time.")
@click.option("--timeout", default=30.0, show_default=True, type=float)
def import_lrs(base_url: str, out: Path, username: str, since: str | None, timeout: float) -> None:
    """A live xAPI LRS (GET /xAPI/statements, following 'more') → activity.

    The password is read from standard input, or prompted.
    """
    from app.sources.xapi_lrs import import_xapi_lrs

    if sys.stdin.isatty():
        password = click.prompt("LRS password", hide_input=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    _write(
        import_xapi_lrs(base_url, username=username, password=password, since=since,
                        timeout=timeout),
        out,
    )  # fmt: skip


@import_group.command("canvas")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_out
@click.option("--enrolled-at", type=click.DateTime(), default=None,
              help="When the enrolments were made (SIS files do not say).")  # fmt: skip
def import_canvas(file: Path, out: Path, enrolled_at: datetime | None) -> None:
    """Canvas SIS enrollments.csv → enrollments."""
    from app.sources.canvas import import_canvas_enrollments

    _expect(file, "canvas-sis")
    _write(import_canvas_enrollments(file, enrolled_at=enrolled_at), out)


@import_group.command("csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_out
@click.option("--mapping", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))  # fmt: skip
@click.option("--table", default=None, help="Which table of the mapping file applies.")
def import_csv(file: Path, out: Path, mapping: Path, table: str | None) -> None:
    """Any CSV with a column mapping (TOML) → one contract table."""
    from app.sources.mapping import import_mapped_csv

    _write(import_mapped_csv(file, mapping, table=table), out)


# The Moodle database import lives in its own module (its options are many); it is a kind of
# import like the others.
import_group.add_command(moodle_db_command, "moodle-db")
