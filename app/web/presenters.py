"""Turning findings' evidence into tables and charts a reviewer can read (no Streamlit here)."""

from __future__ import annotations

import math
import re
from typing import Any

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


def _number(value: Any) -> float | None:
    """``value`` as a number when it reads as one (as pandas.to_numeric would), else None."""
    if isinstance(value, bool | int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return None if math.isnan(number) else number


def series_chart(evidence: dict[str, Any], entity_key: str) -> dict[str, Any] | None:
    """A line chart (a Vega-Lite spec) of the evidence's time series with the finding's own
    point marked. Written as the spec itself: building it through Altair and validating it
    took 50-150 ms, paid by every reviewer on every finding opened."""
    for key in SERIES_KEYS:
        rows = evidence.get(key)
        if not (isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows)):
            continue
        columns = list(dict.fromkeys(c for r in rows for c in r))
        when = next((c for c in ("date", "day", "week", "timestamp") if c in columns), None)
        numeric = [
            c for c in columns if c != when and any(_number(r.get(c)) is not None for r in rows)
        ]
        if when is None or not numeric:
            continue
        measure = "share" if "share" in numeric else numeric[0]
        mark_name = when.replace("day", "date")
        values = [
            {
                when: str(r.get(when)),
                measure: _number(r.get(measure)),
                "this finding": f"{mark_name}={r.get(when)}" in entity_key,
            }
            for r in rows
        ]
        return {
            "data": {"values": values},
            "height": 220,
            "encoding": {
                "x": {"field": when, "type": "ordinal", "title": when},
                "y": {"field": measure, "type": "quantitative", "title": measure.replace("_", " ")},
            },
            "layer": [
                {"mark": {"type": "line", "point": True}},
                {
                    "mark": {"type": "point", "size": 160, "color": "#d62728", "filled": True},
                    "transform": [{"filter": "datum['this finding']"}],
                },
            ],
        }
    return None


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun`` in the right number: "1 finding", "3 findings", "0 findings"."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
