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

import itertools
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
# The article date's span as YYYYMMDD (indexer.dates.date_span), as the Milvus store keeps it:
# a date filter becomes two range queries inside tantivy instead of a mask applied to its hits.
_FROM, _TO = "date_from", "date_to"
# Below this share of the passages allowed, a date filter runs inside tantivy (an intersection,
# which scores every match in the range); above it, tantivy's pruned top-k, fetched deep enough
# for the share, is cheaper (bench.keyword_engines).
RANGE_BELOW = 0.03
_DATED = "dated"  # in the settings file: the index has the date fields (older ones lack them)


def _schema(dated: bool = True):
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field(_TEXT, stored=False, tokenizer_name="whitespace", index_option="freq")
    builder.add_integer_field(_ID, stored=False, indexed=True, fast=True)  # i64: Python ints
    if dated:
        builder.add_integer_field(_FROM, stored=False, indexed=True, fast=True)
        builder.add_integer_field(_TO, stored=False, indexed=True, fast=True)
    return builder.build()


def _is_dated(folder: Path) -> bool:
    try:
        return bool(json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8")).get(_DATED))
    except (OSError, ValueError, AttributeError):
        return False


# Why: docs/decisions/0040-keyword-engine-tantivy.md
class TantivyIndex:
    kind = "tantivy"

    def __init__(self, analyzer: Analyzer, pending: tuple | None = None, index=None,
                 size: int = 0, dated: bool = True) -> None:
        self.analyzer = analyzer
        self._pending = pending  # built, not yet saved: (ids, texts, dates)
        self._index = index
        self._searcher = index.searcher() if index is not None else None
        self._size = size
        self._cleanup = None  # removes a read-only folder's temporary view, once
        self._dated = dated

    @classmethod
    def build(cls, texts: Sequence[str], analyzer: Analyzer, ids: Sequence[int] | None = None,
              dates: Sequence[str | None] | None = None) -> TantivyIndex:
        ids = list(range(len(texts))) if ids is None else [int(i) for i in ids]
        return cls(analyzer, (ids, list(texts), dates), size=len(texts))

    def save(self, folder: Path) -> None:
        """Write the built index into ``folder`` (a new folder)."""
        if self._pending is None:
            raise ValueError("only a built index is saved; a loaded one is updated")
        ids, texts, dates = self._pending
        self._index, self._size = update(None, folder, self.analyzer, (), ids, texts, dates=dates)
        self._searcher, self._pending = self._index.searcher(), None

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> TantivyIndex:
        analyzer, size = read_settings(folder)
        try:
            # tantivy reads a segment's files when a searcher is made: make it here, so that a
            # damaged file fails on opening, by name
            return cls(analyzer, index=_open(folder), size=size, dated=_is_dated(folder))
        except _Locked:  # the folder is read-only: open a view of it that is not
            view = _view(folder)
            try:
                loaded = cls(analyzer, index=_open(view), size=size, dated=_is_dated(folder))
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

            ids, texts, dates = self._pending
            index = tantivy.Index(_schema())
            _add(index, self.analyzer, (), ids, texts, dates)
            index.reload()  # the reader follows a commit asynchronously: a loaded machine saw none
            self._index, self._searcher = index, index.searcher()

    def terms(self, question: str) -> tuple[str, ...]:
        """The question's index terms that occur in the index, once each, in order."""
        self._ensure()
        return tuple(t for t in dict.fromkeys(self.analyzer.terms(question))
                     if self._searcher.doc_freq(_TEXT, t) > 0)

    def search(self, question: str, k: int, allowed: np.ndarray | None = None,
               dates=None) -> KeywordHits:
        """Best ``k`` passages; ``allowed`` is a 0/1 mask over ids, ``dates`` the date filter's
        bounds (indexer.index.stores.base.DateBounds), which tantivy applies itself on the date
        fields; the mask stays the truth and is applied to tantivy's ranking, fetching deeper
        until ``k`` allowed ones are found or the matches run out."""
        import tantivy

        terms = self.terms(question)
        empty = KeywordHits(np.empty(0, np.int64), np.empty(0, np.float32), terms)
        if not terms or not self._size or k <= 0:
            return empty
        schema = self._index.schema
        words = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, _TEXT, t)) for t in terms])
        share = 1.0 if allowed is None else float(np.count_nonzero(allowed)) / max(self._size, 1)
        ranges = self._date_ranges(schema, dates) if share < RANGE_BELOW else []
        query = words if not ranges else tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, words)] + [(tantivy.Occur.Must, r) for r in ranges])
        limit = k
        if allowed is not None:  # deep enough that k allowed ones are likely found at once
            limit = int(min(k / (0.5 if ranges else max(share, 1e-4)) * 2 + k, 1_000_000))
        while True:
            # No count: counting visits every match, which tantivy's top-k pruning skips.
            hits = self._searcher.search(query, limit).hits
            ids = np.asarray(self._searcher.fast_field_values(_ID, [a for _, a in hits]), np.int64)
            scores = np.asarray([s for s, _ in hits], np.float32)
            if allowed is not None:
                inside = ids < len(allowed)
                keep = inside.copy()
                keep[inside] = allowed[ids[inside]] > 0
                ids, scores = ids[keep], scores[keep]
            if allowed is None or len(ids) >= k or len(hits) < limit:  # found, or matches ran out
                break
            limit *= 4
        order = np.argsort(-scores, kind="stable")[:k]  # ties: tantivy's order, stable
        return KeywordHits(ids[order], scores[order], terms)

    def _date_ranges(self, schema, dates) -> list:
        """The overlap rule as tantivy queries scoring 0 (so BM25 scores stay as they are): a
        span passes when it ends on or after ``since`` and starts on or before ``until``."""
        import tantivy

        if dates is None or not self._dated:
            return []
        found = []
        for field, low, high in ((_TO, dates.since, None), (_FROM, None, dates.until)):
            if low is not None or high is not None:
                found.append(tantivy.Query.const_score_query(tantivy.Query.range_query(
                    schema, field, tantivy.FieldType.Integer,
                    None if low is None else int(low), None if high is None else int(high)), 0.0))
        return found


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
           ids: Sequence[int], texts: Sequence[str], size_before: int = 0,
           dates: Sequence[str | None] | None = None):
    """A new index in ``folder``: ``previous``'s files (hard links), less ``delete``, plus the
    (id, text) pairs with their articles' ``dates``; returns (the opened index, its live
    document count). Cost: the change. An index written before the date fields stays without
    them (its searches filter dates by mask) until it is built anew (`vraagbaak optimize`)."""
    import tantivy

    # A new index is dated when its documents come with dates; one built on keeps its kind,
    # and every later change of a dated one must give its documents' dates.
    dated = dates is not None if previous is None else _is_dated(previous)
    if dated and dates is None:
        raise ValueError("the documents added to a dated keyword index need their dates")
    if previous is not None:
        link_files(previous, folder)
    else:
        folder.mkdir(parents=True, exist_ok=False)
    index = tantivy.Index(_schema(dated), path=str(folder), reuse=previous is not None)
    _add(index, analyzer, delete, ids, texts, dates if dated else None)
    size = size_before - len(delete) + len(ids)
    # Written last and by rename: the folder is a complete index once this is there.
    tmp = folder / (SETTINGS_FILE + ".tmp")
    tmp.write_text(json.dumps({"analyzer": analyzer.settings(), "size": size, _DATED: dated},
                              indent=2) + "\n")
    os.replace(tmp, folder / SETTINGS_FILE)
    index.reload()
    return index, size


