"""The keyword leg: passage BM25 and article BM25, fused, for the question's words and names.

- The question's words, plus the corpus's spelling of a name the question spells another way
  (Putin -> Poetin; docs/decisions/0035-names-across-spellings.md).
- Passage BM25 ranks the passages that hold those words.
- Article BM25 over whole articles ranks articles; each of its passages that holds a word of the
  question shares the article's rank, so "which article" evidence lifts an article's passages
  alike and the passage evidence picks among them
  (docs/decisions/0034-article-evidence-in-fusion.md). Passage and article ids are stable ids.

An index written before the article index (decision 0033) has passage BM25 only, as before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from indexer.index.keywords import KeywordBackend
from indexer.index.keywords.articles import ArticleKeywords
from indexer.index.keywords.bm25 import KeywordHits
from search.fusion import FusionWeights, article_ranking, reciprocal_rank_fusion, scaled
from search.names import NameMatcher


@dataclass(frozen=True)
class KeywordEvidence:
    passages: KeywordHits
    articles: list[np.ndarray]  # per matched article, best first: its passages with a hit
    article_scores: np.ndarray = field(  # those articles' BM25 scores
        default_factory=lambda: np.empty(0, np.float32))

    def keyword_leg(self, weights: FusionWeights) -> list[tuple[int, float]]:
        """(chunk id, score) best first: what keyword mode returns and hybrid fuses with the
        dense leg. Passage BM25 alone for an index without the article index, as before it."""
        if not self.articles or weights.article == 0:
            return list(zip(self.passages.ids.tolist(), self.passages.scores.tolist()))
        ids, ranks = article_ranking(self.articles)
        return reciprocal_rank_fusion([(self.passages.ids.tolist(), 1.0),
                                       (ids, weights.article, ranks)], weights.rrf_k)

    def scaled_scores(self, method: str, article_weight: float) -> tuple[dict[int, float], float]:
        """({chunk id: keyword score}, the score of a passage it lacks) for score fusion: the
        passage's BM25 and its article's BM25 (each scaled by ``method`` over its own hits; an
        article's passages without a question word get none of it, as in ``keyword_leg``),
        mixed ``1 : article_weight``. A passage without any hit has BM25 0 on both."""
        passages = self.passages.scores
        scores = dict(zip(self.passages.ids.tolist(),
                          scaled(passages, passages, method).tolist()))
        missing = float(scaled(np.zeros(1), passages, method)[0])
        if not self.articles or article_weight == 0:
            return scores, missing
        article = scaled(self.article_scores, self.article_scores, method)
        none = float(scaled(np.zeros(1), self.article_scores, method)[0])
        of_article = {int(c): float(a) for ids, a in zip(self.articles, article) for c in ids}
        mixed = {c: (scores.get(c, missing) + article_weight * of_article.get(c, none))
                 / (1 + article_weight) for c in dict.fromkeys([*scores, *of_article])}
        return mixed, (missing + article_weight * none) / (1 + article_weight)


def gather(question: str, n: int, mask: np.ndarray | None, keywords: KeywordBackend,
           articles: ArticleKeywords | None, names: NameMatcher | None,
           article_depth: int, respell: bool) -> KeywordEvidence:
    """The keyword evidence for one question; ``mask`` is a 0/1 mask over chunk ids."""
    asked = respelled(question, keywords, names) if respell else question
    passages = keywords.search(asked, n, mask)
    if articles is None:
        return KeywordEvidence(passages, [])
    found = articles.search(asked, article_depth, mask)
    chunks = articles.chunks_of(found.ids)
    inside = np.zeros(len(articles.article_of) if mask is None else len(mask), np.float32)
    for ids in chunks:
        inside[ids[ids < len(inside)]] = 1.0
    if mask is not None:
        inside *= mask
    # The matched articles' passages that hold a question word, best passage first per article.
    held = keywords.search(asked, int(inside.sum()), inside)
    order = {c: i for i, c in enumerate(held.ids.tolist())}
    matched = [np.asarray(sorted((c for c in ids.tolist() if c in order), key=order.get), np.int64)
               for ids in chunks]
    kept = [i for i, m in enumerate(matched) if len(m)]
    return KeywordEvidence(passages, [matched[i] for i in kept],
                           np.asarray(found.scores, np.float32)[kept])


def respelled(question: str, keywords: KeywordBackend, names: NameMatcher | None) -> str:
    """The question with the corpus's spelling of each name it spells another way appended
    ("What did Zelensky say" + "zelenski"), for keyword search."""
    if names is None:
        return question
    own = set(keywords.analyzer.terms(question))
    other = [name for name in names.corpus_names(question)
             if not set(keywords.analyzer.terms(name)) <= own]
    return " ".join([question, *other])
