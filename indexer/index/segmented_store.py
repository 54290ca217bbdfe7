"""The chunk store's questions answered over all of a version's segments, skipping tombstones.

The read path asks the same questions as of one store (passages by id, sentences of passages,
passages by article date, an article by id); the write path asks only about the rows a change
touches (articles by id or file, texts by hash), each an indexed lookup per segment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from indexer.index.segments import Segment, Tombstones
from indexer.index.store import StoredChunk, StoredDocument
from indexer.records import Document, Quote


class SegmentedStore:
    def __init__(self, segments: list[Segment], tombstones: Tombstones) -> None:
        self.segments = segments
        self.tombstones = tombstones
        self._dead_chunks = np.fromiter(tombstones.chunks, np.int64, len(tombstones.chunks))

    def _live_articles(self, found: list[tuple[int, StoredDocument]]) -> list[tuple[int, StoredDocument]]:
        return [(a, d) for a, d in found if a not in self.tombstones.articles]

    def documents(self) -> list[StoredDocument]:
        """Every live article, oldest segment first (what a rebuild or a migration reads)."""
        return [doc for _, doc in self.documents_with_ids()]

    def documents_with_ids(self) -> list[tuple[int, StoredDocument]]:
        return [pair for s in self.segments for pair in self._live_articles(s.store.documents_where("1"))]

    def find(self, doc_ids: Sequence[str]) -> dict[str, tuple[int, StoredDocument, int]]:
        """doc id -> (article id, article, segment number) of the live ones among ``doc_ids``."""
        found: dict[str, tuple[int, StoredDocument, int]] = {}
        doc_ids = list(dict.fromkeys(doc_ids))
        for number, segment in enumerate(self.segments):
            for begin in range(0, len(doc_ids), 500):
                part = doc_ids[begin:begin + 500]
                rows = segment.store.documents_where(f"doc_id IN ({','.join('?' * len(part))})", part)
                for article_id, doc in self._live_articles(rows):
                    found[doc.document.doc_id] = (article_id, doc, number)
        return found

    def under(self, folders: Sequence[str]) -> list[StoredDocument]:
        """Live articles loaded from a file under one of ``folders`` (for --prune)."""
        found = []
        for segment in self.segments:
            for folder in folders:
                prefix = folder.rstrip("/")
                rows = segment.store.documents_where(
                    "source_file = ? OR substr(source_file, 1, ?) = ?",
                    (prefix, len(prefix) + 1, prefix + "/"))
                found += [doc for _, doc in self._live_articles(rows)]
        return found

    def rows_of_articles(self, located: dict[str, tuple[int, StoredDocument, int]]):
        """The stable ids (articles, passages, sentences) and tokens of located articles."""
        articles, chunks, sentences, tokens = [], [], [], 0
        by_segment: dict[int, list[str]] = {}
        for doc_id, (_, _, number) in located.items():
            by_segment.setdefault(number, []).append(doc_id)
        for number, doc_ids in by_segment.items():
            a, c, s, t = self.segments[number].store.rows_of_articles(doc_ids)
            articles, chunks, sentences, tokens = articles + a, chunks + c, sentences + s, tokens + t
        return articles, chunks, sentences, tokens

    @property
    def has_quotes(self) -> bool:
        """Whether any segment holds attributed quotes (one written before them holds none)."""
        return any(s.store.has_quotes for s in self.segments)

    def quotes_of(self, doc_ids: Iterable[str]) -> dict[str, list[Quote]]:
        """doc id -> its quotes in text order, from the segment where the article is live."""
        doc_ids = list(dict.fromkeys(doc_ids))
        located = self.find(doc_ids) if self.has_quotes else {}
        found: dict[str, list[Quote]] = {d: [] for d in doc_ids}
        by_segment: dict[int, list[str]] = {}
        for doc_id, (_, _, number) in located.items():
            by_segment.setdefault(number, []).append(doc_id)
        for number, ids in by_segment.items():
            found.update(self.segments[number].store.quotes_of(ids))
        return found

    def get_document(self, doc_id: str) -> Document | None:
        found = self.find([doc_id]).get(doc_id)
        return found[1].document if found else None

    def date_range(self) -> tuple[str | None, str | None]:
        dates = [d.document.date for s in self.segments
                 for _, d in self._live_articles(s.store.documents_where("date IS NOT NULL"))]
        return (min(dates), max(dates)) if dates else (None, None)

    def get_chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        found: dict[int, StoredChunk] = {}
        wanted = [int(i) for i in ids if int(i) not in self.tombstones.chunks]
        for segment in self.segments:
            if wanted:
                found.update(segment.store.get_chunks(wanted))
        return found

    def sentences_of(self, chunk_ids: Sequence[int]) -> dict[int, list[tuple[int, int, int]]]:
        found: dict[int, list[tuple[int, int, int]]] = {int(c): [] for c in chunk_ids}
        for segment in self.segments:
            for chunk_id, rows in segment.store.sentences_of(list(found)).items():
                found[chunk_id] += rows
        return found

    def chunk_ids(self) -> np.ndarray:
        """Every live passage id, ascending."""
        ids = [i for seg in self.segments for i, _, _ in seg.store.chunk_rows()
               if i not in self.tombstones.chunks]
        return np.asarray(sorted(ids), np.int64)

    def sentence_rows(self) -> list[tuple[int, int, int, int, str]]:
        """(sentence id, passage id, start, end, text hash) of every live sentence, by id."""
        return sorted(r for seg in self.segments for r in seg.store.sentence_rows()
                      if r[0] not in self.tombstones.sentences)

    def sentence_chunks(self) -> np.ndarray:
        """The passage id of every sentence id (-1 where none lives: deleted, or never given)."""
        space = max((int(s.sentence_ids[-1]) + 1 for s in self.segments if len(s.sentence_ids)),
                    default=0)
        out = np.full(space, -1, np.int64)
        for segment in self.segments:
            rows = segment.store._rows("SELECT id, chunk_id FROM sentences ORDER BY id")
            if rows:
                pairs = np.asarray(rows, np.int64)
                out[pairs[:, 0]] = pairs[:, 1]
        if self.tombstones.sentences:
            dead = np.fromiter(self.tombstones.sentences, np.int64)
            out[dead[dead < space]] = -1
        return out

    def article_of(self, id_space: int) -> np.ndarray:
        """The article id of every passage id below ``id_space`` (-1 where none lives)."""
        out = np.full(id_space, -1, np.int64)
        for segment in self.segments:
            rows = segment.store.article_chunks()
            if rows:
                pairs = np.asarray(rows, np.int64)
                pairs = pairs[pairs[:, 0] < id_space]
                out[pairs[:, 0]] = pairs[:, 1]
        if len(self._dead_chunks):
            dead = self._dead_chunks[self._dead_chunks < id_space]
            out[dead] = -1
        return out

    def chunk_ids_for_dates(self, keep) -> np.ndarray:
        found = [s.store.chunk_ids_for_dates(keep) for s in self.segments]
        ids = np.sort(np.concatenate(found)) if found else np.empty(0, np.int64)
        if len(self._dead_chunks):
            ids = ids[~np.isin(ids, self._dead_chunks)]
        return ids

    def close(self) -> None:
        for segment in self.segments:
            segment.store.close()
