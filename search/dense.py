"""The dense leg: a passage scores by its own vector and by its best sentence.

Short questions often match one sentence better than the passage around it (measured on the
sample questions: English rank-1 10 -> 12 of 16, Dutch 12 -> 13 of 14, at weight 0.5; see
docs/benchmarks.md). Candidates come from both vector indexes, then get the exact mixed score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexer.index.stores.base import DateBounds, VectorStore


@dataclass(frozen=True)
class DenseCandidate:
    chunk_id: int
    score: float  # (1 - w) * passage cosine + w * best sentence cosine
    passage_score: float
    sentence_ids: np.ndarray  # the passage's sentences, in text order
    sentence_scores: np.ndarray  # their cosines with the question


def sorted_unique(ids: np.ndarray) -> np.ndarray:
    """``ids`` ascending without repeats, as int64. Date filters come sorted already: checked in
    one pass (numpy 2's np.unique hashes, which cost a third of a filtered search at 1M)."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) > 1 and not np.all(ids[1:] > ids[:-1]):
        ids = np.sort(ids)
        ids = ids[np.concatenate(([True], ids[1:] != ids[:-1]))]
    return ids


# Why: docs/decisions/0003-sentence-vectors-weight-0-5.md
class DenseRetriever:
    def __init__(self, passages: VectorStore, sentences: VectorStore, sentence_chunk: np.ndarray,
                 sentence_weight: float = 0.5) -> None:
        self.passages = passages
        self.sentences = sentences
        self.sentence_weight = sentence_weight
        # Stable ids are given in passage order (and kept by merges), so the live sentences, by
        # id, list their passages in ascending order: each passage owns one run of them.
        # ``sentence_chunk`` is -1 where no sentence lives (deleted, or never given).
        self._sentence_chunk = sentence_chunk
        self._live = np.flatnonzero(sentence_chunk >= 0).astype(np.int64)
        space = getattr(passages, "id_space", len(passages))
        self._first = np.searchsorted(sentence_chunk[self._live], np.arange(space + 1))

    def sentence_range(self, chunk_id: int) -> np.ndarray:
        return self._live[self._first[chunk_id]:self._first[chunk_id + 1]]

    def allowed_sentences(self, allowed_chunks: np.ndarray) -> np.ndarray:
        """The sentence ids of ``allowed_chunks``: their ranges joined, in time proportional to
        what the filter keeps rather than to the index."""
        chunks = sorted_unique(allowed_chunks)
        starts, ends = self._first[chunks], self._first[chunks + 1]
        lengths = ends - starts
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return self._live[(offsets + np.arange(int(lengths.sum()))).astype(np.int64)]

    def search(self, query: np.ndarray, n: int, allowed_chunks: np.ndarray | None = None,
               also: np.ndarray | None = None,
               dates: DateBounds | None = None) -> list[DenseCandidate]:
        """Best ``n`` passages for one query vector; ``also`` adds chunk ids to score exactly
        (the keyword leg's finds), so fusion compares both legs on the same passages.
        ``dates``: the filter's bounds, for a store that filters by date itself (Milvus)."""
        allowed_sentences = None if allowed_chunks is None else self.allowed_sentences(allowed_chunks)
        _, p_ids = self.passages.search(query, n, allowed_chunks, dates)
        _, s_ids = self.sentences.search(query, n, allowed_sentences, dates)
        found = [p_ids[0][p_ids[0] >= 0], self._sentence_chunk[s_ids[0][s_ids[0] >= 0]]]
        if also is not None:
            found.append(also)
        candidates = sorted_unique(np.concatenate(found))
        return sorted(self.score(query, candidates), key=lambda c: -c.score)

    def score(self, query: np.ndarray, chunk_ids: np.ndarray) -> list[DenseCandidate]:
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if len(chunk_ids) == 0:
            return []
        passage_scores = self.passages.vectors(chunk_ids) @ query
        ranges = [self.sentence_range(int(c)) for c in chunk_ids]
        all_sentences = np.concatenate(ranges) if ranges else np.empty(0, np.int64)
        sentence_scores = self.sentences.vectors(all_sentences) @ query
        out, at = [], 0
        w = self.sentence_weight
        for chunk_id, p_score, ids in zip(chunk_ids, passage_scores, ranges):
            scores = sentence_scores[at:at + len(ids)]
            at += len(ids)
            best = float(scores.max()) if len(scores) else float(p_score)
            out.append(DenseCandidate(int(chunk_id), (1 - w) * float(p_score) + w * best,
                                      float(p_score), ids, scores))
        return out
