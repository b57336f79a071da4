"""Turning findings' evidence into tables and charts a reviewer can read (no Streamlit here)."""

from __future__ import annotations

import re
from typing import Any

import altair as alt
import pandas as pd

# Markdown's punctuation, plus Streamlit's ``:shortcodes:`` and ``:red[...]`` and HTML entities.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:@&])")
# GFM turns bare addresses into links after escapes are decoded (a find-and-replace on the text),
# so no backslash stops it: an invisible WORD JOINER breaks ``http://``, ``www.`` and ``a@b``.
_BARE_LINK = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?<=[\w.+-])(?=@)")
WORD_JOINER = "\u2060"
SERIES_KEYS = ("daily_series", "weekly_features", "series")


def md_escape(text: object) -> str:
    """Text from data shown through Markdown literally: no links (bracketed or bare), images,
    HTML, entities or formatting. The one helper for every data value in a Markdown string."""
    return _MD_SPECIAL.sub(r"\\\1", _BARE_LINK.sub(WORD_JOINER, str(text)))


def md_code(text: object) -> str:
    """Text from data as a Markdown code span, literally: the fence is longer than any run of
    backticks inside, so none can close it early (CommonMark)."""
    value = str(text).replace("\n", " ")
    runs = [len(r) for r in re.findall(r"`+", value)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def evidence_tables(evidence: dict[str, Any]) -> list[tuple[str, pd.DataFrame]]:
    """Each part of the evidence as a titled table (lists of rows, or one record)."""
    out: list[tuple[str, pd.DataFrame]] = []
    for name, value in evidence.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            frame = pd.DataFrame(value)
        elif isinstance(value, dict) and value:
            frame = pd.DataFrame([value])
        elif isinstance(value, list) and value:
            frame = pd.DataFrame({name: value})
        else:
            frame = pd.DataFrame({name: [value]})
        out.append((name.replace("_", " "), frame.astype(str)))
    return out


def _time_column(frame: pd.DataFrame) -> str | None:
    for candidate in ("date", "day", "week", "timestamp"):
        if candidate in frame.columns:
            return candidate
    return None


def series_chart(evidence: dict[str, Any], entity_key: str) -> alt.Chart | None:
    """A line chart of the evidence's time series with the finding's own point marked."""
    for key in SERIES_KEYS:
        rows = evidence.get(key)
        if not (isinstance(rows, list) and rows and isinstance(rows[0], dict)):
            continue
        frame = pd.DataFrame(rows)
        when = _time_column(frame)
        numeric = [
            c for c in frame.columns
            if c != when and pd.api.types.is_numeric_dtype(pd.to_numeric(frame[c], "coerce"))
            and pd.to_numeric(frame[c], errors="coerce").notna().any()
        ]  # fmt: skip
        if when is None or not numeric:
            continue
        measure = "share" if "share" in numeric else numeric[0]
        frame[measure] = pd.to_numeric(frame[measure], errors="coerce")
        frame[when] = frame[when].astype(str)
        frame["this finding"] = [
            f"{name}={value}" in entity_key
            for name, value in zip(
                [when.replace("day", "date")] * len(frame), frame[when], strict=True
            )
        ]
        base = alt.Chart(frame).encode(
            x=alt.X(f"{when}:O", title=when),
            y=alt.Y(f"{measure}:Q", title=measure.replace("_", " ")),
        )
        line = base.mark_line(point=True)
        marked = base.transform_filter(alt.datum["this finding"]).mark_point(
            size=160, color="#d62728", filled=True
        )
        return (line + marked).properties(height=220)
    return None


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun`` in the right number: "1 finding", "3 findings", "0 findings"."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
