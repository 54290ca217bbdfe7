"""The write path's one orchestrator: articles in, a published index version out."""

from __future__ import annotations

import importlib.metadata
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.chunking import Chunk, Chunker, sentence_spans
from indexer.documents import Document, LoadResult, Problem, load_articles
from indexer.embedding import Embedder, ModelSpec
from indexer.errors import InputError, ModelMismatchError
from indexer.index_dir import (FORMAT_VERSION, KEYWORDS, MANIFEST, SENTENCE_VECTORS, STORE, VECTORS,
                               IndexDirectory, Manifest)
from indexer.keyword_index import KeywordIndex
from indexer.store import ChunkStore
from indexer.text_analysis import Analyzer, detect_language
from indexer.vector_index import FlatIPIndex

Progress = Callable[[int, int], None]  # (chunks embedded so far, total chunks)


@dataclass(frozen=True)
class IndexReport:
    index_dir: Path
    articles: int
    chunks: int
    tokens: int
    seconds: float
    sentences: int = 0
    problems: list[Problem] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)


def vraagbaak_version() -> str:
    try:
        return importlib.metadata.version("vraagbaak")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def check_same_model(manifest: Manifest, spec: ModelSpec, index_root: Path) -> None:
    """Refuse to put embeddings of two models in one index, or to compare them at search time."""
    model = manifest.model
    if model.get("fingerprint") != spec.fingerprint:
        raise ModelMismatchError(
            f"the index at {index_root} was built with the model {model.get('model_id')!r} "
            f"(fingerprint {model.get('fingerprint')}), not with {spec.model_id!r} "
            f"(fingerprint {spec.fingerprint}); embeddings of different models cannot be mixed",
            hint="use the index's own model, or build a separate index with --index")


def load_for_index(paths: Sequence[Path]) -> LoadResult:
    """Load the articles; raise if not one of them can be indexed (before any model is loaded)."""
    loaded = load_articles(paths)
    if not loaded.documents:
        raise InputError("nothing to index: no readable article was found",
                         hint="; ".join(str(p) for p in loaded.problems[:5]) or None)
    return loaded


def build_index(loaded: LoadResult, index_dir: IndexDirectory, embedder: Embedder,
                chunker: Chunker, progress: Progress | None = None,
                batch_size: int = 64) -> IndexReport:
    """Index the loaded articles into a new version of ``index_dir`` and publish it.

    The previous version stays in place until the new one is complete. The report carries the
    problems met while loading, so callers can show them next to what was indexed.
    """
    started = time.perf_counter()
    existing = index_dir.manifest_if_any()
    if existing:
        check_same_model(existing, embedder.spec, index_dir.root)
    texts = {doc.doc_id: doc.text for doc in loaded.documents}
    chunks = [chunk for doc in loaded.documents for chunk in chunker.split(doc)]
    sentences = _sentences(chunks, texts)
    chunk_vectors, sentence_vectors = _embed(embedder, chunks, sentences, texts, progress, batch_size)
    language = corpus_language(loaded.documents)
    with index_dir.new_version() as staging:
        _write_version(staging, loaded, chunks, sentences, chunk_vectors, sentence_vectors,
                       embedder, chunker, language)
    return IndexReport(index_dir.root, len(loaded.documents), len(chunks),
                       sum(c.n_tokens for c in chunks), time.perf_counter() - started,
                       sentences=len(sentences), problems=loaded.problems, ignored=loaded.ignored)


def corpus_language(documents: Sequence[Document]) -> str:
    """The language most articles are in ('nl' when it cannot be told: vraagbaak's default)."""
    votes = Counter(detect_language(doc.text[:2000]) for doc in documents)
    votes.pop(None, None)
    return votes.most_common(1)[0][0] if votes else "nl"


def _sentences(chunks: list[Chunk], texts: dict[str, str]) -> list[tuple[int, int, int]]:
    """(chunk id, start, end) of every sentence; the sentence id is the position in this list."""
    return [(chunk_id, s, e) for chunk_id, c in enumerate(chunks)
            for s, e in sentence_spans(texts[c.doc_id], c.start, c.end)]


def _embed(embedder: Embedder, chunks: list[Chunk], sentences: list[tuple[int, int, int]],
           texts: dict[str, str], progress: Progress | None,
           batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of every passage and every sentence. A sentence that is its whole passage reuses
    the passage's vector instead of being embedded twice."""
    own = [i for i, (chunk_id, s, e) in enumerate(sentences)
           if (s, e) != (chunks[chunk_id].start, chunks[chunk_id].end)]
    jobs = [c.text for c in chunks] + [texts[chunks[sentences[i][0]].doc_id][sentences[i][1]:sentences[i][2]]
                                       for i in own]
    # Longest first, so batches hold texts of similar length (less padding) and the progress
    # bar's estimate is pessimistic rather than optimistic.
    order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i]))
    vectors = np.empty((len(jobs), embedder.dim), dtype=np.float32)
    for begin in range(0, len(order), batch_size):
        batch = order[begin:begin + batch_size]
        vectors[batch] = embedder.embed_documents([jobs[i] for i in batch])
        if progress:
            progress(min(begin + batch_size, len(order)), len(order))
    chunk_vectors = vectors[:len(chunks)]
    sentence_vectors = chunk_vectors[[chunk_id for chunk_id, _, _ in sentences]].copy() \
        if sentences else np.empty((0, embedder.dim), np.float32)
    sentence_vectors[own] = vectors[len(chunks):]
    return chunk_vectors, sentence_vectors


def _write_version(staging: Path, loaded: LoadResult, chunks: list[Chunk],
                   sentences: list[tuple[int, int, int]], chunk_vectors: np.ndarray,
                   sentence_vectors: np.ndarray, embedder: Embedder, chunker: Chunker,
                   language: str) -> None:
    ids = np.arange(len(chunks), dtype=np.int64)
    store = ChunkStore.create(staging / STORE)
    try:
        store.add_documents(loaded.documents)
        store.add_chunks(ids.tolist(), chunks)
        store.add_sentences([(i, c, s, e) for i, (c, s, e) in enumerate(sentences)])
        store.commit()
    finally:
        store.close()
    for name, vectors in ((VECTORS, chunk_vectors), (SENTENCE_VECTORS, sentence_vectors)):
        index = FlatIPIndex(embedder.dim)
        index.add(np.arange(len(vectors), dtype=np.int64), vectors)
        index.save(staging / name)
    keywords = KeywordIndex.build([c.text for c in chunks], Analyzer(language))
    keywords.save(staging / KEYWORDS)
    Manifest(
        format_version=FORMAT_VERSION, model=embedder.spec.as_dict(),
        dim=embedder.dim, chunker=chunker.settings(), vector_index=FlatIPIndex.kind,
        keyword_index={"kind": KeywordIndex.kind, **keywords.analyzer.settings()},
        language=language, articles=len(loaded.documents), chunks=len(chunks),
        sentences=len(sentences), tokens=sum(c.n_tokens for c in chunks),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), vraagbaak_version=vraagbaak_version(),
    ).write(staging / MANIFEST)
