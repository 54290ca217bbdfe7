"""The write path's one orchestrator: articles in, a published index version out."""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.chunking import Chunk, Chunker
from indexer.documents import LoadResult, Problem, load_articles
from indexer.embedding import Embedder, ModelSpec
from indexer.errors import InputError, ModelMismatchError
from indexer.index_dir import FORMAT_VERSION, MANIFEST, STORE, VECTORS, IndexDirectory, Manifest
from indexer.store import ChunkStore
from indexer.vector_index import FlatIPIndex

Progress = Callable[[int, int], None]  # (chunks embedded so far, total chunks)


@dataclass(frozen=True)
class IndexReport:
    index_dir: Path
    articles: int
    chunks: int
    tokens: int
    seconds: float
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
    chunks = [chunk for doc in loaded.documents for chunk in chunker.split(doc)]
    vectors = _embed(embedder, chunks, progress, batch_size)
    with index_dir.new_version() as staging:
        _write_version(staging, loaded, chunks, vectors, embedder, chunker)
    return IndexReport(index_dir.root, len(loaded.documents), len(chunks),
                       sum(c.n_tokens for c in chunks), time.perf_counter() - started,
                       loaded.problems, loaded.ignored)


def _embed(embedder: Embedder, chunks: list[Chunk], progress: Progress | None,
           batch_size: int) -> np.ndarray:
    # Longest first, so batches hold texts of similar length (less padding) and the progress
    # bar's estimate is pessimistic rather than optimistic.
    order = sorted(range(len(chunks)), key=lambda i: -chunks[i].n_tokens)
    vectors = np.empty((len(chunks), embedder.dim), dtype=np.float32)
    for begin in range(0, len(order), batch_size):
        batch = order[begin:begin + batch_size]
        vectors[batch] = embedder.embed_documents([chunks[i].text for i in batch])
        if progress:
            progress(min(begin + batch_size, len(order)), len(order))
    return vectors


def _write_version(staging: Path, loaded: LoadResult, chunks: list[Chunk], vectors: np.ndarray,
                   embedder: Embedder, chunker: Chunker) -> None:
    ids = np.arange(len(chunks), dtype=np.int64)
    store = ChunkStore.create(staging / STORE)
    try:
        store.add_documents(loaded.documents)
        store.add_chunks(ids.tolist(), chunks)
        store.commit()
    finally:
        store.close()
    index = FlatIPIndex(embedder.dim)
    index.add(ids, vectors)
    index.save(staging / VECTORS)
    Manifest(
        format_version=FORMAT_VERSION, model=embedder.spec.as_dict(),
        dim=embedder.dim, chunker=chunker.settings(), vector_index=FlatIPIndex.kind,
        articles=len(loaded.documents), chunks=len(chunks), tokens=sum(c.n_tokens for c in chunks),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), vraagbaak_version=vraagbaak_version(),
    ).write(staging / MANIFEST)
