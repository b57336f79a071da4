"""Hostile input for property tests: strategies, a count of the cases each property tried, and
the writing of hostile values into CSV and TOML files.

The properties are ``tests/app/sources/test_hostile_{importers,mappings,ingest}.py``,
``tests/app/sources/test_fuzz.py`` and ``tests/review_queue/test_hostile_exports.py``.
``conftest.pytest_terminal_summary`` prints the count (``hypothesis: N hostile inputs tried
across M properties``); ``GAPDESK_FUZZ_EXAMPLES`` raises every property's example budget for a
long run (e.g. ``GAPDESK_FUZZ_EXAMPLES=2000 pytest tests/app/sources/test_hostile_ingest.py``).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from app.core.errors import UserError
from app.sources.result import ImportResult

# Property name -> examples run in this process (hypothesis' replays and shrinks included).
CASES: Counter[str] = Counter()
F = TypeVar("F", bound=Callable[..., Any])


def counted(test: F) -> F:
    """Count each example ``test`` runs (put it between ``@given`` and the function)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        CASES[test.__qualname__] += 1
        return test(*args, **kwargs)

    return run  # type: ignore[return-value]


def fuzz(examples: int) -> Any:
    """Hypothesis settings: ``examples`` per property (or $GAPDESK_FUZZ_EXAMPLES), no deadline."""
    wanted = int(os.environ.get("GAPDESK_FUZZ_EXAMPLES", "0") or 0)
    return settings(
        max_examples=max(examples, wanted),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# The awkward characters: NUL and other controls, a lone surrogate (only representable in a
# Python str; in a file it becomes invalid UTF-8), right-to-left marks and override, combining
# characters, a byte-order mark, zero-width characters, quotes and separators of CSV.
EDGE_CHARS = [
    "\x00", "\x07", "\x1b", "\x7f", "\ud800", "\udfff", "\u200f", "\u202e", "\u2066",
    "e\u0301", "\u0301", "\ufeff", "\u200b", "\u2028", "\ufffd", '"', "'", ",", ";", "\n",
    "\r\n", "\r", "\t", "\\", "😀", "\U0010ffff", "ﷺ", "ǅ", "İ",
]  # fmt: skip
# Cells a spreadsheet would run as a formula (CSV injection).
INJECTIONS = [
    "=1+1", "+1", "-1", "@SUM(A1:A2)", "=HYPERLINK(\"http://evil.example\",\"click\")",
    "=cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "-2+3+cmd|' /C calc'!A0", "@x",
    "ok;=1+1", "ok\t=1+1", "ok, @SUM(A1)", "ok\n+1",  # past the first character (15.12)
]  # fmt: skip
MARKUP = [
    "<script>window.__xss=1</script>", '<img src=x onerror="window.__xss=1">',
    "[x](javascript:window.__xss=1)", "</div><b>bold</b>",
]  # fmt: skip


def _huge(n: int) -> str:
    return "A" * n


edge_text = st.sampled_from(EDGE_CHARS + INJECTIONS + MARKUP)
# Longer than the csv module's field limit (131,072), which a reader may trip on.
huge_text = st.sampled_from([1_000, 140_000]).map(_huge)
# Any text at all: random, one of the edge cases, edge cases glued into random text, or huge.
hostile_text = st.one_of(
    st.text(max_size=16),
    edge_text,
    st.lists(st.one_of(edge_text, st.text(max_size=4)), min_size=1, max_size=5).map("".join),
    edge_text,
    huge_text,
)
# Text that can be written to a UTF-8 file (no lone surrogates).
file_text = hostile_text.map(lambda s: s.encode("utf-8", "replace").decode("utf-8"))
# Values of the wrong type for a text field.
wrong_type = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip


def to_bytes(text: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate becomes the invalid bytes it would be written as."""
    return text.encode("utf-8", "surrogatepass")


def csv_cell(text: str) -> str:
    """``text`` quoted for CSV the way a careful writer would."""
    return '"' + text.replace('"', '""') + '"'


def formula_starts(cell: str) -> list[int]:
    """Where a spreadsheet splitting on any separator would see a formula begin in ``cell``."""
    found = []
    at_start = True  # no character but spaces since the start or the last separator
    for i, char in enumerate(cell):
        if char in ",;|\t\r\n":
            if i == 0 and char in "\t\r":
                found.append(0)
            at_start = True
        elif char != " ":
            if at_start and char in "=+-@":
                found.append(i)
            at_start = False
    return found


def assert_defused(cell: str, original: str) -> None:
    """An exported CSV cell shows no formula start at any position a spreadsheet may split at
    (issue 15.12), and is the original with only ``'`` added."""
    assert not formula_starts(cell), f"formula-like cell exported: {cell[:40]!r}"
    assert cell.replace("'", "") == original.replace("'", ""), (cell[:40], original[:40])
    if not formula_starts(original):
        assert cell == original, (cell[:40], original[:40])


# --------------------------------------------------------------------------- writing it to files


def csv_bytes(header: list[str], rows: list[list[str]], *, bom: bool = False) -> bytes:
    """A well-quoted CSV of ``rows`` as bytes (lone surrogates become invalid UTF-8)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + to_bytes(out.getvalue())


def expect_clear(call: Any, file_name: str) -> ImportResult | None:
    """Run an importer: its result, or None after a UserError that names ``file_name``."""
    try:
        return call()
    except UserError as exc:
        message = str(exc)
        assert message.strip() and "Traceback" not in message
        assert file_name in message, f"the message does not name {file_name}: {message[:200]}"
        return None


def toml_key(key: str) -> str:
    """``key`` quoted as a TOML key (any text at all)."""
    return json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str | None:
    """``value`` as a TOML inline value, or None when TOML cannot say it (None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(str(value), repr(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        parts = [toml_value(v) for v in value]
        return "[" + ", ".join(p for p in parts if p is not None) + "]"
    parts = [f"{toml_key(k)} = {t}" for k, v in value.items() if (t := toml_value(v))]
    return "{" + ", ".join(parts) + "}"


def store_files(folder: Path) -> list[str]:
    """Every path below ``folder`` (none when it is absent), to see that nothing was left behind."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
