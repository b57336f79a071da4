"""The one problem a snapshot folder was refused for, as a Problem the test can compare."""

from __future__ import annotations

from pathlib import Path

from app.sources.load import load_snapshot
from app.sources.validation_report import Problem


def rejected_with_one(folder: Path, **kwargs: object) -> Problem:
    """Load ``folder``; it must be rejected, with nothing kept, for exactly one problem."""
    result = load_snapshot(folder, **kwargs)  # type: ignore[arg-type]
    assert not result.accepted
    assert result.snapshot is None and result.content_hash is None
    problems = result.report.iter_problems()
    assert len(problems) == 1, result.report.problems.to_string()
    return problems[0]
