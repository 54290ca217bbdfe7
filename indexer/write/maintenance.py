"""`vraagbaak optimize` (merge every segment into one) and `vraagbaak migrate` (a format-3 index,
one monolithic version, into format 4 with stable ids), both as one new published version.

Both publish like any change, by one rename, so searches go on from the version they hold while
this runs; `optimize` merges off the write lock (indexer/write/merging.py), so writes go on too.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.errors import IndexFormatError, IndexNotFoundError, InputError
from indexer.index.directory import IndexDirectory
from indexer.index.manifest import (MANIFEST, MIGRATES_FROM, REBUILD_HINT, SENTENCE_VECTORS,
                                    STORE, VECTORS, Manifest)
from indexer.index.store import StoredDocument
from indexer.index.vectors import load_vector_index
from indexer.index.version import IndexVersion
from indexer.records import Chunk, Document
from indexer.write.changes import Plan
from indexer.write.publishing import Change, write_version
from indexer.write.segment_writer import SegmentRows
from indexer.write.merging import everything_groups, merge
from indexer.write.vector_cache import VectorCache


@dataclass(frozen=True)
class MaintenanceReport:
    index_dir: Path
    articles: int
    segments_before: int
    segments_after: int
    tombstones_dropped: int
    seconds: float
    published: bool
    from_format: int | None = None


def _settings(manifest: Manifest, next_ids: dict) -> dict:
    return {"model": manifest.model, "backends": list(manifest.document_backends),
            "dim": manifest.dim, "chunker": manifest.chunker,
            "index_type": manifest.vector_indexes.get("setting", "auto"), "next_ids": next_ids,
            "vector_store": manifest.vector_store}


def optimize_index(index_dir: IndexDirectory) -> MaintenanceReport:
    """Merge all segments into one (into packs below the cap where the vectors are files:
    merging.everything_groups) and drop every tombstone (nothing when that is so already, and
    every segment has its quotes attributed). The merge runs off the write lock
    (indexer/write/merging.py): writes go on meanwhile and are kept; it waits for a merge
    already running rather than mixing with it."""
    started = time.perf_counter()
    try:
        current = index_dir.current_version()
    except IndexNotFoundError:
        raise InputError(f"there is no index at {index_dir.root} to optimize") from None
    with IndexVersion.open(current, vectors=False, keywords=False) as version:
        m = version.manifest
        quoted = all(s.store.has_quotes for s in version.store.segments)  # 0036
    merged_already = all(len(pack) == 1 for pack in everything_groups(m))
    if merged_already and not sum(m.tombstones.values()) and quoted and m.article_index:
        return MaintenanceReport(index_dir.root, m.articles, len(m.segments), len(m.segments), 0,
                                 time.perf_counter() - started, False)
    merged = merge(index_dir, everything=True, wait=True)
    after = index_dir.manifest()
    return MaintenanceReport(index_dir.root, after.articles, merged.segments_before,
                             merged.segments_after, merged.tombstones_dropped,
                             time.perf_counter() - started, merged.published)


def migrate_index(index_dir: IndexDirectory) -> MaintenanceReport:
    """The published format-3 version as a format-4 one: one segment whose stable ids are the old
    positions (so ids seen before the migration stay right), vectors copied, not re-embedded."""
    started = time.perf_counter()
    formats = (*MIGRATES_FROM,)
    with index_dir.writer(formats=formats) as writer:
        if writer.previous is None:
            index_dir.current_version()  # no index, or a damaged one: its own clear error
            raise InputError(f"the index at {index_dir.root} is already format 4: nothing to migrate")
        old = Manifest.from_file(writer.previous / MANIFEST, formats)
        rows = _old_rows(writer.previous, old)
        _remember_vectors(index_dir.root, old, rows)
        next_ids = {"articles": len(rows.documents), "chunks": len(rows.chunks),
                    "sentences": len(rows.sentences)}
        change = Change(Plan([], frozenset()), {}, rows.documents, 0, rebuild=True)
        written = write_version(writer, None, change, rows, _settings(old, next_ids))
    return MaintenanceReport(index_dir.root, written.articles, 1, len(written.segments), 0,
                             time.perf_counter() - started, True, from_format=old.format_version)


def _old_rows(version: Path, old: Manifest) -> SegmentRows:
    """A format-3 version's rows, ids as they were (positions), and its vectors."""
    rows = SegmentRows()
    try:
        conn = sqlite3.connect(f"{(version / STORE).resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            for n, r in enumerate(conn.execute(
                    "SELECT doc_id, text, title, date, url, source, origin, content_hash, "
                    "source_file, language FROM documents ORDER BY rowid")):
                rows.documents.append(StoredDocument(Document(*r[:7]), r[7], r[8], r[9]))
                rows.article_ids.append(n)
            for r in conn.execute('SELECT id, doc_id, ordinal, start, "end", text, n_tokens, '
                                  "text_hash FROM chunks ORDER BY id"):
                rows.chunk_ids.append(r[0])
                rows.chunks.append(Chunk(*r[1:7]))
                rows.chunk_hashes.append(r[7])
            rows.sentences = conn.execute('SELECT id, chunk_id, start, "end", text_hash '
                                          "FROM sentences ORDER BY id").fetchall()
        finally:
            conn.close()
        described = old.vector_indexes
        for part, file, attr in (("passages", VECTORS, "passage_vectors"),
                                 ("sentences", SENTENCE_VECTORS, "sentence_vectors")):
            index = load_vector_index(version / file, described.get(part), str(version / MANIFEST))
            setattr(rows, attr, index.vectors(np.arange(len(index), dtype=np.int64)))
    except sqlite3.Error as exc:
        raise IndexFormatError(f"the passage store {version / STORE} cannot be read ({exc})",
                               hint=REBUILD_HINT) from exc
    if rows.chunk_ids != list(range(len(rows.chunk_ids))) or \
            len(rows.passage_vectors) != len(rows.chunks):
        raise IndexFormatError(f"the index version {version} does not agree with itself",
                               hint=REBUILD_HINT)
    return rows


def _remember_vectors(root: Path, old: Manifest, rows: SegmentRows) -> None:
    """Every migrated vector goes into the vector cache, so a later change reuses it by text."""
    cache = VectorCache.open(root, old.model["fingerprint"], old.dim)
    try:
        cache.put(zip(rows.chunk_hashes, rows.passage_vectors))
        cache.put(zip((r[4] for r in rows.sentences), rows.sentence_vectors))
    finally:
        cache.close()
