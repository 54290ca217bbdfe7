"""Keyword retrieval with tantivy: BM25 with global statistics over segments, deletes, merges.

tantivy (a Lucene-like engine in Rust) keeps its own immutable segment files plus delete files,
and scores with BM25 over the statistics of all its segments, so an index that grows one article
at a time scores like one built at once. Our analyzer (folding, stop words, Snowball stemming in
the corpus language) makes the terms; tantivy gets them pre-analysed (joined by spaces under its
``whitespace`` tokenizer), so a question word and a passage word meet in exactly the form bm25s
used, and ``terms`` and highlighting stay the analyzer's.

A version's keyword folder is a tantivy index that is never written again once published. The
next version starts as hard links to its files (tantivy never rewrites a file: new segments,
delete files and meta.json are new files, meta.json is replaced by rename), so an update costs
the change, and readers of the older version keep their files. Each document carries its stable
id (a passage id, or an article id for an index of articles): one engine serves either unit.

tantivy takes a lock file (``.tantivy-meta.lock``) in an index's folder to open it, even only to
search, and tantivy-py has no read-only open. A folder it cannot write (a replica's read-only
mount of the shared volume) is therefore opened through a private temporary folder of symlinks
to its files, where the lock lands; the files are never written again once published, so
nothing is lost by not locking them. Why: docs/decisions/0051-keywords-from-a-read-only-folder.md
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexer.errors import IndexFormatError
from indexer.index.keywords.analysis import Analyzer
from indexer.index.keywords.bm25 import SETTINGS_FILE, KeywordHits, read_settings
from indexer.index.manifest import REBUILD_HINT

_HEAP = 32_000_000  # the writer's arena: bounds a write's memory whatever the index's size
_TEXT, _ID = "terms", "id"
_LOCKS = ".tantivy-"  # tantivy's lock files: per folder, never linked or copied


def _schema():
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field(_TEXT, stored=False, tokenizer_name="whitespace", index_option="freq")
    builder.add_integer_field(_ID, stored=False, indexed=True, fast=True)  # i64: Python ints
    return builder.build()


# Why: docs/decisions/0040-keyword-engine-tantivy.md
class TantivyIndex:
    kind = "tantivy"

    def __init__(self, analyzer: Analyzer, pending: tuple[Sequence[int], Sequence[str]] | None = None,
                 index=None, size: int = 0) -> None:
        self.analyzer = analyzer
        self._pending = pending  # built, not yet saved: (ids, texts)
        self._index = index
        self._searcher = index.searcher() if index is not None else None
        self._size = size
        self._cleanup = None  # removes a read-only folder's temporary view, once

    @classmethod
    def build(cls, texts: Sequence[str], analyzer: Analyzer,
              ids: Sequence[int] | None = None) -> TantivyIndex:
        ids = list(range(len(texts))) if ids is None else [int(i) for i in ids]
        return cls(analyzer, (ids, list(texts)), size=len(texts))

    def save(self, folder: Path) -> None:
        """Write the built index into ``folder`` (a new folder)."""
        if self._pending is None:
            raise ValueError("only a built index is saved; a loaded one is updated")
        ids, texts = self._pending
        self._index, self._size = update(None, folder, self.analyzer, (), ids, texts)
        self._searcher, self._pending = self._index.searcher(), None

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> TantivyIndex:
        analyzer, size = read_settings(folder)
        try:
            # tantivy reads a segment's files when a searcher is made: make it here, so that a
            # damaged file fails on opening, by name
            return cls(analyzer, index=_open(folder), size=size)
        except _Locked:  # the folder is read-only: open a view of it that is not
            view = _view(folder)
            try:
                loaded = cls(analyzer, index=_open(view), size=size)
            except BaseException:
                shutil.rmtree(view, ignore_errors=True)
                raise
            # also when the index is dropped unclosed, or at exit
            loaded._cleanup = weakref.finalize(loaded, shutil.rmtree, str(view), True)
            return loaded

    def close(self) -> None:
        """Drop the index; a read-only folder's temporary view goes with it."""
        self._index = self._searcher = None
        if self._cleanup is not None:
            self._cleanup()

    def __len__(self) -> int:
        return self._size

    def _ensure(self) -> None:
        if self._searcher is None:  # built in memory and asked before it was saved
            import tantivy

            ids, texts = self._pending
            index = tantivy.Index(_schema())
            _add(index, self.analyzer, (), ids, texts)
            index.reload()  # the reader follows a commit asynchronously: a loaded machine saw none
            self._index, self._searcher = index, index.searcher()

    def terms(self, question: str) -> tuple[str, ...]:
        """The question's index terms that occur in the index, once each, in order."""
        self._ensure()
        return tuple(t for t in dict.fromkeys(self.analyzer.terms(question))
                     if self._searcher.doc_freq(_TEXT, t) > 0)

    def search(self, question: str, k: int, allowed: np.ndarray | None = None) -> KeywordHits:
        """Best ``k`` passages; ``allowed`` is a 0/1 mask over ids. A mask is applied to tantivy's
        ranking, fetching deeper until ``k`` allowed ones are found or the matches run out."""
        import tantivy

        terms = self.terms(question)
        empty = KeywordHits(np.empty(0, np.int64), np.empty(0, np.float32), terms)
        if not terms or not self._size or k <= 0:
            return empty
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self._index.schema, _TEXT, t))
             for t in terms])
        limit = k
        if allowed is not None:  # deep enough that k allowed ones are likely found at once
            share = max(float(np.count_nonzero(allowed)) / max(self._size, 1), 1e-4)
            limit = int(min(k / share * 1.5 + k, 1_000_000))
        while True:
            found = self._searcher.search(query, limit, count=True)
            hits = found.hits
            ids = np.asarray(self._searcher.fast_field_values(_ID, [a for _, a in hits]), np.int64)
            scores = np.asarray([s for s, _ in hits], np.float32)
            if allowed is not None:
                inside = ids < len(allowed)
                keep = inside.copy()
                keep[inside] = allowed[ids[inside]] > 0
                ids, scores = ids[keep], scores[keep]
            if len(ids) >= k or len(hits) >= found.count or allowed is None:
                break
            limit = min(found.count, limit * 8)
        order = np.argsort(-scores, kind="stable")[:k]  # ties: tantivy's order, stable
        return KeywordHits(ids[order], scores[order], terms)


