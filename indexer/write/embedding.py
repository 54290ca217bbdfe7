"""Who embeds a change's new texts: this process (the default), or a Ray cluster (`--ray`,
ray_embedding.py; the CLI picks one from its settings).

fill_vectors (content.py) hands an executor the texts that neither the vector cache nor a
segment holds, each once, with the stable ids the driver gave its rows before anything left
this process; the executor yields their vectors in batches, in any order. fill_vectors keeps
each batch in the vector cache as it comes, so an interrupted run keeps what was embedded and
its re-run embeds only the rest, and a text that comes back twice (a retried task) is kept once.
An executor may instead write the vectors into the index's vector store itself (Ray's workers
into a Milvus server: decision 0047); then only what was written comes back.
Why Ray sits here and nowhere else: docs/decisions/0045-ray-embeds-the-texts.md
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from indexer.embedders.base import Embedder

PASSAGES, SENTENCES = "passages", "sentences"
DEFAULT_BATCH = 16  # Why: docs/decisions/0002-embed-batch-size-16.md

Batches = Iterator[tuple[list[str], np.ndarray]]  # the texts' keys, their vectors (n, dim)


@dataclass(frozen=True)
class TextRow:
    """A text to embed and the first row that holds it (others may hold the same text)."""

    key: str  # the text's hash: what its vector is kept under
    text: str
    id: int  # that row's stable id (a passage's or a sentence's)
    part: str  # PASSAGES or SENTENCES
    article: int  # the stable id of its article
    date: str  # the article's date as stored (YYYY, YYYY-MM, YYYY-MM-DD), "" when it has none


@dataclass(frozen=True)
class Holder:
    """A row of the change that holds a text, as a vector store keeps it: its part, stable id,
    article id and the article date's span (YYYYMMDD; NO_DATE for an undated article)."""

    part: str  # PASSAGES or SENTENCES
    id: int
    article: int
    date_from: int
    date_to: int


@dataclass(frozen=True)
class StoreWrite:
    """What an executor that writes the vectors into the store itself reports back: the texts
    it wrote (keys) and the newest timestamp of its writes (0 where the store gives none)."""

    keys: frozenset
    written_ts: int = 0


class DocumentEmbedding(Protocol):
    """The contract of an executor: each row's vector, each row once, in any order."""

    def embed(self, rows: Sequence[TextRow], embedder: Embedder, batch_size: int | None) -> Batches:
        ...

    # Optionally, an executor whose workers write to the store (Ray into a Milvus server):
    # writes_to(store) -> bool, and write(rows, holders, embedder, batch_size, store, dim,
    # progress) -> StoreWrite, with every text written under all its holders' ids or an error.
    # And one whose workers split the articles (Ray): split_all(documents, chunker, embedder)
    # -> each document's ray_splitting.Pieces, and session(), a context that the write path
    # holds around splitting and embedding so that both share one connection. And one whose
    # workers run another backend than ``embedder`` (Ray's GPU actors): made_by(embedder) -> the
    # backend name the manifest records.


def batch_size_of(embedder: Embedder, asked: int | None) -> int:
    # None: the embedder's own (bf16's is 32, docs/decisions/0032-bf16-batch-32.md); read only
    # here, where the model is needed anyway (a LazyEmbedder loads it to answer).
    return asked or getattr(embedder, "batch_size", None) or DEFAULT_BATCH


def longest_first(rows: Sequence[TextRow]) -> list[int]:
    """Batches of texts of similar length (less padding), the longest first, so that a progress
    bar's estimate is pessimistic rather than optimistic."""
    return sorted(range(len(rows)), key=lambda i: -len(rows[i].text))


@dataclass(frozen=True)
class LocalEmbedding:
    """The model in this process, batch after batch."""

    def embed(self, rows: Sequence[TextRow], embedder: Embedder, batch_size: int | None) -> Batches:
        size = batch_size_of(embedder, batch_size)
        order = longest_first(rows)
        for begin in range(0, len(order), size):
            batch = [rows[i] for i in order[begin:begin + size]]
            yield [r.key for r in batch], embedder.embed_documents([r.text for r in batch])
