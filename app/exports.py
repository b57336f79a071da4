"""Writing exports as CSV (spreadsheet-safe) or JSON lines, to a file or a stream."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import IO, Any

from app.sources.export import neutralise_csv_cell


def write_rows(
    rows: Iterable[dict[str, Any]], columns: Sequence[str], out: IO[str], fmt: str
) -> int:
    """Write ``rows`` in ``fmt`` ('csv' or 'jsonl'); returns how many were written."""
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        # Cells stay as they are in Gapdesk; only the CSV copy is defused for spreadsheets.
        writer.writerow([neutralise_csv_cell("" if row[c] is None else row[c]) for c in columns])
        count += 1
    return count