class _Locked(Exception):
    """tantivy could not take its lock file in the folder (it cannot be written)."""


def _open(folder: Path):
    import tantivy

    try:
        return tantivy.Index.open(str(folder))
    except (OSError, ValueError, RuntimeError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
        if "Lockfile" in reason:  # tantivy locks its meta file to read it, even to search
            raise _Locked(reason) from exc
        raise IndexFormatError(f"the keyword index in {folder} cannot be read ({reason})",
                               hint=REBUILD_HINT) from exc


def _view(folder: Path) -> Path:
    """A new temporary folder of symlinks to ``folder``'s files (not its locks): tantivy
    reads the files through them and takes its lock there."""
    try:
        view = Path(tempfile.mkdtemp(prefix="vraagbaak-keywords-"))
    except OSError as exc:
        raise IndexFormatError(
            f"the keyword index in {folder} is in a folder this process cannot write, and no "
            f"temporary folder could be made for tantivy's lock file ({exc.strerror or exc})",
            hint="set TMPDIR to a writable folder (tantivy takes a lock file to open an index, "
                 "also to search it)") from exc
    try:
        for item in folder.iterdir():
            if item.is_file() and not item.name.startswith(_LOCKS):
                os.symlink(item.absolute(), view / item.name)
    except OSError as exc:
        shutil.rmtree(view, ignore_errors=True)
        raise IndexFormatError(f"the keyword index in {folder} cannot be read "
                               f"({exc.strerror or exc})", hint=REBUILD_HINT) from exc
    return view


def update(previous: Path | None, folder: Path, analyzer: Analyzer, delete: Sequence[int],
           ids: Sequence[int], texts: Sequence[str], size_before: int = 0):
    """A new index in ``folder``: ``previous``'s files (hard links), less ``delete``, plus the
    (id, text) pairs; returns (the opened index, its live document count). Cost: the change."""
    import tantivy

    folder.mkdir(parents=True, exist_ok=False)
    if previous is not None:
        for item in previous.iterdir():
            if item.is_file() and not item.name.startswith(_LOCKS):  # locks are per folder
                _link(item, folder / item.name)
    index = tantivy.Index(_schema(), path=str(folder), reuse=previous is not None)
    _add(index, analyzer, delete, ids, texts)
    size = size_before - len(delete) + len(ids)
    # Written last and by rename: the folder is a complete index once this is there.
    tmp = folder / (SETTINGS_FILE + ".tmp")
    tmp.write_text(json.dumps({"analyzer": analyzer.settings(), "size": size}, indent=2) + "\n")
    os.replace(tmp, folder / SETTINGS_FILE)
    index.reload()
    return index, size


def _add(index, analyzer: Analyzer, delete: Sequence[int], ids: Sequence[int],
         texts: Sequence[str]) -> None:
    import tantivy

    writer = index.writer(_HEAP, 1)
    for doc_id in delete:
        writer.delete_documents_by_term(_ID, int(doc_id))
    for doc_id, text in zip(ids, texts):
        doc = tantivy.Document()
        doc.add_integer(_ID, int(doc_id))
        doc.add_text(_TEXT, " ".join(analyzer.terms(text)))
        writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()  # tantivy's own merges finish before the folder is published


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links: a copy costs more, and is as safe
        shutil.copy2(source, target)
