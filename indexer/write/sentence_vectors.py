"""How a version's passage and sentence vectors are made, and what the model must read for the
missing ones.

Three methods; one other than SEPARATE is recorded in the manifest with the chunker's settings
(a change of method re-splits and re-embeds, as a chunker change does):
- SEPARATE (the default): every passage and every sentence read on its own; a vector's key is
  its text's hash. The model reads the article's tokens about twice.
- FROM_SENTENCES: every sentence read on its own, and a passage's vector is the mean of its
  sentences' (weighted by their length): the model reads each token once. A passage's key is
  its text's hash with the method, since its vector is not the model's own.
- LATE (late chunking, indexer/embedders/late_chunking.py): the model reads passages only, and a
  sentence's vector is pooled from its passage's pass; its key is the passage's hash with the
  sentence's place in it.
The two cheaper methods lose answers on the eval sets (bench.indexing --methods), so they are
not the default; the bench keeps them measurable.
Why: docs/decisions/0030-sentences-embedded-separately.md
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from indexer.errors import InputError
from indexer.write.changes import text_hash

SEPARATE, FROM_SENTENCES, LATE = "separate", "passages-from-sentences", "late-chunking"
METHODS = (FROM_SENTENCES, SEPARATE, LATE)
DEFAULT = SEPARATE
Span = tuple[int, int]


def method_of(chunker_settings: dict | None) -> str:
    """The method a version's settings record; none recorded is SEPARATE."""
    return (chunker_settings or {}).get("sentence_vectors", SEPARATE)


def with_method(chunker_settings: dict, method: str) -> dict:
    """The settings a version records: SEPARATE adds nothing, so that the indexes made before
    the choice keep their settings and are not re-embedded."""
    return chunker_settings if check(method) == SEPARATE else {**chunker_settings,
                                                               "sentence_vectors": method}


def check(method: str) -> str:
    if method not in METHODS:
        raise InputError(f"unknown sentence-vector method {method!r}",
                         hint=f"choose one of: {', '.join(METHODS)}")
    return method


def passage_key(method: str, text: str) -> str:
    """The key a passage's vector is reused by."""
    return text_hash(f"{FROM_SENTENCES}\0{text}") if method == FROM_SENTENCES else text_hash(text)


def sentence_key(method: str, passage_hash: str, text: str, start: int, end: int) -> str:
    """The key a sentence's vector is reused by: ``start``, ``end`` are its offsets in the
    passage whose key is ``passage_hash``."""
    if check(method) == LATE:
        return text_hash(f"{LATE}\0{passage_hash}\0{start}\0{end}")
    return text_hash(text)


@dataclass(frozen=True)
class Work:
    """What the model reads: ``texts``; for LATE each text's sentences (offsets into it) too.
    ``keys[i]``: the key of text i's vector, and those of its sentences' vectors (LATE).
    ``means``: FROM_SENTENCES's passages, (key, its sentences' keys, their weights)."""

    method: str
    texts: list[str] = field(default_factory=list)
    spans: list[list[Span]] = field(default_factory=list)
    keys: list[tuple[str, list[str]]] = field(default_factory=list)
    means: list[tuple[str, list[str], list[float]]] = field(default_factory=list)

    def read(self, key: str, text: str, spans: list[Span] = (), keys: list[str] = ()) -> None:
        self.texts.append(text)
        self.spans.append(list(spans))
        self.keys.append((key, list(keys)))


def embedding_work(content, found: Mapping[str, object], method: str) -> Work:
    """The texts to embed for every key of ``content`` (the pipeline's next version: chunks,
    chunk_hashes, sentences as (chunk id, start, end), sentence_texts, sentence_hashes) that is
    not in ``found``, each once."""
    work = Work(check(method))
    seen: set[str] = set()
    own: dict[int, list[int]] = {}
    for i, (chunk_id, _, _) in enumerate(content.sentences):
        own.setdefault(chunk_id, []).append(i)
    if method == LATE:
        for chunk_id, (chunk, key) in enumerate(zip(content.chunks, content.chunk_hashes)):
            sentences = own.get(chunk_id, [])
            keys = [content.sentence_hashes[i] for i in sentences]
            if key in seen or (key in found and all(k in found for k in keys)):
                continue
            seen.add(key)
            work.read(key, chunk.text, [(content.sentences[i][1] - chunk.start,
                                         content.sentences[i][2] - chunk.start) for i in sentences], keys)
        return work
    for key, text in zip(content.sentence_hashes, content.sentence_texts):
        if key not in found and key not in seen:
            seen.add(key)
            work.read(key, text)
    for chunk_id, (chunk, key) in enumerate(zip(content.chunks, content.chunk_hashes)):
        if key in found or key in seen:
            continue
        seen.add(key)
        sentences = own.get(chunk_id, [])
        if method == SEPARATE or not sentences:
            work.read(key, chunk.text)
        else:
            work.means.append((key, [content.sentence_hashes[i] for i in sentences],
                               [float(len(content.sentence_texts[i])) for i in sentences]))
    return work


def make_vectors(embedder, work: Work, dim: int, progress: Callable[[int, int], None] | None,
                 batch_size: int | None = None,
                 found: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every key's vector: from the model, ``batch_size`` texts at a time (None: the
    embedder's own batch size), progress after each batch; then FROM_SENTENCES's passages from
    their sentences' vectors (made here, or in ``found``)."""
    made: dict[str, np.ndarray] = {}
    if work.texts:
        if embedder is None:
            raise InputError("new texts need embedding, but no model was given")
        made = _embedded(embedder, work, dim, progress,
                         batch_size or getattr(embedder, "batch_size", None) or 16)
    known = {**(found or {}), **made}
    for key, keys, weights in work.means:
        mean = np.average(np.stack([known[k] for k in keys]), axis=0, weights=weights)
        made[key] = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
    return made


def _embedded(embedder, work: Work, dim: int, progress, batch_size: int) -> dict[str, np.ndarray]:
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
