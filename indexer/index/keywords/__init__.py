"""Keyword backends: one module each (bm25.py), one registry (here), one contract
(``KeywordBackend``), and one contract test run against every registered backend
(tests/test_keyword_backends.py). The manifest's ``keyword_index.kind`` names the backend."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer.errors import IndexFormatError
from indexer.index.keywords.analysis import Analyzer

BACKENDS = {"bm25s-lucene": "indexer.index.keywords.bm25:KeywordIndex",  # kind -> "module:Class"
            "tantivy": "indexer.index.keywords.tantivy_index:TantivyIndex"}
DEFAULT_KIND = "tantivy"  # Why: docs/decisions/0040-keyword-engine-tantivy.md


class KeywordBackend(Protocol):
    """What the read path asks of a keyword index; row/id i is chunk id i."""

    kind: str
    analyzer: Analyzer

    @classmethod
    def build(cls, texts: Sequence[str], analyzer: Analyzer) -> KeywordBackend: ...

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> KeywordBackend:
        """``mmap``: map the files instead of reading them (to check them, not to search)."""
        ...

    def save(self, folder: Path) -> None: ...

    def __len__(self) -> int: ...

    def terms(self, question: str) -> tuple[str, ...]:
        """The question's index terms that occur in the index, once each, in order."""
        ...

    def search(self, question: str, k: int, allowed: np.ndarray | None = None, dates=None):
        """KeywordHits: the best ``k`` passages (positive scores only); ``allowed`` is a 0/1 mask
        over chunk ids; ``dates`` the date filter's bounds (DateBounds) that ``allowed`` holds,
        for a backend that can filter by date itself."""
        ...


def backend_class(kind: str, source: str = "") -> type[KeywordBackend]:
    target = BACKENDS.get(kind)
    if target is None:
        raise IndexFormatError(f"{source or 'the manifest'} names the keyword index kind {kind!r}, "
                               "which this vraagbaak does not know",
                               hint="use the vraagbaak version that built the index, or rebuild it")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def build_keyword_index(texts: Sequence[str], language: str,
                        kind: str = DEFAULT_KIND) -> KeywordBackend:
    return backend_class(kind).build(texts, Analyzer(language))


def load_keyword_index(folder: Path, described: dict | None = None, source: str = "",
                       mmap: bool = False) -> KeywordBackend:
    kind = (described or {}).get("kind") or DEFAULT_KIND
    return backend_class(kind, source).load(folder, mmap)
