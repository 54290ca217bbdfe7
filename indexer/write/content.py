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
from indexer.errors import IndexWriteError, InputError
from indexer.index.segments import SegmentedVectors
from indexer.index.store import StoredDocument
from indexer.write.changes import text_hash
from indexer.write.chunking import Chunker, sentence_spans
from indexer.write.embedding import (PASSAGES, SENTENCES, DocumentEmbedding, Holder,
                                     LocalEmbedding, TextRow)
from indexer.write.segment_writer import SegmentRows
from indexer.write.vector_cache import VectorCache

Progress = Callable[[int, int], None]  # (texts embedded so far, total)


def split(documents: Sequence[StoredDocument], chunker: Chunker | None,
          next_ids: dict, pieces: Sequence | None = None) -> tuple[SegmentRows, list[str], dict]:
    """The rows of ``documents`` with new stable ids from ``next_ids`` (returned advanced),
    and the sentences' texts. ``pieces``: each document's chunks and quotes, made elsewhere
    (ray_splitting.Pieces, from Ray's workers); None: split here, quotes when written."""
    rows, texts = SegmentRows(), []
    ids = dict(next_ids)
    if documents and chunker is None and pieces is None:
        raise InputError("articles need splitting, but no chunker was given")
    if pieces is not None:
        rows.quotes = [q for p in pieces for q in p.quotes]
    for i, doc in enumerate(documents):
        rows.documents.append(doc)
        rows.article_ids.append(ids["articles"])
        ids["articles"] += 1
        text = doc.document.text
        for chunk in pieces[i].chunks if pieces is not None else chunker.split(doc.document):
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
                 batch_size: int | None, embedding: DocumentEmbedding | None = None,
                 store: dict | None = None) -> tuple[int, int]:
    """Set ``rows``' vectors; returns (texts embedded, texts whose vector was reused).
    ``previous``: the version built on (its store and vectors), or None; ``embedding``: who
    embeds the new texts (None: this process); ``store``: the manifest's vector_store, where
    an executor that can write there itself (Ray into a Milvus server) writes the new texts'
    vectors, which then never come here: ``rows`` get only the reused ones."""
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
            todo = set(h for h in wanted if h not in found)
            if todo:
                new = text_rows(rows, sentence_texts, todo)
                embedding = embedding or LocalEmbedding()
                if store and getattr(embedding, "writes_to", lambda _: False)(store):
                    _write_in_store(embedding, embedder, rows, new, todo, store, dim,
                                    progress, batch_size)
                else:
                    found.update(_embed(embedding, embedder, new, cache, dim, progress,
                                        batch_size))
            embedded = len(todo)
        finally:
            cache.close()
    _set_vectors(rows, hashes, found, dim)
    return embedded, len(wanted) - embedded


def _set_vectors(rows: SegmentRows, hashes: list[str], found: dict, dim: int) -> None:
    """The rows' vectors from ``found``; where some were written into the store by others
    (absent from ``found``), only the found ones, with their rows' positions."""
    n = len(rows.chunks)
    at = [i for i, h in enumerate(hashes) if h in found]
    matrix = np.stack([found[hashes[i]] for i in at]) if at else np.empty((0, dim), np.float32)
    if len(at) == len(hashes):
        rows.passage_vectors, rows.sentence_vectors = matrix[:n], matrix[n:]
        return
    at = np.asarray(at, np.int64)
    first = int(np.searchsorted(at, n))
    rows.passage_vectors, rows.sentence_vectors = matrix[:first], matrix[first:]
    rows.passage_at, rows.sentence_at = at[:first], at[first:] - n


def _write_in_store(embedding, embedder: Embedder | None, rows: SegmentRows,
                    new: list[TextRow], todo: set[str], store: dict, dim: int,
                    progress: Progress | None, batch_size: int | None) -> None:
    if embedder is None:
        raise InputError("new texts need embedding, but no model was given")
    written = embedding.write(new, holders_of(rows, todo), embedder, batch_size, store, dim,
                              progress)
    if written.keys != frozenset(todo):
        raise IndexWriteError(f"{len(todo - written.keys)} of {len(todo)} texts were not "
                              "written to the vector store; nothing was published",
                              hint="run the same command again")
    rows.stored_ts = max(rows.stored_ts, written.written_ts)


