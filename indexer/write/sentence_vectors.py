"""How a version's sentence vectors are made, and what the model must read to make the missing.

Two methods, recorded in the manifest with the chunker's settings (a change of method re-splits
and re-embeds, as a chunker change does):
- LATE (the default): pooled from the passage's own forward pass (late chunking,
  indexer/embedders/late_chunking.py); the model reads passages only. A sentence's vector then
  depends on its passage, so its key is the passage's hash with the sentence's place in it.
- SEPARATE (indexes made before 2026-12): every sentence read on its own; its key is its text's
  hash. Such indexes still open and search as they are.
Why: docs/decisions/0030-late-chunking-sentence-vectors.md
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass

import numpy as np

from indexer.errors import InputError
from indexer.write.changes import text_hash

SEPARATE, LATE = "separate", "late-chunking"
METHODS = (LATE, SEPARATE)
Span = tuple[int, int]


def method_of(chunker_settings: dict | None) -> str:
    """The method a version's settings record; one recorded none is from before the choice."""
    return (chunker_settings or {}).get("sentence_vectors", SEPARATE)


def sentence_key(method: str, passage_hash: str, text: str, start: int, end: int) -> str:
    """The key a sentence's vector is reused by: ``start``, ``end`` are its offsets in the
    passage whose text hashes to ``passage_hash``."""
    if method == SEPARATE:
        return text_hash(text)
    if method != LATE:
        raise InputError(f"unknown sentence-vector method {method!r}",
                         hint=f"choose one of: {', '.join(METHODS)}")
    return text_hash(f"{LATE}\0{passage_hash}\0{start}\0{end}")


@dataclass(frozen=True)
class Work:
    """What the model reads: ``texts``; for LATE each text's sentences (offsets into it) too.
    ``keys[i]``: the key of text i's vector, and those of its sentences' vectors."""

    method: str
    texts: list[str]
    spans: list[list[Span]]
    keys: list[tuple[str, list[str]]]


def embedding_work(content, found: Container[str], method: str) -> Work:
    """The texts to embed for every key of ``content`` (the pipeline's next version: chunks,
    chunk_hashes, sentences as (chunk id, start, end), sentence_texts, sentence_hashes) that is
    not in ``found``, each once."""
    work = Work(method, [], [], [])
    seen: set[str] = set()
    if method == SEPARATE:
        pairs = zip(content.chunk_hashes + content.sentence_hashes,
                    [c.text for c in content.chunks] + content.sentence_texts)
        for key, text in pairs:
            if key not in found and key not in seen:
                seen.add(key)
                work.texts.append(text)
                work.spans.append([])
                work.keys.append((key, []))
        return work
    own: dict[int, list[int]] = {}
    for i, (chunk_id, _, _) in enumerate(content.sentences):
        own.setdefault(chunk_id, []).append(i)
    for chunk_id, (chunk, key) in enumerate(zip(content.chunks, content.chunk_hashes)):
        sentences = own.get(chunk_id, [])
        keys = [content.sentence_hashes[i] for i in sentences]
        if key in seen or (key in found and all(k in found for k in keys)):
            continue
        seen.add(key)
        work.texts.append(chunk.text)
        work.spans.append([(content.sentences[i][1] - chunk.start, content.sentences[i][2] - chunk.start)
                           for i in sentences])
        work.keys.append((key, keys))
    return work


def make_vectors(embedder, work: Work, dim: int, progress: Callable[[int, int], None] | None,
                 batch_size: int | None = None) -> dict[str, np.ndarray]:
    """Every key's vector, from the model, ``batch_size`` texts at a time (None: the
    embedder's own batch size), progress after each batch."""
    if not work.texts:
        return {}
    if embedder is None:
        raise InputError("new texts need embedding, but no model was given")
    batch_size = batch_size or getattr(embedder, "batch_size", None) or 16
    # Longest first, so batches hold texts of similar length (less padding) and the progress
    # bar's estimate is pessimistic rather than optimistic.
    order = sorted(range(len(work.texts)), key=lambda i: -len(work.texts[i]))
    made: dict[str, np.ndarray] = {}
    for begin in range(0, len(order), batch_size):
        batch = order[begin:begin + batch_size]
        texts = [work.texts[i] for i in batch]
        if work.method == LATE:
            passages, sentences = embedder.embed_passages(texts, [work.spans[i] for i in batch])
        else:
            passages, sentences = embedder.embed_documents(texts), [np.empty((0, dim))] * len(batch)
        for i, vector, pooled in zip(batch, passages, sentences):
            key, keys = work.keys[i]
            made[key] = np.asarray(vector, np.float32)
            made.update(zip(keys, np.asarray(pooled, np.float32)))
        if progress:
            progress(min(begin + batch_size, len(order)), len(order))
    return made
