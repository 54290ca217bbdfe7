"""The write path's one orchestrator: articles in, a published index version out."""

from __future__ import annotations

import importlib.metadata
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from indexer.embedders import backend_of, compatible
from indexer.embedders.base import Embedder
from indexer.errors import IndexFormatError, InputError, ModelMismatchError
from indexer.index.directory import IndexDirectory
from indexer.index.keywords import build_keyword_index
from indexer.index.manifest import (
    FORMAT_VERSION,
    KEYWORDS,
    MANIFEST,
    REBUILD_HINT,
    SENTENCE_VECTORS,
    STORE,
    VECTORS,
    Manifest,
    check_same_model,
)
from indexer.index.store import ChunkStore, StoredDocument
from indexer.index.vectors import INDEX_TYPES, build_vector_index
from indexer.index.vectors.base import VectorIndex
from indexer.index.version import IndexVersion
from indexer.records import Chunk
from indexer.write.changes import Plan, plan_changes
from indexer.write.chunking import Chunker, sentence_spans
from indexer.write.loading import LoadResult, Problem, load_articles
from indexer.write.sentence_vectors import (
    DEFAULT,
    embedding_work,
    make_vectors,
    method_of,
    passage_key,
    sentence_key,
    with_method,
)
from indexer.write.vector_cache import VectorCache

Progress = Callable[[int, int], None]  # (chunks embedded so far, total chunks)


@dataclass(frozen=True)
class IndexReport:
    index_dir: Path
    articles: int  # in the index now
    chunks: int
    tokens: int
    seconds: float
    sentences: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    kept: int = 0  # articles already in the index that this run did not touch
    embedded: int = 0  # texts (passages and sentences) that went through the model
    reused: int = 0  # texts whose vector came from the previous version
    published: bool = True  # False when nothing changed, so no new version was written
    vector_indexes: dict = field(default_factory=dict)  # the manifest's: setting, kinds, params
    unknown: list[str] = field(default_factory=list)  # ids to remove that the index lacks
    problems: list[Problem] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)


def vraagbaak_version() -> str:
    try:
        return importlib.metadata.version("vraagbaak")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def load_for_index(paths: Sequence[Path]) -> LoadResult:
    """Load the articles; raise if not one of them can be indexed (before any model is loaded)."""
    loaded = load_articles(paths)
    if not loaded.documents:
        raise InputError("nothing to index: no readable article was found",
                         hint="; ".join(str(p) for p in loaded.problems[:5]) or None)
    return loaded


def update_index(index_dir: IndexDirectory, embedder: Embedder | None, chunker: Chunker | None,
                 loaded: LoadResult | None = None, remove: Sequence[str] = (),
                 prune_under: Sequence[Path] = (), progress: Progress | None = None,
                 batch_size: int | None = None, index_type: str | None = None,
                 sentence_vectors: str = DEFAULT) -> IndexReport:
    """The one write path: add or update the loaded articles, remove the others asked for, and
    publish the result as a new version of ``index_dir`` (or nothing, when nothing changed).

    Articles whose text and metadata are unchanged keep their passages and vectors; a passage or
    sentence whose text the previous version already embedded keeps its vector, so no text is
    embedded twice by one model. ``embedder`` and ``chunker`` may be None for a run that only
    removes. The previous version stays readable until the new one is complete.
    ``index_type`` (auto, flat, ivf) is kept in the manifest; None keeps the index's own.
    ``batch_size``: texts per call of the model; None: the embedder's own (16 if it has none).
    ``sentence_vectors``: how passage and sentence vectors are made (sentence_vectors.py),
    recorded with the chunker's settings, so that a change re-embeds as a chunker change does.
    """
    started = time.perf_counter()
    loaded = loaded or LoadResult()
    with index_dir.writer() as writer:
        previous = _Previous(writer.previous)
        try:
            spec = _check_model(previous, embedder, index_dir.root)
            settings = (with_method(chunker.settings(), sentence_vectors) if chunker
                        else previous.manifest.chunker)
            method = method_of(settings)
            index_type = _index_type(previous, index_type)
            new_type = (previous.manifest is not None
                        and previous.manifest.vector_indexes.get("setting") != index_type)
            same_chunker = previous.manifest is None or previous.manifest.chunker == settings
            plan = plan_changes(previous.documents, loaded.documents, remove, prune_under,
                                loaded.problems, same_chunker)
            report = partial(IndexReport, index_dir.root, added=len(plan.added),
                             updated=len(plan.updated), unchanged=len(plan.unchanged),
                             removed=len(plan.removed), kept=plan.kept, unknown=plan.unknown,
                             problems=loaded.problems, ignored=loaded.ignored)
            if (previous.manifest is not None and same_chunker and not new_type
                    and not plan.changes_anything):
                writer.discard()
                m = previous.manifest
                return report(m.articles, m.chunks, m.tokens, time.perf_counter() - started,
                              sentences=m.sentences, published=False,
                              vector_indexes=m.vector_indexes)
            content = _chunk(plan, previous, chunker, method)
            vectors, embedded, reused = _vectors(content, previous, embedder, index_dir.root,
                                                 spec["fingerprint"], progress, batch_size, method)
            language = corpus_language(plan.documents)
            backends = _document_backends(previous, embedder, embedded, index_dir.root)
            described = _write_version(writer.staging, content, vectors, spec, backends,
                                       {"chunker": settings, "language": language,
                                        "index_type": index_type},
                                       (previous.passages, previous.sentences))
        finally:
            previous.close()
    return report(len(plan.documents), len(content.chunks), sum(c.n_tokens for c in content.chunks),
                  time.perf_counter() - started, sentences=len(content.sentences),
                  embedded=embedded, reused=reused, vector_indexes=described)


