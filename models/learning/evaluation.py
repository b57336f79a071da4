"""Scoring detections against a ground truth: precision and recall, or hits in the top 2N."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

# Categories scored as a ranking (a learned outlier score), not as a yes/no rule.
RANKED_CATEGORIES = ("engagement_anomaly",)


@dataclass(frozen=True)
class CategoryScore:
    """How one category did: counts, and either precision/recall or the top-2N hit share."""

    category: str
    expected: int
    proposed: int
    true_positives: int
    ranked: bool = False
    misses: tuple[str, ...] = field(default=())
    extras: tuple[str, ...] = field(default=())

    @property
    def precision(self) -> float:
        """Share of proposals that are in the truth (1.0 when nothing was proposed)."""
        return self.true_positives / self.proposed if self.proposed else 1.0

    @property
    def recall(self) -> float:
        """Share of the truth that was proposed (1.0 when nothing was expected)."""
        return self.true_positives / self.expected if self.expected else 1.0


def score_detections(
    found: Iterable[tuple[str, str, float]], truth: Iterable[tuple[str, str]]
) -> dict[str, CategoryScore]:
    """Score ``(category, entity_key, score)`` detections against ``(category, entity_key)`` truth.

    Rule categories count every proposal; ranked categories count the hits among the top 2N
    proposals by score (N = how many the truth holds), so a model is judged on its ranking.
    """
    got: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for category, key, score in found:
        got[category].append((key, score))
    want: dict[str, set[str]] = defaultdict(set)
    for category, key in truth:
        want[category].add(key)
    out = {}
    for category in sorted(set(got) | set(want)):
        expected = want.get(category, set())
        ranked = category in RANKED_CATEGORIES
        items = sorted(got.get(category, []), key=lambda kv: -kv[1])
        if ranked:
            items = items[: 2 * len(expected)]
        keys = {k for k, _ in items}
        out[category] = CategoryScore(
            category=category,
            expected=len(expected),
            proposed=len(keys),
            true_positives=len(keys & expected),
            ranked=ranked,
            misses=tuple(sorted(expected - keys)[:5]),
            extras=tuple(sorted(keys - expected)[:5]),
        )
    return out
