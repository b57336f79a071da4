"""Hostile input for property tests: strategies, and a count of the cases each property tried.

``conftest.pytest_terminal_summary`` prints the count (``hypothesis: N hostile inputs tried
across M properties``); ``GAPDESK_FUZZ_EXAMPLES`` raises every property's example budget for a
long run (e.g. ``GAPDESK_FUZZ_EXAMPLES=2000 pytest tests/app/sources/test_hostile_input.py``).
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from app.core.safe_csv import FORMULA_PREFIXES

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


def assert_defused(cell: str, original: str) -> None:
    """An exported CSV cell is the original, or the original behind ``'`` if formula-like."""
    assert not cell.startswith(FORMULA_PREFIXES), f"formula-like cell exported: {cell[:40]!r}"
    if original.startswith(FORMULA_PREFIXES):
        assert cell == "'" + original, (cell[:40], original[:40])
    else:
        assert cell == original, (cell[:40], original[:40])
