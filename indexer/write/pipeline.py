"""The write path's one orchestrator: articles in, a published index version out."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from indexer.embedders import backend_of, compatible
from indexer.embedders.base import Embedder
from indexer.errors import IndexFormatError, InputError, ModelMismatchError
from indexer.index.directory import IndexDirectory
from indexer.index.manifest import REBUILD_HINT, check_same_model
from indexer.index.store import StoredDocument
from indexer.index.stores import asked_store, next_store
from indexer.index.vectors import INDEX_TYPES
from indexer.index.version import IndexVersion
from indexer.write.changes import plan_changes
from indexer.write.chunking import Chunker
from indexer.write.background import after_write, mode
from indexer.write.content import fill_vectors, split
from indexer.write.embedding import DocumentEmbedding
from indexer.write.loading import LoadResult, Problem, load_articles
from indexer.write.publishing import Change, vraagbaak_version, write_version
from indexer.write.store_writes import check_store, delete_dead

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
                 vectors: str | None = None,
                 embedding: DocumentEmbedding | None = None,
                 merges: str = "inline") -> IndexReport:
    """The one write path: add or update the loaded articles, remove the others asked for, and
    publish the result as a new version of ``index_dir`` (or nothing, when nothing changed).

    A change costs the change: new and changed articles go into one new segment, the old rows
    of changed and removed articles become tombstones, the keyword index gets the same deletes
    and additions, and the published version's other segments are shared (hard links). A
    passage or sentence whose text this model embedded before keeps its vector. ``embedder``
    and ``chunker`` may be None for a run that only removes. The previous version stays
    readable until the new one is complete. ``index_type`` (auto, flat, ivf) is kept in the
    manifest; None keeps the index's own; a new one merges every segment into one of that kind
    (ids kept, nothing embedded); new chunker settings split every article anew (new ids).
    ``embedding`` is who embeds the new texts (embedding.py): None, this process; a Ray cluster
    gets them with their stable ids, and its vectors come back here in batches.
    ``merges``: where the merges this write makes due run once it is published, off the write
    lock: "inline" (here, before returning), "background" (a niced child process: what the CLI
    and the server ask for) or "off" (indexer/write/background.py).
    """
    started = time.perf_counter()
    loaded = loaded or LoadResult()
    asked = asked_store(vectors)
    mode(merges)  # an unknown mode is refused before anything is written
    with index_dir.writer() as writer:
        previous = _Previous(writer.previous)
        try:
            spec = _check_model(previous, embedder, index_dir.root)
            settings = chunker.settings() if chunker else previous.manifest.chunker
            index_type = _index_type(previous, index_type)
            before = previous.manifest.vector_store if previous.manifest else None
            store = next_store(asked, before, index_dir.root)
            new_type = (previous.manifest is not None
                        and previous.manifest.vector_indexes.get("setting") != index_type)
            same_chunker = previous.manifest is None or previous.manifest.chunker == settings
            rebuild = previous.manifest is None or not same_chunker
            change = _plan(previous, loaded, remove, prune_under, rebuild)
            change.merge_all = new_type and not rebuild
            plan = change.plan
            report = partial(IndexReport, index_dir.root, added=len(plan.added),
                             updated=len(plan.updated), unchanged=len(plan.unchanged),
                             removed=len(plan.removed), kept=change.kept, unknown=plan.unknown,
                             problems=loaded.problems, ignored=loaded.ignored)
            # A version written before the article index (decision 0033) is written again, its
            # segments shared, so that re-running `index` is how an old index gets it.
            if (not rebuild and not new_type and not plan.changes_anything
                    and previous.manifest.article_index):
                writer.discard()
                m = previous.manifest
                return report(m.articles, m.chunks, m.tokens, time.perf_counter() - started,
                              sentences=m.sentences, published=False,
                              vector_indexes=m.vector_indexes)
            next_ids = previous.manifest.next_ids if previous.manifest else None
            dim = previous.manifest.dim if previous.manifest else embedder.dim
            check_store(store, dim, spec["fingerprint"])
            with _session(embedding, change.new):
                pieces = _split_elsewhere(embedding, change.new, chunker, embedder)
                rows, sentence_texts, next_ids = split(change.new, chunker,
                                                       next_ids or _FIRST_IDS, pieces)
                embedded, reused = fill_vectors(rows, sentence_texts, previous.opened, embedder,
                                                index_dir.root, spec["fingerprint"], dim,
                                                progress, batch_size, embedding, store)
            backends = _document_backends(previous, embedder, embedding, embedded, index_dir.root)
            manifest = write_version(writer, previous.opened, change, rows, {
                "model": spec, "backends": backends, "dim": dim, "chunker": settings,
                "index_type": index_type, "next_ids": next_ids, "rebuild": rebuild,
                "vector_store": store})
        finally:
            previous.close()
    delete_dead(before)  # published: the ids the version now before CURRENT made dead
    after_write(index_dir, manifest, merges)
    return report(manifest.articles, manifest.chunks, manifest.tokens,
                  time.perf_counter() - started, sentences=manifest.sentences,
                  embedded=embedded, reused=reused, vector_indexes=manifest.vector_indexes)


_FIRST_IDS = {"articles": 0, "chunks": 0, "sentences": 0}


def _session(embedding: DocumentEmbedding | None, documents) -> AbstractContextManager:
    """One session of an executor that has them (Ray: one private Ray for splitting and
    embedding), while there are articles to split."""
    opened = getattr(embedding, "session", None)
    return opened() if opened is not None and documents else nullcontext()


def _split_elsewhere(embedding: DocumentEmbedding | None, documents, chunker: Chunker | None,
                     embedder: Embedder | None):
    """The documents' pieces from an executor that splits on its workers (Ray), else None:
    content.split splits them here."""
    split_all = getattr(embedding, "split_all", None)
    if split_all is None or not documents or chunker is None:
        return None
    return split_all(documents, chunker, embedder)


def _plan(previous: _Previous, loaded: LoadResult, remove: Sequence[str],
          prune_under: Sequence[Path], rebuild: bool) -> Change:
    """What the run changes, asking the previous version only about the articles it names
    (and, with --prune, those under the pruned folders), unless everything is rebuilt."""
    if rebuild:
        before = previous.store.documents() if previous.store else []
        plan = plan_changes(before, loaded.documents, remove, prune_under, loaded.problems, False)
        return Change(plan, {}, plan.documents, plan.kept, rebuild=True)
    asked = [d.doc_id for d in loaded.documents] + list(remove)
    located = previous.store.find(asked)
    if prune_under:
        roots = [str(Path(r).resolve()) for r in prune_under]
        under = {d.document.doc_id: d for d in previous.store.under(roots)}
        located.update(previous.store.find([i for i in under if i not in located]))
    plan = plan_changes([doc for _, doc, _ in located.values()], loaded.documents, remove,
                        prune_under, loaded.problems, True)
    by_id = {d.document.doc_id: d for d in plan.documents}
    moved = [i for i in plan.unchanged if by_id[i].source_file != located[i][1].source_file]
    renewed = set(plan.updated) | set(moved)
    new = [by_id[i] for i in plan.added] + [by_id[i] for i in plan.updated + moved]
    gone = {i: located[i] for i in [*plan.removed, *renewed]}
    kept = previous.manifest.articles - len(located) + (len(located) - len(plan.removed)
                                                        - len(plan.updated) - len(plan.unchanged))
    return Change(plan, gone, new, kept)


def corpus_language(documents: Sequence[StoredDocument]) -> str:
    """The language most articles are in ('nl' when it cannot be told: vraagbaak's default)."""
    votes = Counter(doc.language for doc in documents)
    votes.pop(None, None)
    return votes.most_common(1)[0][0] if votes else "nl"


class _Previous:
    """The published version a run builds on (everything empty when there is none)."""

    def __init__(self, version: Path | None) -> None:
        self.manifest = self.store = self.opened = None
        if version is None:
            return
        try:
            # Neither vectors nor keywords: a change reads only the rows it touches.
            self.opened = IndexVersion.open(version, vectors=False, keywords=False)
            self.manifest, self.store = self.opened.manifest, self.opened.store
        except (OSError, RuntimeError, sqlite3.Error, IndexFormatError) as exc:
            self.close()
            raise IndexFormatError(f"the index version {version} is damaged and cannot be built "
                                   f"on: {str(exc).splitlines()[0]}", hint=REBUILD_HINT) from exc

    def close(self) -> None:
        if self.opened:
            self.opened.close()


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


def _made_by(embedding, embedder: Embedder) -> str:
    """The backend that made this run's vectors: the executor's where it ran another one (Ray's
    GPU actors), else the embedder's."""
    made_by = getattr(embedding, "made_by", None)
    return made_by(embedder) if made_by else backend_of(embedder)


def _document_backends(previous: _Previous, embedder: Embedder | None,
                       embedding: DocumentEmbedding | None, embedded: int, root: Path) -> list[str]:
    """The backends whose vectors the new version holds; refuses to mix incompatible ones."""
    before = list(previous.manifest.document_backends) if previous.manifest else []
    if not embedded:
        return before
    made = _made_by(embedding, embedder)
    backends = sorted(set(before) | {made})
    if not compatible(embedder.spec, backends):
        raise ModelMismatchError(f"the index at {root} holds vectors made by {', '.join(before)}; "
                                 f"{made} makes vectors that cannot be mixed with them",
                                 hint="use the same backend, or build a separate index")
    return backends
