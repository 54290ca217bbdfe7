"""A change's new rows: its articles split into passages and sentences, stable ids given, and
their vectors, each text embedded at most once by one model.

A vector comes from the vector cache (every text this model embedded for this index), else from
a live segment that holds the same text (looked up by hash through an index), else the model.
Only the change's texts are looked at: the cost does not grow with the index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from indexer.embedders.base import Embedder
from indexer.errors import InputError
from indexer.index.segments import SegmentedVectors
from indexer.index.store import StoredDocument
from indexer.write.changes import text_hash
from indexer.write.chunking import Chunker, sentence_spans
from indexer.write.segment_writer import SegmentRows
from indexer.write.vector_cache import VectorCache

Progress = Callable[[int, int], None]  # (texts embedded so far, total)


def split(documents: Sequence[StoredDocument], chunker: Chunker | None,
          next_ids: dict) -> tuple[SegmentRows, list[str], dict]:
    """The rows of ``documents`` with new stable ids from ``next_ids`` (returned advanced),
    and the sentences' texts."""
    rows, texts = SegmentRows(), []
    ids = dict(next_ids)
    if documents and chunker is None:
        raise InputError("articles need splitting, but no chunker was given")
    for doc in documents:
        rows.documents.append(doc)
        rows.article_ids.append(ids["articles"])
        ids["articles"] += 1
        text = doc.document.text
        for chunk in chunker.split(doc.document):
            chunk_id = ids["chunks"]
            ids["chunks"] += 1
            rows.chunk_ids.append(chunk_id)
            rows.chunks.append(chunk)
            rows.chunk_hashes.append(text_hash(chunk.text))
            for s, e in sentence_spans(text, chunk.start, chunk.end):
                texts.append(text[s:e])
                rows.sentences.append((ids["sentences"], chunk_id, s, e, text_hash(texts[-1])))
                ids["sentences"] += 1
    return rows, texts, ids


def fill_vectors(rows: SegmentRows, sentence_texts: list[str], previous, embedder: Embedder | None,
                 cache_at: Path, fingerprint: str, dim: int, progress: Progress | None,
                 batch_size: int | None) -> tuple[int, int]:
    """Set ``rows``' vectors; returns (texts embedded, texts whose vector was reused).
    ``previous``: the version built on (its store and vectors), or None."""
    hashes = rows.chunk_hashes + [r[4] for r in rows.sentences]
    texts = dict(zip(hashes, [c.text for c in rows.chunks] + sentence_texts))
    wanted = list(texts)
    found: dict[str, np.ndarray] = {}
    embedded = 0
    if wanted:
        cache = VectorCache.open(cache_at, fingerprint, dim)
        try:
            found = cache.get(wanted)
            if previous is not None and previous.store is not None:
                found.update(_from_segments([h for h in wanted if h not in found], previous))
            todo = [h for h in wanted if h not in found]
            made = dict(zip(todo, _embed(embedder, [texts[h] for h in todo], dim, progress,
                                         batch_size)))
            cache.put(made.items())
            found.update(made)
            embedded = len(todo)
        finally:
            cache.close()
    matrix = np.stack([found[h] for h in hashes]) if hashes else np.empty((0, dim), np.float32)
    n = len(rows.chunks)
    rows.passage_vectors, rows.sentence_vectors = matrix[:n], matrix[n:]
    return embedded, len(wanted) - embedded


def _from_segments(hashes: list[str], previous) -> dict[str, np.ndarray]:
    """Vectors of these texts held by live rows of the previous version's segments."""
    found: dict[str, np.ndarray] = {}
    for table, part, dead in (("chunks", previous.passages, previous.tombstones.chunks),
                              ("sentences", previous.sentences, previous.tombstones.sentences)):
        if part is None:
            break
        todo = [h for h in hashes if h not in found]
        if not todo:
            break
        known: dict[str, int] = {}
        for segment in previous.segments:
            for h, i in segment.store.ids_for_hashes(table, todo).items():
                if i not in dead:
                    known.setdefault(h, i)
        if known and isinstance(part, SegmentedVectors):  # a writer that loaded no vectors
            # leans on the vector cache alone
            found.update(zip(known, part.vectors(np.asarray(list(known.values()), np.int64))))
    return found


def _embed(embedder: Embedder | None, texts: list[str], dim: int, progress: Progress | None,
           batch_size: int | None) -> np.ndarray:
    if not texts:
        return np.empty((0, dim), np.float32)
    if embedder is None:
        raise InputError("new texts need embedding, but no model was given")
    # None: the embedder's own (bf16's is 32, docs/decisions/0032-bf16-batch-32.md); read only
    # here, where the model is needed anyway (a LazyEmbedder loads it to answer).
    batch_size = batch_size or getattr(embedder, "batch_size", None) or 16
    # Longest first, so batches hold texts of similar length (less padding) and the progress
    # bar's estimate is pessimistic rather than optimistic.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vectors = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for begin in range(0, len(order), batch_size):
        batch = order[begin:begin + batch_size]
        vectors[batch] = embedder.embed_documents([texts[i] for i in batch])
        if progress:
            progress(min(begin + batch_size, len(order)), len(order))
    return vectors