def _add(index, analyzer: Analyzer, delete: Sequence[int], ids: Sequence[int],
         texts: Sequence[str], dates: Sequence[str | None] | None = None) -> None:
    import tantivy

    from indexer.dates import date_span

    writer = index.writer(_HEAP, 1)
    for doc_id in delete:
        writer.delete_documents_by_term(_ID, int(doc_id))
    spans = (date_span(d) for d in dates) if dates is not None else itertools.repeat(None)
    for doc_id, text, span in zip(ids, texts, spans):
        doc = tantivy.Document()
        doc.add_integer(_ID, int(doc_id))
        doc.add_text(_TEXT, " ".join(analyzer.terms(text)))
        if span is not None:  # an undated article has no value: no date range holds it
            doc.add_integer(_FROM, span[0])
            doc.add_integer(_TO, span[1])
        writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()  # tantivy's own merges finish before the folder is published


def link_files(previous: Path, folder: Path) -> None:
    """``folder`` (new) as hard links to the keyword index in ``previous``: the same index,
    for a version that changes no keyword (a merge of segments)."""
    folder.mkdir(parents=True, exist_ok=False)
    for item in previous.iterdir():
        if item.is_file() and not item.name.startswith(_LOCKS):  # locks are per folder
            _link(item, folder / item.name)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links: a copy costs more, and is as safe
        shutil.copy2(source, target)