def text_rows(rows: SegmentRows, sentence_texts: list[str], keys: set[str]) -> list[TextRow]:
    """The texts of ``keys``, each once, with the first row (passages first) that holds it."""
    of_doc = {d.document.doc_id: (a, d.document.date or "")
              for d, a in zip(rows.documents, rows.article_ids)}
    of_chunk = {}
    out: list[TextRow] = []
    seen: set[str] = set()
    for chunk_id, chunk, h in zip(rows.chunk_ids, rows.chunks, rows.chunk_hashes):
        of_chunk[chunk_id] = of_doc[chunk.doc_id]
        if h in keys and h not in seen:
            seen.add(h)
            out.append(TextRow(h, chunk.text, chunk_id, PASSAGES, *of_chunk[chunk_id]))
    for (sentence_id, chunk_id, _, _, h), text in zip(rows.sentences, sentence_texts):
        if h in keys and h not in seen:
            seen.add(h)
            out.append(TextRow(h, text, sentence_id, SENTENCES, *of_chunk[chunk_id]))
    return out


def holders_of(rows: SegmentRows, keys: set[str]) -> dict[str, list[Holder]]:
    """Every row of ``rows`` that holds a text of ``keys`` (a store keeps a vector per row)."""
    from indexer.dates import date_span
    from indexer.index.stores.milvus import NO_DATE

    of_doc = {d.document.doc_id: (a, date_span(d.document.date) or NO_DATE)
              for d, a in zip(rows.documents, rows.article_ids)}
    of_chunk: dict[int, tuple] = {}
    out: dict[str, list[Holder]] = {}
    for chunk_id, chunk, h in zip(rows.chunk_ids, rows.chunks, rows.chunk_hashes):
        article, span = of_chunk[chunk_id] = of_doc[chunk.doc_id]
        if h in keys:
            out.setdefault(h, []).append(Holder(PASSAGES, chunk_id, article, *span))
    for sentence_id, chunk_id, _, _, h in rows.sentences:
        if h in keys:
            article, span = of_chunk[chunk_id]
            out.setdefault(h, []).append(Holder(SENTENCES, sentence_id, article, *span))
    return out


def _from_segments(hashes: list[str], previous) -> dict[str, np.ndarray]:
    """Vectors of these texts held by live rows of the previous version's segments (or, where
    its vectors live in a store, by that store under those rows' ids)."""
    if not hashes:
        return {}
    opened = _store_parts(previous)
    try:
        return _held_by(hashes, previous, opened or (previous.passages, previous.sentences),
                        opened is not None)
    finally:
        for part in opened or ():
            part.close()


def _store_parts(previous):
    """The previous version's parts in a vector store outside its folder (Milvus), opened for
    these lookups: Ray's workers write new vectors there, not into the vector cache, so a moved
    or changed article's unchanged texts are found there. None for FAISS files (the writer
    opened no vectors: it leans on the vector cache)."""
    from indexer.index.stores import store_of

    backend = store_of(previous.manifest.vector_store)
    if backend.files or previous.passages is not None:
        return None
    return backend.open_parts(previous.path, previous.manifest, previous.segments,
                              previous.tombstones)


def _held_by(hashes: list[str], previous, parts, in_store: bool) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    for table, part, dead in (("chunks", parts[0], previous.tombstones.chunks),
                              ("sentences", parts[1], previous.tombstones.sentences)):
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
        if known and (in_store or isinstance(part, SegmentedVectors)):
            # (a writer that loaded no FAISS vectors leans on the vector cache alone)
            found.update(zip(known, part.vectors(np.asarray(list(known.values()), np.int64))))
    return found


def _embed(embedding: DocumentEmbedding, embedder: Embedder | None, rows: list[TextRow],
           cache: VectorCache, dim: int, progress: Progress | None,
           batch_size: int | None) -> dict[str, np.ndarray]:
    """The vectors of ``rows``, kept in the cache batch by batch as they come."""
    if embedder is None:
        raise InputError("new texts need embedding, but no model was given")
    made: dict[str, np.ndarray] = {}
    asked = {r.key for r in rows}
    batches = embedding.embed(rows, embedder, batch_size)
    try:
        for keys, vectors in batches:
            vectors = np.asarray(vectors, np.float32)
            if vectors.shape != (len(keys), dim) or not asked.issuperset(keys):
                raise IndexWriteError(f"the embedder returned {vectors.shape} vectors for "
                                      f"{len(keys)} texts of dimension {dim}, or texts not "
                                      "asked for")
            fresh = [(k, v) for k, v in zip(keys, vectors) if k not in made]  # a retry's, once
            made.update(fresh)
            cache.put(fresh)
            if progress:
                progress(len(made), len(asked))
    finally:
        getattr(batches, "close", lambda: None)()  # an executor's cluster let go now, not later
    if len(made) != len(asked):
        raise IndexWriteError(f"{len(asked) - len(made)} of {len(asked)} texts came back "
                              "without a vector; nothing was published",
                              hint="run the same command again: the vectors made so far are kept")
    return made
