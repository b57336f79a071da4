"""What a text value looks like, checked in time linear in its length, on capped lengths.

A pattern such as ``^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$`` backtracks quadratically on crafted text
(``"a@" + "." * n + "@"``: minutes at 140,000 characters, security issue 15, item 7), and the
checks here run on samples anyone can upload, so they use plain string operations instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is only a type here: accounts (and every CLI call) import this
    import pandas as pd

# No e-mail address is longer (RFC 5321 path limit); longer text is not one.
MAX_EMAIL = 254
# What any check on an uploaded sample looks at, per value.
MAX_SAMPLE_CHARS = 1000


def looks_like_email(value: str) -> bool:
    """Whether ``value`` (trimmed) is ``local@domain.tld``-shaped: one ``@``, no blanks, a dot
    inside the domain."""
    text = value.strip()
    if not text or len(text) > MAX_EMAIL or text.count("@") != 1:
        return False
    if any(ch.isspace() for ch in text):
        return False
    local, domain = text.split("@")
    return bool(local) and "." in domain[1:-1]


def email_share(values: pd.Series) -> float:
    """The share of ``values`` that look like e-mail addresses (0 for no values)."""
    if values.empty:
        return 0.0
    return float(values.map(lambda v: looks_like_email(str(v))).mean())


def capped_samples(values: Iterable[object], *, limit: int = 200) -> list[str]:
    """Up to ``limit`` non-empty sample values as trimmed text, each cut to MAX_SAMPLE_CHARS."""
    out: list[str] = []
    for value in values:
        if value is None or (isinstance(value, float) and value != value):  # NaN
            continue
        text = str(value)[: MAX_SAMPLE_CHARS * 2].strip()[:MAX_SAMPLE_CHARS]
        if text:
            out.append(text)
        if len(out) >= limit:
            break
    return out
