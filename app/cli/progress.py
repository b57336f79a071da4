"""A progress line on standard error for long commands (silent when not a terminal)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

ProgressFn = Callable[[int, int, str], None]


@contextmanager
def progress_printer(label: str) -> Iterator[ProgressFn]:
    """Yields ``progress(done, total, message)`` drawing a bar on stderr while the block runs."""
    interactive = sys.stderr.isatty()
    started = time.monotonic()

    def progress(done: int, total: int, message: str) -> None:
        if not interactive:
            return
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30)
        elapsed = time.monotonic() - started
        click.echo(
            f"\r{label} [{bar:<30}] {frac:4.0%} {elapsed:5.1f}s {message[:40]:<40}",
            err=True,
            nl=False,
        )

    try:
        yield progress
    finally:
        if interactive:
            click.echo("", err=True)