def corpus_language(documents: Sequence[StoredDocument]) -> str:
    """The language most articles are in ('nl' when it cannot be told: vraagbaak's default)."""
    votes = Counter(doc.language for doc in documents)
    votes.pop(None, None)
    return votes.most_common(1)[0][0] if votes else "nl"


class _Previous:
    """The published version a run builds on (everything empty when there is none)."""

    def __init__(self, version: Path | None) -> None:
        self.manifest = self.store = self.passages = self.sentences = None
        self.documents = []
        self._opened = None
        if version is None:
            return
        try:
            self._opened = IndexVersion.open(version, keywords=False)
            self.manifest, self.store = self._opened.manifest, self._opened.store
            self.passages, self.sentences = self._opened.passages, self._opened.sentences
            self.documents = self.store.documents()
        except (OSError, RuntimeError, sqlite3.Error, IndexFormatError) as exc:
            self.close()
            raise IndexFormatError(f"the index version {version} is damaged and cannot be built "
                                   f"on: {str(exc).splitlines()[0]}", hint=REBUILD_HINT) from exc

    def close(self) -> None:
        if self._opened:
            self._opened.close()


def _index_type(previous: _Previous, asked: str | None) -> str:
    if asked is None:
        return previous.manifest.vector_indexes.get("setting", "auto") if previous.manifest else "auto"
    if asked not in INDEX_TYPES:
        raise InputError(f"unknown vector index type {asked!r}",
                         hint=f"choose one of: {', '.join(INDEX_TYPES)}")
    return asked


def _check_model(previous: _Previous, embedder: Embedder | None, root: Path) -> dict:
    """The model the new version records: the embedder's, which must be the index's own."""
    if embedder is not None:
        if previous.manifest:
            check_same_model(previous.manifest, embedder.spec, root)
        return embedder.spec.as_dict()
    if previous.manifest is None:
        raise InputError(f"there is no index at {root} to change")
    return previous.manifest.model


@dataclass
class _Content:
    """The next version's rows: articles, passages and sentences, ids by position."""

    documents: list[StoredDocument]
    chunks: list[Chunk] = field(default_factory=list)
    sentences: list[tuple[int, int, int]] = field(default_factory=list)  # (chunk id, start, end)
    chunk_hashes: list[str] = field(default_factory=list)
    sentence_texts: list[str] = field(default_factory=list)
    sentence_hashes: list[str] = field(default_factory=list)


def _chunk(plan: Plan, previous: _Previous, chunker: Chunker | None, method: str) -> _Content:
    """Passages and sentences of every article: copied for untouched articles, split anew for the
    rest (all of them when the chunker's settings changed)."""
    content = _Content(plan.documents)
    old_chunks = previous.store.chunks_by_document() if previous.store and plan.reuse_chunks else {}
    old_sentences = _sentences_by_chunk(previous) if old_chunks else {}
    for doc in plan.documents:
        text = doc.document.text
        if doc.document.doc_id in plan.reuse_chunks:
            pieces = [(c, old_sentences.get(old_id, [])) for old_id, c in old_chunks[doc.document.doc_id]]
        else:
            if chunker is None:
                raise InputError("articles need splitting, but no chunker was given")
            pieces = [(c, sentence_spans(text, c.start, c.end)) for c in chunker.split(doc.document)]
        for chunk, spans in pieces:
            chunk_id = len(content.chunks)
            content.chunks.append(chunk)
            content.chunk_hashes.append(passage_key(method, chunk.text))
            for s, e in spans:
                content.sentences.append((chunk_id, s, e))
                content.sentence_texts.append(text[s:e])
                content.sentence_hashes.append(sentence_key(method, content.chunk_hashes[-1],
                                                            content.sentence_texts[-1],
                                                            s - chunk.start, e - chunk.start))
    return content


