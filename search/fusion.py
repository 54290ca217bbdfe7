"""Combining the dense and keyword legs with reciprocal rank fusion, weighted by language.

For an English question over Dutch articles the keyword leg is close to random and any weight
on it costs recall; for a Dutch question it helps where the question repeats the article's
words. So the keyword weight follows how likely the question is in the articles' language
(docs/decisions/0029, which replaced the on/off switch of 0004).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


# Why: docs/decisions/0029-keyword-weight-follows-language-confidence.md and 0005-rrf-k-60.md;
# speaker: docs/decisions/0037-speaker-boost.md
@dataclass(frozen=True)
class FusionWeights:
    dense: float = 1.0
    keyword_same_language: float = 0.05
    keyword_cross_language: float = 0.0
    rrf_k: int = 60  # the constant of Cormack et al. (2009)
    speaker: float = 0.1  # passages where the asked speaker speaks (search/speakers.py, 0037)

    def keyword_weight(self, question_language: str | Mapping[str, float] | None,
                       corpus_language: str) -> float:
        """Blend of the same- and cross-language weights by p, the chance that the question is
        in ``corpus_language``: ``same * p + cross * (1 - p)``.

        ``question_language`` is the identifier's probabilities per language
        (``language_probabilities``) or one language code, which counts as certain. None or no
        probabilities at all (no letters: a number, a date) count as the corpus language: such
        a question is words that are the same in both languages, so keyword search may help."""
        if question_language is None:
            p = 1.0
        elif isinstance(question_language, str):
            p = 1.0 if question_language == corpus_language else 0.0
        elif not any(question_language.values()):
            p = 1.0
        else:
            total = sum(question_language.values())
            p = min(1.0, max(0.0, question_language.get(corpus_language, 0.0) / total))
        return self.keyword_same_language * p + self.keyword_cross_language * (1.0 - p)


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
