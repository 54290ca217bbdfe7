"""Keyword retrieval: BM25 (bm25s) over the same passages as the vector index, same ids.

Row i of the BM25 matrix is chunk id i, the id the vector index uses, so both legs name the same
passages without a mapping table.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.errors import IndexFormatError
from indexer.index.manifest import REBUILD_HINT
from indexer.index.keywords.analysis import Analyzer

SETTINGS_FILE = "analyzer.json"


@dataclass(frozen=True)
class KeywordHits:
    ids: np.ndarray  # int64 chunk ids, best first, only those with a positive score
    scores: np.ndarray  # float32 BM25 scores
    terms: tuple[str, ...]  # the question's index terms that occur in the index


# Why: docs/decisions/0007-bm25-bm25s-defaults.md
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
    def load(cls, folder: Path, mmap: bool = False) -> KeywordIndex:
        """``mmap``: map the matrix instead of reading it (for a check of the files)."""
        import bm25s

        analyzer, size = read_settings(folder)
        try:
            retriever = bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False, verbosity=0)
        except (OSError, ValueError, KeyError, TypeError, EOFError, pickle.UnpicklingError) as exc:
            # bm25s names the file only when one is missing; otherwise name the folder.
            where = getattr(exc, "filename", None) or f"the keyword index in {folder}"
            raise IndexFormatError(f"{where} cannot be read ({_reason(exc)})",
                                   hint=REBUILD_HINT) from exc
        return cls(analyzer, retriever, size)

    def __len__(self) -> int:
        return self._size

    def terms(self, question: str) -> tuple[str, ...]:
        """The question's index terms that occur in the index, once each, in order."""
        return tuple(dict.fromkeys(t for t in self.analyzer.terms(question)
                                   if t in self._bm25.vocab_dict))

    def search(self, question: str, k: int, allowed: np.ndarray | None = None,
               dates=None) -> KeywordHits:
        """Best ``k`` passages for the question's terms; ``allowed`` is a 0/1 mask over chunk ids
        (``dates``: the filter's bounds, which the mask already holds; bm25s scores all rows)."""
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


def read_settings(folder: Path) -> tuple[Analyzer, int]:
    """The analyzer and the document count a keyword folder's settings file records (every
    keyword backend writes one)."""
    path = folder / SETTINGS_FILE
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
        return Analyzer(settings["analyzer"]["language"]), int(settings["size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexFormatError(f"the keyword index settings {path} cannot be read "
                               f"({_reason(exc)})", hint=REBUILD_HINT) from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return "a file holds bytes that are not text"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg}"
    if isinstance(exc, (KeyError, TypeError)):
        return "it does not hold the settings vraagbaak writes"
    return "a file in it is damaged"
