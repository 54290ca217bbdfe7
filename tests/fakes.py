"""A fast, deterministic stand-in for the real model, for unit tests of everything around it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from indexer.embedders.base import ModelSpec

_WORD = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder:
    """Bag of hashed lower-cased words; texts that share words get similar vectors."""

    def __init__(self, dim: int = 64, name: str = "fake", spec: ModelSpec | None = None) -> None:
        self.dim = dim
        self.spec = spec or ModelSpec(f"test/{name}", "folder", f"/nonexistent/{name}", f"fp-{name}-{dim}")
        self.documents_embedded = 0

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        for word in _WORD.findall(text.lower()):
            v[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.documents_embedded += len(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.empty((0, self.dim), np.float32)

    def embed_passages(self, texts: Sequence[str], sentences) -> tuple[np.ndarray, list[np.ndarray]]:
        """As the real model's late chunking: a sentence's vector is its words', in context
        (here: with a tenth of its passage's words mixed in)."""
        passages = self.embed_documents(texts)
        pooled = []
        for text, passage, spans in zip(texts, passages, sentences):
            own = [self._vector(text[s:e]) + 0.1 * passage for s, e in spans]
            pooled.append(np.stack([v / np.linalg.norm(v) for v in own]) if own
                          else np.empty((0, self.dim), np.float32))
        return passages, pooled

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.empty((0, self.dim), np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) for t in texts]
