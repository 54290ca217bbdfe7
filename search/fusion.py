"""Combining the dense and keyword legs with reciprocal rank fusion, weighted by language.

For an English question over Dutch articles the keyword leg is close to random and any weight
on it costs recall; for a Dutch question it is the stronger leg. So the keyword weight depends
on whether the question is in the articles' language (docs/decisions/0004).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


# Why: docs/decisions/0004-keyword-weight-by-question-language.md and 0005-rrf-k-60.md
@dataclass(frozen=True)
class FusionWeights:
    dense: float = 1.0
    keyword_same_language: float = 1.5
    keyword_cross_language: float = 0.0
    rrf_k: int = 60  # the constant of Cormack et al. (2009)

    def keyword_weight(self, question_language: str | None, corpus_language: str) -> float:
        # A question whose language cannot be told (a bare name, a number) is mostly words that
        # are the same in both languages: let keyword search help.
        if question_language is None or question_language == corpus_language:
            return self.keyword_same_language
        return self.keyword_cross_language


def reciprocal_rank_fusion(rankings: Sequence[tuple[Sequence[int], float]],
                           k: int = 60) -> list[tuple[int, float]]:
    """(id, fused score), best first; each ranking is (ids best first, weight)."""
    scores: dict[int, float] = {}
    for ids, weight in rankings:
        if weight == 0:
            continue
        for rank, item in enumerate(ids):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank + 1)
    return sorted(scores.items(), key=lambda pair: -pair[1])
