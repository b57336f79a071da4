"""Commands that work the queue: detection, evaluation, the feedback log and exports."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli.progress import progress_printer
from app.core.db import get_engine, session_scope
from app.core.safe_csv import write_rows
from app.detection.coverage import run_coverage
from app.detection.run import run_detection
from models.detectors.coverage import coverage_lines as sentences
from review_queue.exports import (
    DECISION_COLUMNS,
    FINDING_COLUMNS,
    FINDING_DETAIL_COLUMNS,
    decision_rows,
    finding_rows,
)
from review_queue.feedback_log import verify_chain
from review_queue.log_anchor import (
    AnchorError,
    append_anchor,
    check_anchors,
    read_anchors,
    take_anchor,
)
from review_queue.permissions import SYSTEM


@click.command("detect")
@click.argument("snapshot", required=False)
def detect(snapshot: str | None) -> None:
    """Run every enabled detector on SNAPSHOT (default: the latest ingested) into the queue."""
    with progress_printer("detecting") as progress:
        run = run_detection(
            engine=get_engine(),
            actor=SYSTEM,
            snapshot_id=snapshot,
            progress=lambda name, done, total: progress(done, total, name),
        )
    s = run.stats
    click.echo(
        f"run #{run.id} on snapshot {run.snapshot_id}: {s['proposals']} proposals, "
        f"{s['new']} new, {s['updated']} updated, {s['reopened']} reopened "
        f"({s['regressions']} regressions), {s['suppressed']} suppressed, "
        f"{s['duration_s']:.1f} s"
    )
    for name, why in sorted(s.get("skipped", {}).items()):
        click.echo(f"  skipped {name}: {why}")
    for line in sentences(run_coverage(run)):
        click.echo(f"  coverage: {line}")


@click.command("evaluate")
@click.argument("snapshot", type=click.Path(path_type=Path, file_okay=False))
def evaluate(snapshot: Path) -> None:
    """Detect on a labelled snapshot folder (with ground_truth.csv) and print precision/recall."""
    from app.detection.labelled import evaluate_folder, render_scores

    click.echo(render_scores(evaluate_folder(snapshot)))


@click.group("log")
def log() -> None:
    """The append-only feedback log."""


_anchor_file = click.Path(dir_okay=False, path_type=Path)


@log.command("verify")
@click.option("--anchor", "anchor_file", type=_anchor_file, default=None,
              help="A file from `gapdesk log anchor`: the log must agree with it.")  # fmt: skip
def log_verify(anchor_file: Path | None) -> None:
    """Check the log's hash chain (and its anchors); name the first broken row."""
    try:
        anchors = read_anchors(anchor_file) if anchor_file is not None else []
    except AnchorError as exc:
        raise click.ClickException(str(exc)) from None
    with session_scope(get_engine()) as session:
        check = verify_chain(session=session)
        problem = check_anchors(session=session, anchors=anchors) if check.ok else None
    if not check.ok:
        raise click.ClickException(
            f"feedback log broken at row #{check.first_broken_id}: {check.problem} "
            f"({check.rows} rows read)"
        )
    if problem is not None:
        raise click.ClickException(f"feedback log does not match {anchor_file}: {problem}")
    against = f", and agrees with {len(anchors)} anchors in {anchor_file}" if anchors else ""
    click.echo(f"feedback log intact: {check.rows} rows, chain verified{against}")


@log.command("anchor")
@click.argument("anchor_file", type=_anchor_file)
def log_anchor(anchor_file: Path) -> None:
    """Append the log's signed head to ANCHOR_FILE (keep it where the app cannot write)."""
    try:
        with session_scope(get_engine()) as session:
            anchor = take_anchor(session=session)
        append_anchor(anchor_file, anchor)
    except AnchorError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot append to {anchor_file}: {exc.strerror}") from None
    click.echo(
        f"anchored {anchor.rows} rows (last #{anchor.last_id}, {anchor.last_hash[:12]}…) "
        f"in {anchor_file}"
    )


@click.group("export")
def export() -> None:
    """Export findings or decisions (contracts/gap-taxonomy.md)."""


_out = click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                    help="File to write (default: standard output).")  # fmt: skip
_fmt = click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
                    show_default=True)  # fmt: skip


def _export(kind: str, out: Path | None, fmt: str) -> None:
    with session_scope(get_engine()) as session:
        if kind == "findings":
            columns = FINDING_COLUMNS + (FINDING_DETAIL_COLUMNS if fmt == "jsonl" else ())
            rows = finding_rows(session=session, actor=SYSTEM, detail=fmt == "jsonl")
        else:
            columns, rows = DECISION_COLUMNS, decision_rows(session=session, actor=SYSTEM)
        if out is None:
            write_rows(rows, columns, sys.stdout, fmt)
            return
        tmp = out.with_name(out.name + ".partial")
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            n = write_rows(rows, columns, fh, fmt)
        tmp.replace(out)  # a failed export never leaves a half-written file under the real name
    click.echo(f"wrote {n} {kind} to {out}", err=True)


@export.command("findings")
@_out
@_fmt
def export_findings(out: Path | None, fmt: str) -> None:
    """One row per finding."""
    _export("findings", out, fmt)


@export.command("decisions")
@_out
@_fmt
def export_decisions(out: Path | None, fmt: str) -> None:
    """One row per decision or status change, in the order they happened."""
    _export("decisions", out, fmt)
