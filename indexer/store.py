"""The chunk store: articles and chunks in SQLite, keyed by the ids the vector index holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.chunking import Chunk
from indexer.documents import Document

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, title TEXT, date TEXT, url TEXT, source TEXT, origin TEXT,
    text TEXT NOT NULL
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,               -- the id in the vector index
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL, text TEXT NOT NULL,
    UNIQUE (doc_id, ordinal)
);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY,               -- the id in the sentence vector index
    chunk_id INTEGER NOT NULL REFERENCES chunks(id),
    start INTEGER NOT NULL, "end" INTEGER NOT NULL
);
CREATE INDEX sentences_by_chunk ON sentences (chunk_id);
"""


@dataclass(frozen=True)
class StoredChunk:
    """A chunk joined with its article's metadata: what a search hit is made of."""

    id: int
    chunk: Chunk
    title: str | None
    date: str | None


class ChunkStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def create(cls, path: Path) -> ChunkStore:
        conn = sqlite3.connect(path)
        conn.executescript(_SCHEMA)
        return cls(conn)

    @classmethod
    def open(cls, path: Path) -> ChunkStore:
        # Read-only and immutable: a published index version is never written again.
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                               check_same_thread=False)
        return cls(conn)

    def add_documents(self, docs: Iterable[Document]) -> None:
        self._conn.executemany(
            "INSERT INTO documents (doc_id, title, date, url, source, origin, text) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((d.doc_id, d.title, d.date, d.url, d.source, d.origin, d.text) for d in docs))

    def add_chunks(self, ids: Sequence[int], chunks: Sequence[Chunk]) -> None:
        self._conn.executemany(
            'INSERT INTO chunks (id, doc_id, ordinal, start, "end", n_tokens, text) '
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((int(i), c.doc_id, c.ordinal, c.start, c.end, c.n_tokens, c.text)
             for i, c in zip(ids, chunks)))

    def add_sentences(self, rows: Sequence[tuple[int, int, int, int]]) -> None:
        """(sentence id, chunk id, start, end) rows; offsets into the article text."""
        self._conn.executemany('INSERT INTO sentences (id, chunk_id, start, "end") VALUES (?, ?, ?, ?)',
                               rows)

    def sentences_of(self, chunk_ids: Sequence[int]) -> dict[int, list[tuple[int, int, int]]]:
        """chunk id -> [(sentence id, start, end)] in text order."""
        found: dict[int, list[tuple[int, int, int]]] = {int(c): [] for c in chunk_ids}
        if not found:
            return found
        marks = ",".join("?" * len(found))
        rows = self._conn.execute(
            f'SELECT chunk_id, id, start, "end" FROM sentences WHERE chunk_id IN ({marks}) ORDER BY id',
            list(found))
        for chunk_id, sentence_id, start, end in rows:
            found[chunk_id].append((sentence_id, start, end))
        return found

    def sentence_chunks(self) -> np.ndarray:
        """The chunk id of every sentence, indexed by sentence id."""
        return np.fromiter((r[0] for r in self._conn.execute(
            "SELECT chunk_id FROM sentences ORDER BY id")), dtype=np.int64)

    def chunk_ids_for_dates(self, keep) -> list[int]:
        """Ids of the chunks whose article's date satisfies ``keep(date)``, in id order."""
        verdicts: dict[str | None, bool] = {}  # few distinct dates: judge each once
        ids = []
        for chunk_id, date in self._conn.execute(
                "SELECT c.id, d.date FROM chunks c JOIN documents d USING (doc_id) ORDER BY c.id"):
            if date not in verdicts:
                verdicts[date] = keep(date)
            if verdicts[date]:
                ids.append(chunk_id)
        return ids

    def commit(self) -> None:
        self._conn.commit()

    def get_chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._conn.execute(
            'SELECT c.id, c.doc_id, c.ordinal, c.start, c."end", c.text, c.n_tokens, d.title, d.date '
            f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.id IN ({marks})",
            [int(i) for i in ids])
        return {row[0]: StoredChunk(row[0], Chunk(row[1], row[2], row[3], row[4], row[5], row[6]),
                                    row[7], row[8]) for row in rows}

    def get_document(self, doc_id: str) -> Document | None:
        row = self._conn.execute(
            "SELECT doc_id, text, title, date, url, source, origin FROM documents WHERE doc_id = ?",
            (doc_id,)).fetchone()
        return Document(*row) if row else None

    def date_range(self) -> tuple[str | None, str | None]:
        return self._conn.execute("SELECT min(date), max(date) FROM documents").fetchone()

    def close(self) -> None:
        self._conn.close()
