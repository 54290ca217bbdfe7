"""The embedded default: each segment's own FAISS files, seen as one store per part
(SegmentedVectors, indexer/index/segments.py), tombstoned ids skipped."""

from __future__ import annotations

from indexer.index.segments import SegmentedVectors


def open_parts(path, manifest, segments, tombstones) -> tuple[SegmentedVectors, SegmentedVectors]:
    """The passage and sentence stores of a version whose segments' vectors are loaded."""
    for segment in segments:
        segment.load_vectors(manifest.dim, source=str(path / "manifest.json"))
    return (SegmentedVectors([s.passages for s in segments], [s.chunk_ids for s in segments],
                             tombstones.chunks, manifest.dim),
            SegmentedVectors([s.sentences for s in segments], [s.sentence_ids for s in segments],
                             tombstones.sentences, manifest.dim))
