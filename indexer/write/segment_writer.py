"""Writing segments: a new one from a change's rows, or one from merging others.

A segment is written once, into the staging version's folder, and never again: its store rows
with their stable ids, and its passage and sentence vectors in id order (flat while small, IVF
when large, by the auto rule). Merging copies the live rows and vectors of some segments into
one (stable ids kept, tombstoned rows dropped), so nothing above the segments notices a merge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.index.keywords.names import count_words, save_counts
from indexer.index.manifest import SEGMENT_FILES, SEGMENTS
from indexer.index.segments import Segment, Tombstones, link_segment
from indexer.index.store import ChunkStore, StoredDocument
from indexer.index.vectors import build_vector_index
from indexer.records import Chunk, Quote
from indexer.write.quotes import RULES as QUOTE_RULES
from indexer.write.quotes import attribute

# Why: docs/decisions/0042-tiered-merges.md
MERGE_FACTOR = 10  # segments of one size tier before they are merged into one
TIER_BASE = 10  # a tier spans sizes within this factor of each other
TIER_FLOOR = 1_000  # passages: segments smaller than this are all in the lowest tier
DEAD_SHARE = 0.5  # a segment that is more than half tombstones is rewritten alone
# passages: a merge of segments whose vectors are files holds them all in memory (about 30 KB a
# passage with its sentences), so no merge makes a segment larger than this; Lucene caps its
# merged segments the same way (maxMergedSegmentMB). Why: docs/decisions/0062-merged-segments-capped.md
MAX_MERGED_CHUNKS = 200_000


@dataclass
class SegmentRows:
    """A new segment's rows, stable ids given; vectors in the same order."""

    documents: list[StoredDocument] = field(default_factory=list)
    article_ids: list[int] = field(default_factory=list)
    chunk_ids: list[int] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    chunk_hashes: list[str] = field(default_factory=list)
    sentences: list[tuple[int, int, int, int, str]] = field(default_factory=list)  # id, chunk, s, e, hash
    passage_vectors: np.ndarray | None = None
    sentence_vectors: np.ndarray | None = None
    quotes: list[Quote] | None = None  # None: attributed when the segment is written
    # Where Ray's workers wrote some rows' vectors into the store themselves (milvus_sink.py):
    # the positions of the rows whose vectors the matrices above hold (None: all), and the
    # newest timestamp of the workers' writes.
    passage_at: np.ndarray | None = None
    sentence_at: np.ndarray | None = None
    stored_ts: int = 0

    @property
    def tokens(self) -> int:
        return sum(c.n_tokens for c in self.chunks)


def segment_name(first_chunk_id: int) -> str:
    return f"s{first_chunk_id:012d}-{uuid.uuid4().hex[:6]}"


def write_segment(version: Path, rows: SegmentRows, index_type: str,
                  previous: tuple = (None, None), store: str = "faiss") -> dict:
    """Write ``rows`` as a new segment of the version at ``version``; its manifest entry.
    ``store``: "faiss" writes the vectors as the segment's files; another store (Milvus) holds
    them itself, and the segment only its rows."""
    name = segment_name(rows.chunk_ids[0] if rows.chunk_ids else 0)
    folder = version / SEGMENTS / name
    folder.mkdir(parents=True)
    chunk_store = ChunkStore.create(folder / SEGMENT_FILES["store"])
    try:
        chunk_store.add_documents(rows.documents, rows.article_ids)
        chunk_store.add_chunks(rows.chunk_ids, rows.chunks, rows.chunk_hashes)
        chunk_store.add_sentences(rows.sentences)
        quotes = rows.quotes if rows.quotes is not None else (
            q for d in rows.documents for q in attribute(d.document.doc_id, d.document.text))
        chunk_store.add_quotes(quotes, QUOTE_RULES)
        chunk_store.commit()
    finally:
        chunk_store.close()
    # The segment's word counts, for the corpus's names (optional: older segments lack them).
    save_counts(count_words(d.document.text for d in rows.documents), folder)
    files = dict(SEGMENT_FILES) if store == "faiss" else {"store": SEGMENT_FILES["store"]}
    described = {}
    for part, matrix, before in (("passages", rows.passage_vectors, previous[0]),
                                 ("sentences", rows.sentence_vectors, previous[1])):
        if store != "faiss":
            described[part] = {"kind": store}
            continue
        index = build_vector_index(matrix, index_type, before)
        index.save(folder / SEGMENT_FILES[part])
        described[part] = index.describe()
    return {"name": name, "articles": len(rows.documents), "chunks": len(rows.chunks),
            "sentences": len(rows.sentences), "tokens": rows.tokens, "files": files,
            "bytes": {part: (folder / file).stat().st_size for part, file in files.items()},
            "vector_indexes": described}


def link_segments(previous: Path, version: Path, entries: list[dict]) -> None:
    for entry in entries:
        link_segment(previous / SEGMENTS / entry["name"], version / SEGMENTS / entry["name"])


