"""Grouping-key suggestions: when one detector keeps producing duplicates, the parts of the
entity key its duplicates share with their originals are what its findings should be grouped by.

Input: one row per duplicate (``detector``, ``duplicate_key``, ``original_key``,
``original_detector``), entity keys in the taxonomy's form ``person=P1;course=C2``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd


def key_parts(entity_key: str) -> dict[str, str]:
    """``person=P1;course=C2`` as ``{"person": "P1", "course": "C2"}``."""
    out: dict[str, str] = {}
    for part in str(entity_key).split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class GroupingSuggestion:
    """'Group ``detector``'s findings by ``shared``': how many duplicates it would have avoided."""

    detector: str
    duplicates: int
    shared: tuple[str, ...]  # key parts equal in every duplicate and its original
    differing: tuple[str, ...]  # key parts that told them apart

    def describe(self) -> str:
        """One plain sentence for the page and the CLI."""
        if not self.shared:
            return (
                f"{self.detector}: {self.duplicates} duplicates, but their entity keys share no "
                "part with the originals; look at what the detector keys its findings by"
            )
        differ = f" (not by {', '.join(self.differing)})" if self.differing else ""
        return (
            f"{self.detector}: {self.duplicates} duplicates; group its findings by "
            f"{' + '.join(self.shared)}{differ}"
        )


def grouping_suggestions(
    duplicates: pd.DataFrame, *, min_duplicates: int = 3
) -> list[GroupingSuggestion]:
    """A suggestion per detector with at least ``min_duplicates`` duplicates: the key parts that
    are equal in most of its duplicate pairs (shared) and those that differed. Most first."""
    out: list[GroupingSuggestion] = []
    for detector, mine in duplicates.groupby("detector"):
        if len(mine) < min_duplicates:
            continue
        same: Counter[str] = Counter()
        differ: Counter[str] = Counter()
        for dup_key, orig_key in zip(mine["duplicate_key"], mine["original_key"], strict=True):
            a, b = key_parts(dup_key), key_parts(orig_key)
            for name in sorted(set(a) | set(b)):
                (same if a.get(name) == b.get(name) else differ)[name] += 1
        half = len(mine) / 2
        shared = tuple(n for n, c in same.most_common() if c > half)
        differing = tuple(n for n, c in differ.most_common() if n not in shared)
        out.append(GroupingSuggestion(str(detector), len(mine), shared, differing))
    out.sort(key=lambda s: (-s.duplicates, s.detector))
    return out
