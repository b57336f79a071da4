"""The validation report: the rules a table or a row can break, one Problem per broken rule,
and ValidationReport, which collects them and renders them for a person."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

# Rules a problem can break. Table-level rules fail the whole import even in quarantine mode.
TABLE_RULES: dict[str, str] = {
    "missing_table": "a required table is absent",
    "missing_column": "a required column is absent",
    "duplicate_table": "a table is given by more than one file",
    "empty_file": "the file is empty (not even a header row)",
    "not_utf8": "a CSV file must be UTF-8",
    "not_gzip": "a .gz file must be gzip-compressed",
    "bad_csv": "the file is not well-formed CSV",
    "bad_parquet": "the file is not a readable Parquet file",
    "bad_snapshot_toml": "snapshot.toml is not valid",
    "join_not_unique": "a file a mapping joins in holds a key more than once",
    "no_as_of": "without as_of in snapshot.toml the snapshot needs at least one timestamp",
}

ROW_RULES: dict[str, str] = {
    "wrong_type": "the value is not of the column's type",
    "missing_value": "the column may not be empty",
    "unknown_enum": "the value is not one the column allows",
    "out_of_range": "the number is outside the allowed range",
    "duplicate_id": "the identifier appears more than once",
    "dangling_reference": "the value names a row that does not exist",
    "reference_set_aside": "the row the value names was set aside, so this one went with it",
    "nul_character": "the text holds a NUL character, which the database cannot store",
}

RULES = {**TABLE_RULES, **ROW_RULES}

PROBLEM_COLUMNS = ["file", "table", "row", "column", "value", "rule", "message"]


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (file, row, column), what (value) and which rule."""

    file: str
    rule: str
    message: str
    table: str = ""
    row: int | None = None
    column: str | None = None
    value: str | None = None

    @property
    def table_level(self) -> bool:
        """Whether this problem fails the whole import even in quarantine mode."""
        return self.rule in TABLE_RULES

    def __str__(self) -> str:
        where = [self.file or self.table or "snapshot"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        value = f" value {self.value!r}:" if self.value is not None else ""
        return f"{', '.join(where)}:{value} {self.message} [{self.rule}]"


def problem_frame(rows: Iterable[Problem]) -> pd.DataFrame:
    """``rows`` as a frame with the report's columns (:data:`PROBLEM_COLUMNS`)."""
    records = [
        {
            "file": p.file,
            "table": p.table,
            "row": p.row,
            "column": p.column,
            "value": p.value,
            "rule": p.rule,
            "message": p.message,
        }
        for p in rows
    ]
    return pd.DataFrame(records, columns=PROBLEM_COLUMNS)


@dataclass
class ValidationReport:
    """All problems found, row counts and warnings; renders the first 50 in full, then counts."""

    problems: pd.DataFrame = field(default_factory=lambda: problem_frame([]))
    row_counts: dict[str, int] = field(default_factory=dict)
    quarantined_counts: dict[str, int] = field(default_factory=dict)
    # Of the quarantined rows, those set aside only because a row they name was set aside.
    followed_counts: dict[str, int] = field(default_factory=dict)
    skipped_tables: dict[str, str] = field(default_factory=dict)
    # Contract columns a table's source left out (absent, not empty), in contract order.
    absent_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    accepted: bool = False

    @property
    def table_problems(self) -> pd.DataFrame:
        """The problems that fail the whole import whatever the mode."""
        return self.problems[self.problems["rule"].isin(list(TABLE_RULES))]

    def counts_by_rule(self) -> dict[str, int]:
        """How many problems broke each rule, most frequent first."""
        counts = self.problems["rule"].value_counts()
        return {str(k): int(v) for k, v in counts.items()}

    def iter_problems(self, limit: int | None = None) -> list[Problem]:
        """The problems as :class:`Problem` records, in the order found (first ``limit``)."""
        frame = self.problems if limit is None else self.problems.head(limit)
        out = []
        for rec in frame.to_dict("records"):
            row = rec["row"]
            out.append(
                Problem(
                    file=str(rec["file"]),
                    rule=str(rec["rule"]),
                    message=str(rec["message"]),
                    table=str(rec["table"]),
                    row=None if pd.isna(row) else int(row),
                    column=None if pd.isna(rec["column"]) else str(rec["column"]),
                    value=None if pd.isna(rec["value"]) else str(rec["value"]),
                )
            )
        return out

    def render(self, limit: int = 50) -> str:
        """A person-readable report: verdict, the first ``limit`` problems, counts per rule."""
        total = len(self.problems)
        lines = []
        if self.accepted:
            held = sum(self.quarantined_counts.values())
            verdict = "accepted" + (f" with {held} row(s) in quarantine" if held else "")
        else:
            verdict = f"rejected: {total} problem(s); nothing was imported"
        lines.append(f"Snapshot {verdict}.")
        for name, count in self.row_counts.items():
            held = self.quarantined_counts.get(name, 0)
            followed = self.followed_counts.get(name, 0)
            lines.append(
                f"  {name}: {count} row(s)"
                + (f", {held} quarantined" if held else "")
                + (f" ({followed} only with the row they name)" if followed else "")
            )
        for name, why in self.skipped_tables.items():
            lines.append(f"  {name}: absent ({why})")
        for name, columns in self.absent_columns.items():
            lines.append(f"  {name}: not in the source (unknown, not empty): {', '.join(columns)}")
        lines.extend(f"Warning: {w}" for w in self.warnings)
        if total:
            lines.append(f"Problems (first {min(limit, total)} of {total}):")
            lines.extend(f"  {p}" for p in self.iter_problems(limit))
            lines.append("Problems per rule:")
            lines.extend(
                f"  {rule}: {count} ({RULES.get(rule, '')})"
                for rule, count in self.counts_by_rule().items()
            )
        return "\n".join(lines)