def live_rows(segment: Segment, tombstones: Tombstones, vectors: bool = True) -> SegmentRows:
    """A segment's rows and (unless its vectors live in a store outside the folder) vectors,
    without its tombstoned ones, ids kept."""
    rows = SegmentRows()
    for article_id, doc in segment.store.documents_where("1"):
        if article_id not in tombstones.articles:
            rows.documents.append(doc)
            rows.article_ids.append(article_id)
    rows.quotes = _quotes(segment, rows.documents)
    keep_chunks = [i for i, c in enumerate(segment.chunk_ids) if int(c) not in tombstones.chunks]
    for chunk_id, chunk, h in segment.store.chunk_rows():
        if chunk_id not in tombstones.chunks:
            rows.chunk_ids.append(chunk_id)
            rows.chunks.append(chunk)
            rows.chunk_hashes.append(h)
    keep_sentences = [i for i, s in enumerate(segment.sentence_ids) if int(s) not in tombstones.sentences]
    rows.sentences = [r for r in segment.store.sentence_rows() if r[0] not in tombstones.sentences]
    if vectors:
        rows.passage_vectors = segment.passages.vectors(np.asarray(keep_chunks, np.int64))
        rows.sentence_vectors = segment.sentences.vectors(np.asarray(keep_sentences, np.int64))
    return rows


def _quotes(segment: Segment, documents: list[StoredDocument]) -> list[Quote]:
    """The live articles' quotes: copied where the segment's were found by today's rules
    (attributing costs 4 ms an article, the largest part of a merge), else attributed anew."""
    if segment.store.quote_rules() != QUOTE_RULES:
        return [q for d in documents for q in attribute(d.document.doc_id, d.document.text)]
    found = segment.store.quotes_by_document()
    return [q for d in documents for q in found.get(d.document.doc_id, ())]


def joined(parts: list[SegmentRows], dim: int) -> SegmentRows:
    """Rows of several segments as one, in stable-id order (ids were given in time order, so
    sorting by id keeps each passage's sentences together and in text order). Vectors are
    gathered with one index per part, not row by row: a merge's memory is about twice its
    segments' vectors."""
    out = SegmentRows()

    def order(ids: list[int]) -> np.ndarray:
        return np.argsort(np.asarray(ids, np.int64), kind="stable")

    ids = [i for p in parts for i in p.article_ids]
    docs = [d for p in parts for d in p.documents]
    by_id = order(ids)
    out.article_ids, out.documents = [ids[i] for i in by_id], [docs[i] for i in by_id]
    ids = [i for p in parts for i in p.chunk_ids]
    chunks, hashes = [c for p in parts for c in p.chunks], [h for p in parts for h in p.chunk_hashes]
    by_id = order(ids)
    out.chunk_ids = [ids[i] for i in by_id]
    out.chunks, out.chunk_hashes = [chunks[i] for i in by_id], [hashes[i] for i in by_id]
    vectors = all(p.passage_vectors is not None for p in parts)  # None: kept outside the folder
    if vectors:
        out.passage_vectors = _stacked([p.passage_vectors for p in parts], dim)[by_id]
    rows = [r for p in parts for r in p.sentences]
    by_id = order([r[0] for r in rows])
    out.sentences = [rows[i] for i in by_id]
    out.quotes = [q for p in parts for q in (p.quotes or ())]
    if vectors:
        out.sentence_vectors = _stacked([p.sentence_vectors for p in parts], dim)[by_id]
    return out


def _stacked(matrices: list[np.ndarray], dim: int) -> np.ndarray:
    matrices = [m for m in matrices if m is not None and len(m)]
    return np.concatenate(matrices) if matrices else np.empty((0, dim), np.float32)


def packs(entries: list[dict], cap: int | None) -> list[list[dict]]:
    """``entries`` in their order, in consecutive packs of at most ``cap`` passages (a segment
    at or above it alone); one pack when there is no cap."""
    if cap is None:
        return [list(entries)] if entries else []
    out: list[list[dict]] = []
    size = 0
    for entry in entries:
        chunks = int(entry["chunks"])
        if not out or size + chunks > cap:
            out.append([])
            size = 0
        out[-1].append(entry)
        size += chunks
    return out


def _tier(entry: dict) -> int:
    size, tier = max(int(entry["chunks"]), 1), 0
    while size >= TIER_FLOOR * TIER_BASE ** tier:
        tier += 1
    return tier


def merges_due(entries: list[dict], dead: dict[str, int],
               cap: int | None = None) -> list[list[str]]:
    """Tiered by size (Lucene's idea): when MERGE_FACTOR segments share a tier, they become one
    segment of the next tier, so a passage is rewritten about log_TIER_BASE(n) times in its
    life and a write pays only for merges of segments about its own size. A segment mostly of
    tombstones is rewritten alone. ``dead``: tombstoned passages per segment name. ``cap``:
    passages a merged segment may hold at most (None: no cap); a tier's segments are then
    merged in packs below it, and a pack of one is not a merge. Each group is a list of
    segment names."""
    groups: dict[int, list[dict]] = {}
    for entry in entries:
        groups.setdefault(_tier(entry), []).append(entry)
    due = [[e["name"] for e in pack]
           for _, tier in sorted(groups.items()) if len(tier) >= MERGE_FACTOR
           for pack in packs(tier, cap) if len(pack) > 1]
    merging = {name for names in due for name in names}
    for entry in entries:
        if entry["name"] not in merging and dead.get(entry["name"], 0) > DEAD_SHARE * entry["chunks"]:
            due.append([entry["name"]])
    return due
