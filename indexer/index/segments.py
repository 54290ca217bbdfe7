"""Segments: a version is a list of immutable segments plus tombstones, seen as one index.

Each segment holds its own chunk store rows (with stable ids), passage and sentence vectors
(FAISS, flat or IVF by the auto rule, rows in stable-id order) and is never written again. A
version lists its segments in the manifest and names the stable ids deleted since they were
written in ``tombstones.json``; the keyword index (tantivy) covers all segments at once.

What the read path sees is the same as before: ``SegmentedStore`` answers the store's questions
and ``SegmentedVectors`` the vector index's, over stable ids, skipping tombstones. Stable ids are
handed out from counters in the manifest and never change or return; a merge keeps them.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.errors import IndexFormatError
from indexer.index.manifest import REBUILD_HINT, SEGMENTS, TOMBSTONES, Manifest
from indexer.index.store import ChunkStore
from indexer.index.vectors import load_checked_vector_index
from indexer.index.vectors.base import VectorIndex

PARTS = ("passages", "sentences")


@dataclass(frozen=True)
class Tombstones:
    """Stable ids deleted since their segments were written."""

    articles: frozenset = frozenset()
    chunks: frozenset = frozenset()
    sentences: frozenset = frozenset()

    @classmethod
    def read(cls, path: Path) -> Tombstones:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(*(frozenset(int(i) for i in data[k]) for k in ("articles", "chunks", "sentences")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexFormatError(f"the tombstones {path} cannot be read", hint=REBUILD_HINT) from exc

    def write(self, path: Path) -> None:
        path.write_text(json.dumps({k: sorted(getattr(self, k))
                                    for k in ("articles", "chunks", "sentences")}) + "\n")

    def plus(self, articles, chunks, sentences) -> Tombstones:
        return Tombstones(self.articles | set(articles), self.chunks | set(chunks),
                          self.sentences | set(sentences))

    def without(self, segment_ids: tuple[set, set, set]) -> Tombstones:
        """Less the ids of merged-away segments: their rows are gone, so are their tombstones."""
        a, c, s = segment_ids
        return Tombstones(self.articles - a, self.chunks - c, self.sentences - s)

    def counts(self) -> dict:
        return {"articles": len(self.articles), "chunks": len(self.chunks),
                "sentences": len(self.sentences)}


@dataclass
class Segment:
    name: str
    path: Path
    store: ChunkStore
    entry: dict  # its manifest entry
    chunk_ids: np.ndarray | None = None  # stable ids, ascending: row i of the passage vectors
    sentence_ids: np.ndarray | None = None
    passages: VectorIndex | None = None
    sentences: VectorIndex | None = None

    @classmethod
    def open(cls, folder: Path, entry: dict) -> Segment:
        """Its store; each of its files checked against the size the manifest records (a cheap
        check that a writer, which loads no vectors, can make on every segment it carries)."""
        for part, name in entry["files"].items():
            recorded = entry.get("bytes", {}).get(part)
            try:
                size = (folder / name).stat().st_size
            except OSError as exc:
                raise IndexFormatError(f"the segment file {folder / name} cannot be read "
                                       f"({exc.strerror or exc})", hint=REBUILD_HINT) from exc
            if recorded is not None and size != recorded:
                raise IndexFormatError(f"the segment file {folder / name} is damaged: it holds "
                                       f"{size} bytes, the manifest records {recorded}",
                                       hint=REBUILD_HINT)
        return cls(entry["name"], folder, ChunkStore.open(folder / entry["files"]["store"]), entry)

    def load_ids(self) -> Segment:
        """Its passage and sentence ids, ascending (all a store outside the folder needs)."""
        if self.chunk_ids is None:
            self.chunk_ids, self.sentence_ids = self.store.ids()
        return self

    def load_vectors(self, dim: int, mmap: bool = False, source: str = "") -> Segment:
        """Its ids and vector indexes, checked against its manifest entry (a writer that only
        adds and deletes never loads them: the cost of a change is the change)."""
        if self.passages is None:
            self.load_ids()
            described = self.entry.get("vector_indexes", {})
            for part, count in zip(PARTS, (len(self.chunk_ids), len(self.sentence_ids))):
                setattr(self, part, load_checked_vector_index(
                    self.path / self.entry["files"][part], count, dim, described.get(part),
                    source, mmap))
        return self


def open_segments(path: Path, manifest: Manifest, vectors: bool = True,
                  mmap: bool = False) -> list[Segment]:
    segments: list[Segment] = []
    try:
        for entry in manifest.segments:
            segment = Segment.open(path / SEGMENTS / entry["name"], entry)
            segments.append(segment)
            if vectors:
                segment.load_vectors(manifest.dim, mmap, str(path / "manifest.json"))
    except BaseException:
        for segment in segments:
            segment.store.close()
        raise
    return segments


def vector_summary(setting: str, entries: list[dict]) -> dict:
    """The manifest's vector-index summary of a version whose segments are ``entries``: the
    setting, the count, the largest segment's kinds (an empty version's: exact)."""
    described = {"setting": setting, "segments": len(entries)}
    largest = max(entries, key=lambda e: e["chunks"], default=None)
    for part in PARTS:
        described[part] = (dict(largest["vector_indexes"][part]) if largest
                           else {"kind": "faiss-flat-ip"})
    return described


def read_tombstones(path: Path) -> Tombstones:
    return Tombstones.read(path / TOMBSTONES)


def link_segment(source: Path, target: Path) -> None:
    """``target`` as hard links to ``source``'s files: a version shares its predecessor's
    segments without copying them (never written again, so sharing is safe)."""
    target.mkdir(parents=True)
    for item in source.iterdir():
        try:
            os.link(item, target / item.name)
        except OSError:  # no hard links on this file system: a copy is as safe, and slower
            shutil.copy2(item, target / item.name)


class _IdMap:
    """Stable id -> (segment, row) for one part, with tombstoned ids unmapped."""

    def __init__(self, per_segment: list[np.ndarray], dead: frozenset) -> None:
        space = max((int(ids[-1]) + 1 for ids in per_segment if len(ids)), default=0)
        self.segment = np.full(space, -1, np.int32)
        self.row = np.full(space, -1, np.int64)
        for number, ids in enumerate(per_segment):
            self.segment[ids] = number
            self.row[ids] = np.arange(len(ids))
        if dead:
            gone = np.fromiter(dead, np.int64, len(dead))
            gone = gone[gone < space]
            self.segment[gone] = -1
        self.space = space
        self.live = int(np.count_nonzero(self.segment >= 0))

    def locate(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, np.int64)
        inside = (ids >= 0) & (ids < self.space)
        seg = np.full(len(ids), -1, np.int32)
        seg[inside] = self.segment[ids[inside]]
        row = np.full(len(ids), -1, np.int64)
        row[inside] = self.row[ids[inside]]
        return seg, row


class SegmentedVectors:
    """One part's vectors over all segments, by stable id; tombstoned ids are never returned."""

    def __init__(self, indexes: list[VectorIndex], ids: list[np.ndarray], dead: frozenset,
                 dim: int) -> None:
        self._indexes, self._ids, self.dim = indexes, ids, dim
        self._map = _IdMap(ids, dead)
        # Per segment: its live rows, when some are dead (None: all live).
        self._live_rows = []
        for number, segment_ids in enumerate(ids):
            alive = self._map.segment[segment_ids] == number if len(segment_ids) else np.empty(0, bool)
            self._live_rows.append(None if alive.all() else np.flatnonzero(alive))
        self.kind = "faiss"

    @property
    def indexes(self) -> list[VectorIndex]:
        """Each segment's vector index, oldest segment first."""
        return list(self._indexes)

    @property
    def id_space(self) -> int:
        """One more than the largest stable id: the size of a mask over ids."""
        return self._map.space

    def __len__(self) -> int:
        return self._map.live

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
               dates=None) -> tuple[np.ndarray, np.ndarray]:
        # ``dates``: FAISS has no date field; ``allowed`` already says which ids pass.
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        found_scores, found_ids = [], []
        if allowed is not None:
            seg_of, row_of = self._map.locate(allowed)
        for number, (index, ids) in enumerate(zip(self._indexes, self._ids)):
            if not len(ids):
                continue
            rows = self._live_rows[number]
            if allowed is not None:
                rows = np.sort(row_of[seg_of == number])
                if not len(rows):
                    continue
            scores, local = index.search(queries, k, rows)
            found_scores.append(scores)
            found_ids.append(np.where(local >= 0, ids[np.maximum(local, 0)], -1))
        return _best(found_scores, found_ids, len(queries), k)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        out = np.empty((len(ids), self.dim), np.float32)
        seg, row = self._map.locate(ids)
        if np.any(seg < 0):
            raise KeyError(f"no live vector has the id {int(ids[seg < 0][0])}")
        for number in np.unique(seg):
            where = seg == number
            out[where] = self._indexes[number].vectors(row[where])
        return out

    def describe(self) -> dict:
        return {"kind": self.kind, "segments": [i.describe() for i in self._indexes]}


def _best(scores: list[np.ndarray], ids: list[np.ndarray], n: int,
          k: int) -> tuple[np.ndarray, np.ndarray]:
    if not scores:
        return np.full((n, k), -np.inf, np.float32), np.full((n, k), -1, np.int64)
    s, i = np.concatenate(scores, axis=1), np.concatenate(ids, axis=1)
    s = np.where(i >= 0, s, -np.inf)
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    s, i = np.take_along_axis(s, order, axis=1), np.take_along_axis(i, order, axis=1)
    if s.shape[1] < k:
        pad = k - s.shape[1]
        s = np.pad(s, ((0, 0), (0, pad)), constant_values=-np.inf)
        i = np.pad(i, ((0, 0), (0, pad)), constant_values=-1)
    return s.astype(np.float32), i
