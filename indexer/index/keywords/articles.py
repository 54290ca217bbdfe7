"""The article as a unit for keyword search: a second tantivy index whose documents are whole
articles, keyed by the article's stable id (docs/decisions/0033-article-keyword-index.md).

BM25 over 128-token passages loses evidence that is spread over an article: a headline's words
are in the article, but seldom all in one passage. The article index lives beside the passage
index (``keywords-articles/``), is written by the same engine (tantivy_index.py) and, like it,
updated by the change only: a changed or removed article's id is deleted, a new or changed
article added. Which passages an article owns is read from the segments' stores (stable ids), and
the corpus's names from the segments' word counts (names.py), so nothing is rebuilt per change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from indexer.index.keywords.names import NameVocabulary, collect_names, load_counts
from indexer.index.keywords.tantivy_index import TantivyIndex


@dataclass(frozen=True)
class ArticleHits:
    ids: np.ndarray  # int64 stable article ids, best first (positive scores only)
    scores: np.ndarray  # float32 keyword scores


@dataclass(frozen=True)
class ArticleKeywords:
    index: TantivyIndex  # document id = the article's stable id
    article_of: np.ndarray  # int64 over passage ids: the owning article's id, -1 for none
    segment_folders: tuple[Path, ...] = ()  # whose word counts make the corpus's names
    _by_article: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, folder: Path, article_of: np.ndarray, segment_folders: tuple[Path, ...],
             mmap: bool = False) -> ArticleKeywords:
        return cls(TantivyIndex.load(folder, mmap), article_of, segment_folders)

    def __len__(self) -> int:
        return len(self.index)

    @cached_property
    def names(self) -> NameVocabulary:
        """The corpus's names, summed over the segments' word counts on first use."""
        return NameVocabulary(collect_names((load_counts(f) for f in self.segment_folders),
                                            self.index.analyzer))

    @cached_property
    def _groups(self) -> tuple[np.ndarray, np.ndarray]:
        """(article ids, passage ids), sorted by article, of every live passage."""
        chunks = np.flatnonzero(self.article_of >= 0)
        owners = self.article_of[chunks]
        order = np.argsort(owners, kind="stable")
        return owners[order], chunks[order]

    def article_mask(self, chunk_mask: np.ndarray | None) -> np.ndarray | None:
        """A 0/1 mask over article ids from one over passage ids: articles with an allowed one."""
        if chunk_mask is None:
            return None
        owners = self.article_of[: len(chunk_mask)][chunk_mask[: len(self.article_of)] > 0]
        owners = owners[owners >= 0]
        mask = np.zeros(int(owners.max()) + 1 if len(owners) else 0, np.float32)
        mask[owners] = 1.0
        return mask

    def search(self, question: str, k: int, chunk_mask: np.ndarray | None = None,
               dates=None) -> ArticleHits:
        """The best ``k`` articles; ``chunk_mask`` is a 0/1 mask over passage ids, ``dates`` the
        date filter's bounds (the keyword backend may apply them itself)."""
        mask = self.article_mask(chunk_mask)
        if mask is not None and not mask.any():
            return ArticleHits(np.empty(0, np.int64), np.empty(0, np.float32))
        hits = self.index.search(question, k, mask, dates)
        return ArticleHits(hits.ids, hits.scores)

    def chunks_of(self, ids: np.ndarray) -> list[np.ndarray]:
        """Each article's live passage ids, ascending."""
        owners, chunks = self._groups
        lo = np.searchsorted(owners, ids, "left")
        hi = np.searchsorted(owners, ids, "right")
        return [chunks[a:b] for a, b in zip(lo.tolist(), hi.tolist())]
