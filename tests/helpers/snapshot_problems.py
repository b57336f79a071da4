"""The one problem a snapshot folder was refused for, as a Problem the test can compare."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from app.sources.load import load_snapshot
from app.sources.validation_report import Problem


def only_problem(result_report_problems: pd.DataFrame) -> Problem:
    """The single row of a problems frame as a :class:`Problem` (fails unless there is one)."""
    assert len(result_report_problems) == 1, result_report_problems.to_string()
    rec = result_report_problems.iloc[0]
    return Problem(
        file=rec["file"],
        rule=rec["rule"],
        message=rec["message"],
        table=rec["table"],
        row=None if pd.isna(rec["row"]) else int(rec["row"]),
        column=None if pd.isna(rec["column"]) else rec["column"],
        value=None if pd.isna(rec["value"]) else rec["value"],
    )


def rejected_with_one(folder: Path, **kwargs: object) -> Problem:
    """Load ``folder``; it must be rejected, with nothing kept, for exactly one problem."""
    result = load_snapshot(folder, **kwargs)  # type: ignore[arg-type]
    assert not result.accepted
    assert result.snapshot is None and result.content_hash is None
    return only_problem(result.report.problems)
