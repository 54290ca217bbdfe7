"""Keyword retrieval: BM25 (bm25s) over the same passages as the vector index, same ids.

Row i of the BM25 matrix is chunk id i, the id the vector index uses, so both legs name the same
passages without a mapping table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.index.keywords.analysis import Analyzer

SETTINGS_FILE = "analyzer.json"


@dataclass(frozen=True)
class KeywordHits:
    ids: np.ndarray  # int64 chunk ids, best first, only those with a positive score
    scores: np.ndarray  # float32 BM25 scores
    terms: tuple[str, ...]  # the question's index terms that occur in the index


class KeywordIndex:
    kind = "bm25s-lucene"

    def __init__(self, analyzer: Analyzer, retriever, size: int) -> None:
        self.analyzer = analyzer
        self._bm25 = retriever
        self._size = size

    @classmethod
    def build(cls, texts: Sequence[str], analyzer: Analyzer) -> KeywordIndex:
        import bm25s

        retriever = bm25s.BM25()  # k1=1.5, b=0.75, Lucene's IDF: the common defaults
        # An empty passage list (or all stop words) still needs a valid, empty index.
        retriever.index([analyzer.terms(t) or [""] for t in texts] or [[""]], show_progress=False)
        return cls(analyzer, retriever, len(texts))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder), show_progress=False)
        (folder / SETTINGS_FILE).write_text(json.dumps(
            {"analyzer": self.analyzer.settings(), "size": self._size}, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        settings = json.loads((folder / SETTINGS_FILE).read_text())
        analyzer = Analyzer(settings["analyzer"]["language"])
        retriever = bm25s.BM25.load(str(folder), mmap=False, show_progress=False, verbosity=0)
        return cls(analyzer, retriever, settings["size"])

    def __len__(self) -> int:
        return self._size

    def terms(self, question: str) -> tuple[str, ...]:
        """The question's index terms that occur in the index, once each, in order."""
        return tuple(dict.fromkeys(t for t in self.analyzer.terms(question)
                                   if t in self._bm25.vocab_dict))

    def search(self, question: str, k: int, allowed: np.ndarray | None = None) -> KeywordHits:
        """Best ``k`` passages for the question's terms; ``allowed`` is a 0/1 mask over chunk ids."""
        terms = self.terms(question)
        if not terms or not self._size:
            return KeywordHits(np.empty(0, np.int64), np.empty(0, np.float32), terms)
        mask = None if allowed is None else allowed.astype(np.float32)
        scores = self._bm25.get_scores(list(terms), weight_mask=mask)[: self._size]
        k = min(k, int(np.count_nonzero(scores > 0)))
        if k == 0:
            return KeywordHits(np.empty(0, np.int64), np.empty(0, np.float32), terms)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return KeywordHits(top.astype(np.int64), scores[top].astype(np.float32), terms)
