"""Combining the dense and keyword legs with reciprocal rank fusion, weighted by language.

For an English question over Dutch articles the keyword leg is close to random and any weight
on it costs recall; for a Dutch question it helps where the question repeats the article's
words. So the keyword weight follows how likely the question is in the articles' language
(docs/decisions/0029, which replaced the on/off switch of 0004).

Two ways to fuse (``FusionWeights.method``, docs/decisions/0056): reciprocal rank fusion, which
sees only ranks, so a keyword hit at weight 0.05 overturns up to three dense ranks whatever the
cosines say; or a weighted mean of each leg's scores, each scaled by its own candidate list
(min-max or z-score), so a leg's margin counts: a confident leg keeps its lead, a near-tie is
broken by the other leg.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.errors import QueryError

# Why: docs/decisions/0056-score-aware-fusion.md
METHODS = ("rrf", "minmax", "zscore")


# Why: docs/decisions/0029-keyword-weight-follows-language-confidence.md and 0005-rrf-k-60.md;
# speaker: docs/decisions/0037-speaker-boost.md
@dataclass(frozen=True)
class FusionWeights:
    dense: float = 1.0
    keyword_same_language: float = 0.05
    keyword_cross_language: float = 0.0
    rrf_k: int = 60  # the constant of Cormack et al. (2009)
    # Why: docs/decisions/0034-article-evidence-in-fusion.md
    article: float = 1.0  # inside the keyword leg: article BM25's weight, passage BM25's is 1
    # the same-language keyword weight when the keyword leg's best article holds every word of
    # the question (the question repeats an article's words, so BM25 is sure of it)
    keyword_covered: float = 1.0
    # Why: docs/decisions/0035-names-across-spellings.md
    respell_names: bool = True  # the keyword leg also asks for a name in the corpus's spelling
    speaker: float = 0.1  # passages where the asked speaker speaks (search/speakers.py, 0037)
    # Why: docs/decisions/0046-speaker-boost-on-the-subject.md
    speaker_on_subject: bool = True  # ... and only those on the question's subject, when told
    # Why: docs/decisions/0056-score-aware-fusion.md
    method: str = "zscore"  # "rrf" (ranks) or "minmax" / "zscore" (scaled scores, weighted mean)
    # the same-language keyword weight of the score methods (scores have another scale than
    # RRF's 1 / (k + rank), so they need their own); cross-language and covered are shared
    score_keyword_same_language: float = 0.05

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise QueryError(f"fusion method must be one of {', '.join(METHODS)}, "
                             f"not {self.method!r}")

    def keyword_weight(self, question_language: str | Mapping[str, float] | None,
                       corpus_language: str, covered: bool = False) -> float:
        """Blend of the same- and cross-language weights by p, the chance that the question is
        in ``corpus_language``: ``same * p + cross * (1 - p)``.

        ``question_language`` is the identifier's probabilities per language
        (``language_probabilities``) or one language code, which counts as certain. None or no
        probabilities at all (no letters: a number, a date) count as the corpus language: such
        a question is words that are the same in both languages, so keyword search may help."""
        p = self.corpus_language_share(question_language, corpus_language)
        same = self.keyword_covered if covered else self.same_language
        return same * p + self.keyword_cross_language * (1.0 - p)

    @property
    def same_language(self) -> float:
        """The keyword weight for a question surely in the corpus language, under ``method``."""
        return self.keyword_same_language if self.method == "rrf" else self.score_keyword_same_language

    @staticmethod
    def corpus_language_share(question_language: str | Mapping[str, float] | None,
                              corpus_language: str) -> float:
        """p, the chance that the question is in ``corpus_language`` (see keyword_weight)."""
        if question_language is None:
            p = 1.0
        elif isinstance(question_language, str):
            p = 1.0 if question_language == corpus_language else 0.0
        elif not any(question_language.values()):
            p = 1.0
        else:
            total = sum(question_language.values())
            p = min(1.0, max(0.0, question_language.get(corpus_language, 0.0) / total))
        return p


def reciprocal_rank_fusion(rankings: Sequence[tuple], k: int = 60) -> list[tuple[int, float]]:
    """(id, fused score), best first; each ranking is (ids best first, weight), or (ids,
    weight, ranks) where ids share a rank: the passages of one article all get that article's
    rank, so the article lifts them alike and the other rankings choose among them."""
    scores: dict[int, float] = {}
    for ids, weight, *ranks in rankings:
        if weight == 0:
            continue
        for rank, item in zip(ranks[0] if ranks else range(len(ids)), ids):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank + 1)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def article_ranking(chunks_per_article: Sequence[Sequence[int]]) -> tuple[list[int], list[int]]:
    """(chunk ids, ranks) for ``reciprocal_rank_fusion``: every passage of the article at
    position r, best article first, gets rank r."""
    ids, ranks = [], []
    for rank, chunks in enumerate(chunks_per_article):
        ids.extend(int(c) for c in chunks)
        ranks.extend([rank] * len(chunks))
    return ids, ranks


def scaled(scores: np.ndarray, reference: np.ndarray, method: str) -> np.ndarray:
    """``scores`` on the scale of ``reference`` (the leg's own candidate list): min-max puts its
    best at 1 and its worst at 0, z-score its mean at 0 and one standard deviation at 1. A
    linear map, so a score outside the list (a passage only the other leg found) stays in order.
    A list of one score, or of equal ones, has no spread: everything then scales to 0."""
    scores = np.asarray(scores, np.float64)
    reference = np.asarray(reference, np.float64)
    if len(reference) == 0:
        return np.zeros_like(scores)
    if method == "minmax":
        low, spread = reference.min(), reference.max() - reference.min()
    elif method == "zscore":
        low, spread = reference.mean(), reference.std()
    else:
        raise ValueError(f"not a score fusion method: {method!r}")
    return (scores - low) / spread if spread > 0 else np.zeros_like(scores)


def score_fusion(legs: Sequence[tuple[Mapping[int, float], float, float]]) -> list[tuple[int, float]]:
    """(id, fused score), best first: the weighted mean of each leg's scaled score. Each leg is
    ({id: scaled score}, weight, missing): ``missing`` is what the leg says of an id it did not
    return (for BM25, the scaled score of 0: no word of the question). Ties keep the first
    leg's order (Python's sort is stable)."""
    active = [leg for leg in legs if leg[1] > 0 and leg[0]]
    if not active:
        return []
    total = sum(weight for _, weight, _ in active)
    ids = list(dict.fromkeys(i for scores, _, _ in active for i in scores))
    fused = dict.fromkeys(ids, 0.0)
    for scores, weight, missing in active:
        for i in ids:
            fused[i] += weight * scores.get(i, missing) / total
    return sorted(fused.items(), key=lambda pair: -pair[1])