def _sentences_by_chunk(previous: _Previous) -> dict[int, list[tuple[int, int]]]:
    found: dict[int, list[tuple[int, int]]] = {}
    for _, chunk_id, start, end, _ in previous.store.sentence_rows():
        found.setdefault(chunk_id, []).append((start, end))
    return found


def _vectors(content: _Content, previous: _Previous, embedder: Embedder | None, cache_at: Path,
             fingerprint: str, progress: Progress | None, batch_size: int | None,
             method: str) -> tuple[tuple[np.ndarray, np.ndarray], int, int]:
    """Passage and sentence vectors: from the previous version where it holds the same key (a
    text's hash; a late-chunked sentence's includes its passage), else from the vector cache
    (vectors this model made for earlier versions), else from the model, each key made once."""
    hashes = content.chunk_hashes + content.sentence_hashes
    old_chunk, old_sentence = previous.store.text_hashes() if previous.store else ({}, {})
    dim = previous.manifest.dim if previous.manifest else embedder.dim
    found: dict[str, np.ndarray] = {}
    for index, known in ((previous.passages, old_chunk), (previous.sentences, old_sentence)):
        wanted = [h for h in dict.fromkeys(hashes) if h not in found and h in known]
        if wanted:
            found.update(zip(wanted, index.vectors(np.array([known[h] for h in wanted], np.int64))))
    missing = [h for h in dict.fromkeys(hashes) if h not in found]
    made: dict[str, np.ndarray] = {}
    embedded = 0
    if missing:
        cache = VectorCache.open(cache_at, fingerprint, dim)
        try:
            found.update(cache.get(missing))
            work = embedding_work(content, found, method)
            made = make_vectors(embedder, work, dim, progress, batch_size, found)
            embedded = len(work.texts)
            cache.put(made.items())
            found.update(made)
        finally:
            cache.close()
    matrix = np.stack([found[h] for h in hashes]) if hashes else np.empty((0, dim), np.float32)
    n = len(content.chunks)
    return (matrix[:n], matrix[n:]), embedded, len(set(hashes)) - len(made)


def _document_backends(previous: _Previous, embedder: Embedder | None, embedded: int,
                       root: Path) -> list[str]:
    """The backends whose vectors the new version holds; refuses to mix incompatible ones."""
    before = list(previous.manifest.document_backends) if previous.manifest else []
    if not embedded:
        return before
    backends = sorted(set(before) | {backend_of(embedder)})
    if not compatible(embedder.spec, backends):
        raise ModelMismatchError(f"the index at {root} holds vectors made by {', '.join(before)}; "
                                 f"{backend_of(embedder)} makes vectors that cannot be mixed with them",
                                 hint="use the same backend, or build a separate index")
    return backends


def _write_version(staging: Path, content: _Content, vectors: tuple[np.ndarray, np.ndarray],
                   model: dict, backends: list[str], settings: dict,
                   previous: tuple[VectorIndex | None, VectorIndex | None]) -> dict:
    """``settings``: the chunker's settings, the corpus language and the index-type setting;
    ``previous``: the last version's vector indexes, whose IVF lists a new build may keep."""
    chunk_vectors, sentence_vectors = vectors
    dim = chunk_vectors.shape[1]
    store = ChunkStore.create(staging / STORE)
    try:
        store.add_documents(content.documents)
        store.add_chunks(range(len(content.chunks)), content.chunks, content.chunk_hashes)
        store.add_sentences([(i, c, s, e, h) for i, ((c, s, e), h)
                             in enumerate(zip(content.sentences, content.sentence_hashes))])
        store.commit()
    finally:
        store.close()
    described = {"setting": settings["index_type"]}
    for name, part, matrix, before in ((VECTORS, "passages", chunk_vectors, previous[0]),
                                       (SENTENCE_VECTORS, "sentences", sentence_vectors, previous[1])):
        index = build_vector_index(matrix, settings["index_type"], before)
        index.save(staging / name)
        described[part] = index.describe()
    keywords = build_keyword_index([c.text for c in content.chunks], settings["language"])
    keywords.save(staging / KEYWORDS)
    Manifest(
        format_version=FORMAT_VERSION, model=model, document_backends=backends, dim=dim,
        chunker=settings["chunker"], vector_index=described["passages"]["kind"],
        vector_indexes=described,
        keyword_index={"kind": keywords.kind, **keywords.analyzer.settings()},
        language=settings["language"], articles=len(content.documents),
        chunks=len(content.chunks), sentences=len(content.sentences),
        tokens=sum(c.n_tokens for c in content.chunks),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), vraagbaak_version=vraagbaak_version(),
    ).write(staging / MANIFEST)
    return described
