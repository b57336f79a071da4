"""``gapdesk report``: the Trends page as a PDF or PNG file, for a meeting or an email."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from app.core.db import get_engine, session_scope
from app.core.errors import UserError
from review_queue.permissions import SYSTEM
from review_queue.trends.backlog import DEFAULT_SLA_DAYS
from review_queue.trends.filters import TrendFilters
from review_queue.trends.report import trend_report


def _format_of(out: Path) -> str:
    suffix = out.suffix.lower().lstrip(".")
    if suffix in ("pdf", "png"):
        return suffix
    raise UserError(f"--out must end in .pdf or .png (the report's format), not {out.name!r}")


@click.command("report")
@click.option(
    "--weeks",
    default=12,
    show_default=True,
    type=click.IntRange(1, 104),
    help="How many ISO weeks, up to and including the current one.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write: .pdf or .png.",
)
@click.option(
    "--tz",
    default=None,
    help="Reporting time zone, e.g. Europe/Berlin (default: $GAPDESK_REPORTING_TZ or UTC).",
)
@click.option(
    "--department", "departments", multiple=True, help="Only this department (repeatable)."
)
@click.option(
    "--category", "categories", multiple=True, help="Only this gap category (repeatable)."
)
@click.option(
    "--sla-days",
    default=DEFAULT_SLA_DAYS,
    show_default=True,
    type=click.IntRange(1, 365),
    help="Open gaps older than this many days count as past the SLA.",
)
@click.option(
    "--learners",
    default=None,
    type=click.IntRange(min=1),
    help="Learners in the programme, for confirmed gaps per 1,000 learners.",
)
@click.option(
    "--paper",
    default=None,
    type=click.Choice(["a4", "letter"]),
    help="The PDF's paper (default: $GAPDESK_REPORT_PAPER or a4).",
)
def report(
    weeks: int,
    out: Path,
    tz: str | None,
    departments: tuple[str, ...],
    categories: tuple[str, ...],
    sla_days: int,
    learners: int | None,
    paper: Literal["a4", "letter"] | None,
) -> None:
    """Write the Trends report (every chart with its takeaway) of the last WEEKS weeks."""
    fmt = _format_of(out)
    if not out.parent.is_dir():
        raise UserError(f"cannot write {out}: folder {out.parent} does not exist")
    # Imported here: altair and the renderer are heavy, and only this command needs them.
    from app.sources.roster import course_titles
    from app.web.trend_charts import default_reporting_tz, render_report

    try:
        filters = TrendFilters.last_weeks(
            weeks, tz=tz or default_reporting_tz(), departments=departments, categories=categories
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    with session_scope(get_engine()) as session:
        trends = trend_report(
            session=session, actor=SYSTEM, filters=filters, sla_days=sla_days, learners=learners,
            course_titles=course_titles(session=session),
        )  # fmt: skip
    data = render_report(trends, "pdf" if fmt == "pdf" else "png", paper=paper)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}") from None
    click.echo(
        f"wrote the {weeks}-week trends report ({fmt.upper()}, {len(data):,} bytes) to {out}"
    )
