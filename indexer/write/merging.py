"""Merges off the write path and off the write lock, the way Lucene does them.

A merge reads immutable segments of the published version without any lock (hard links to
them in its own work folder, so a writer removing that version meanwhile takes nothing from
it), writes the merged segment there, and only then takes the write lock, for a moment, to
publish: the version current *then* with the merged segments swapped for the new one. Writes
that came in meanwhile are kept: their new segments stay as they are, and their tombstones on
rows of the merged segments stay tombstones (ids are stable, so a delete that arrived during the
merge names a row of the merged segment). Only the tombstones the merge read, whose rows it left
out, are dropped.

One merger at a time per index (``MERGE_LOCK``; a second one skips or waits). A merge killed at
any moment leaves the published version as it was and a work folder that the next merge removes.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from indexer.index.directory import IndexDirectory
from indexer.index.keywords import DEFAULT_KIND
from indexer.index.keywords.analysis import Analyzer
from indexer.index.keywords.tantivy_index import link_files, update as update_keywords
from indexer.index.manifest import ARTICLE_KEYWORDS, KEYWORDS, MANIFEST, SEGMENTS, TOMBSTONES, Manifest
from indexer.index.segments import (Segment, Tombstones, link_segment, read_tombstones,
                                     vector_summary)
from indexer.index.stores import store_of
from indexer.write.segment_writer import (MAX_MERGED_CHUNKS, joined, live_rows, merges_due, packs,
                                          write_segment)
from indexer.write.store_writes import delete_dead, with_dead

MERGING = "merging"  # DIR/merging/<work>/: outside versions/, which writers clean up
MERGE_LOCK = ".merge.lock"
ROUNDS = 8  # merges in one run at most: each round's result may make the next tier's due


@dataclass(frozen=True)
class MergeReport:
    published: bool
    segments_before: int
    segments_after: int
    tombstones_dropped: int
    seconds: float
    skipped: bool = False  # another merger holds the merge lock


@dataclass
class _Merged:
    """What a merge wrote, from one published version (the snapshot), before it publishes."""

    snapshot: Manifest
    read: Tombstones  # the snapshot's tombstones: those of the merged rows are left out
    groups: list[list[str]]
    entries: list[dict]  # the merged segments' manifest entries, one per group
    ids: tuple[set, set, set]  # articles, passages, sentences of the merged-away segments
    keywords: tuple | None = None  # everything: (passage keyword size, article keyword size)


def merge(index_dir: IndexDirectory, everything: bool = False, wait: bool = False,
          before_publish: Callable[[], None] | None = None) -> MergeReport:
    """Run the merges due (tiered, segment_writer.merges_due), round after round until none is
    due, or (``everything``: `optimize`) merge every segment into one and index the keywords
    anew. ``wait``: wait for another merger instead of skipping. ``before_publish``: called
    when the merged segment is written and the write lock not yet asked for (a test's seam)."""
    started = time.perf_counter()
    root = index_dir.root
    with merge_lock(root, wait) as held:
        if not held:
            return MergeReport(False, 0, 0, 0, time.perf_counter() - started, skipped=True)
        shutil.rmtree(root / MERGING, ignore_errors=True)  # work of merges killed before
        before, after, dropped, published = None, 0, 0, False
        for _ in range(ROUNDS):
            work = root / MERGING / uuid.uuid4().hex[:12]
            try:
                merged = _merge_once(index_dir, work, everything)
                if merged is None:
                    break
                before = len(merged.snapshot.segments) if before is None else before
                if before_publish is not None:
                    before_publish()
                written = _publish(index_dir, work, merged)
                if written is None:  # rebuilt meanwhile: the merge is moot
                    break
                published, after = True, len(written.segments)
                dropped += sum(len(getattr(merged.read, k) & ids) for k, ids in
                               zip(("articles", "chunks", "sentences"), merged.ids))
            finally:
                shutil.rmtree(work, ignore_errors=True)
            if everything:
                break
        if not published:  # a publish writes and cleans up; nothing to merge cleans up here
            index_dir.remove_leftovers()
        return MergeReport(published, before or 0, after or before or 0, dropped,
                           time.perf_counter() - started)


@contextmanager
def merge_lock(root: Path, wait: bool) -> Iterator[bool]:
    """One merger per index: yields False (without waiting) when another one holds it."""
    with (root / MERGE_LOCK).open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


def due(manifest: Manifest) -> list[list[str]]:
    return merges_due(manifest.segments, {e["name"]: e.get("dead", 0) for e in manifest.segments},
                      cap_for(manifest))


def cap_for(manifest: Manifest) -> int | None:
    """Passages a merged segment may hold: capped where its vectors are files that the merge
    holds in memory; a store outside the folder (Milvus) keeps them, so no cap."""
    return MAX_MERGED_CHUNKS if store_of(manifest.vector_store).files else None


def everything_groups(manifest: Manifest) -> list[list[str]]:
    """`optimize`: every segment, in packs below the cap (one pack without one)."""
    return [[e["name"] for e in pack] for pack in packs(manifest.segments, cap_for(manifest))]


def _merge_once(index_dir: IndexDirectory, work: Path, everything: bool) -> _Merged | None:
    """Merge from the published version; None when nothing is to merge. A version removed while
    its segments are linked (two writes published meanwhile) is read again from the newer one."""
    for _ in range(5):
        version = index_dir.current_version()
        try:
            manifest = Manifest.from_file(version / MANIFEST)
            read = read_tombstones(version)
            groups = everything_groups(manifest) if everything else due(manifest)
            if not groups:
                return None
            for name in (n for g in groups for n in g):
                link_segment(version / SEGMENTS / name, work / "read" / name)
        except FileNotFoundError:
            shutil.rmtree(work, ignore_errors=True)
            continue
        merged = _Merged(manifest, read, groups, [], (set(), set(), set()))
        for group in groups:
            merged.entries.append(_merge_group(work, manifest, read, group, merged.ids))
        if everything:
            merged.keywords = _keywords_anew(work, manifest, merged.entries)
        return merged
    raise RuntimeError(f"the index at {index_dir.root} changed five times while a merge read it")


def _merge_group(work: Path, manifest: Manifest, read: Tombstones, group: list[str],
                 ids: tuple[set, set, set]) -> dict:
    """The segments named in ``group`` as one new segment in ``work``, without the rows ``read``
    tombstones; their ids are added to ``ids``."""
    entries = {e["name"]: e for e in manifest.segments}
    files = store_of(manifest.vector_store).files
    segments = [Segment.open(work / "read" / name, entries[name]) for name in group]
    try:
        for segment in segments:
            segment.load_vectors(manifest.dim) if files else segment.load_ids()
        parts = [live_rows(s, read, files) for s in segments]
        for segment in segments:
            ids[0].update(a for a, _ in segment.store.documents_where("1"))
            ids[1].update(segment.chunk_ids.tolist())
            ids[2].update(segment.sentence_ids.tolist())
        # The largest segment's IVF lists, when the merged size calls for as many: the merge
        # then trains no k-means (IVFIndex.build reuses them, and tunes its probing anew).
        largest = max(segments, key=lambda s: len(s.chunk_ids))
        before = (largest.passages, largest.sentences)
    finally:
        for segment in segments:
            segment.store.close()
    index_type = manifest.vector_indexes.get("setting", "auto")
    store = manifest.vector_store.get("kind", "faiss")
    return write_segment(work, joined(parts, manifest.dim), index_type, before, store=store)


def _keywords_anew(work: Path, manifest: Manifest, entries: list[dict]) -> tuple[int, int]:
    """`optimize`: both keyword indexes built from the merged segments (every live row), so the
    deleted documents leave BM25's statistics."""
    chunks, articles = [], []
    for entry in entries:
        segment = Segment.open(work / SEGMENTS / entry["name"], entry)
        try:
            chunks += segment.store.chunk_rows()
            articles += segment.store.documents_where("1")
        finally:
            segment.store.close()
    analyzer = Analyzer(manifest.language)
    dated = {d.document.doc_id: d.document.date for _, d in articles}
    _, passages = update_keywords(None, work / KEYWORDS, analyzer, (), [c for c, _, _ in chunks],
                                  [chunk.text for _, chunk, _ in chunks],
                                  dates=[dated.get(chunk.doc_id) for _, chunk, _ in chunks])
    _, whole = update_keywords(None, work / ARTICLE_KEYWORDS, analyzer, (),
                               [a for a, _ in articles], [d.document.text for _, d in articles],
                               dates=[d.document.date for _, d in articles])
    return passages, whole


def _publish(index_dir: IndexDirectory, work: Path, merged: _Merged) -> Manifest | None:
    """Under the write lock, briefly: the version published now, with the merged segments
    swapped in. None (nothing published) when that version no longer holds them all."""
    with index_dir.publish_lock(), index_dir.writer(wait=True) as writer:
        now = Manifest.from_file(writer.previous / MANIFEST) if writer.previous else None
        names = {e["name"] for e in now.segments} if now else set()
        if (now is None or any(n not in names for g in merged.groups for n in g)
                or now.chunker != merged.snapshot.chunker or now.dim != merged.snapshot.dim):
            writer.discard()
            return None
        tombstones = read_tombstones(writer.previous)
        # Rows the merge left out are gone: so are their tombstones. Deletes that came after
        # the snapshot stay, now naming rows of the merged segment (same stable ids).
        a, c, s = merged.ids
        tombstones = Tombstones(tombstones.articles - (merged.read.articles & a),
                                tombstones.chunks - (merged.read.chunks & c),
                                tombstones.sentences - (merged.read.sentences & s))
        entries = _entries(writer.previous, writer.staging, work, now, merged, tombstones)
        keyword_index, article_index = now.keyword_index, now.article_index
        if merged.keywords and now.keyword_index == merged.snapshot.keyword_index:
            article_index = _keywords_caught_up(writer, work, now, merged, tombstones)
        else:
            for folder in (KEYWORDS, ARTICLE_KEYWORDS):
                if (writer.previous / folder).is_dir():
                    link_files(writer.previous / folder, writer.staging / folder)
        tombstones.write(writer.staging / TOMBSTONES)
        # A store outside the folder (Milvus): the merge makes nothing dead; what the version
        # before made dead is deleted once this one is published, as after any write.
        manifest = replace(now, segments=entries, tombstones=tombstones.counts(),
                           keyword_index=keyword_index, article_index=article_index,
                           vector_indexes=vector_summary(now.vector_indexes.get("setting", "auto"),
                                                         entries),
                           vector_store=with_dead(now.vector_store, (), ()),
                           created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        manifest.write(writer.staging / MANIFEST)
    delete_dead(now.vector_store)
    return manifest


def _entries(previous: Path, staging: Path, work: Path, now: Manifest, merged: _Merged,
             tombstones: Tombstones) -> list[dict]:
    """The version's segment list: each merged group replaced, where its first segment was, by
    its merged segment (moved in from the work folder); the others linked from ``previous``."""
    first = {g[0]: e for g, e in zip(merged.groups, merged.entries)}
    away = {n for g in merged.groups for n in g}
    entries = []
    for entry in now.segments:
        name = entry["name"]
        if name in first:
            new = dict(first[name])
            (staging / SEGMENTS).mkdir(exist_ok=True)
            os.replace(work / SEGMENTS / new["name"], staging / SEGMENTS / new["name"])
            dead = _dead_in(staging / SEGMENTS / new["name"], new, tombstones)
            if dead:
                new["dead"] = dead
            entries.append(new)
        elif name not in away:
            link_segment(previous / SEGMENTS / name, staging / SEGMENTS / name)
            entries.append(dict(entry))
    return entries


def _dead_in(folder: Path, entry: dict, tombstones: Tombstones) -> int:
    """Tombstoned passages of a merged segment: deletes that arrived while it was merged."""
    if not tombstones.chunks:
        return 0
    segment = Segment.open(folder, entry)
    try:
        chunk_ids, _ = segment.store.ids()
    finally:
        segment.store.close()
    return sum(1 for i in chunk_ids.tolist() if i in tombstones.chunks)


def _keywords_caught_up(writer, work: Path, now: Manifest, merged: _Merged,
                        tombstones: Tombstones) -> dict:
    """The keyword indexes `optimize` built, plus what was written since the snapshot: the
    passages and articles of newer segments added, the ones deleted since deleted."""
    snapshot_names = {e["name"] for e in merged.snapshot.segments}
    newer = [e for e in now.segments if e["name"] not in snapshot_names]
    chunk_ids, texts, chunk_dates, article_ids, articles, dates = [], [], [], [], [], []
    for entry in newer:
        segment = Segment.open(writer.previous / SEGMENTS / entry["name"], entry)
        try:
            found = segment.store.documents_where("1")
            dated = {d.document.doc_id: d.document.date for _, d in found}
            for chunk_id, chunk, _ in segment.store.chunk_rows():
                if chunk_id not in tombstones.chunks:
                    chunk_ids.append(chunk_id)
                    texts.append(chunk.text)
                    chunk_dates.append(dated.get(chunk.doc_id))
            for article_id, doc in found:
                if article_id not in tombstones.articles:
                    article_ids.append(article_id)
                    articles.append(doc.document.text)
                    dates.append(doc.document.date)
        finally:
            segment.store.close()
    analyzer = Analyzer(now.language)
    sizes = merged.keywords
    dead_chunks = sorted((tombstones.chunks - merged.read.chunks) & merged.ids[1])
    dead_articles = sorted((tombstones.articles - merged.read.articles) & merged.ids[0])
    update_keywords(work / KEYWORDS, writer.staging / KEYWORDS, analyzer, dead_chunks,
                    chunk_ids, texts, sizes[0], dates=chunk_dates)
    _, size = update_keywords(work / ARTICLE_KEYWORDS, writer.staging / ARTICLE_KEYWORDS,
                              analyzer, dead_articles, article_ids, articles, sizes[1],
                              dates=dates)
    return {"kind": DEFAULT_KIND, "articles": size}
