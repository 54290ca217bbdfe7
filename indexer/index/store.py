"""The chunk store of one segment: its articles, passages and sentences in SQLite, by stable id.

Row i of the segment's vector files is its i-th passage (sentence) by id; a write asks only for
the rows it touches (by article, by text hash, by file), each through an index, so the cost of a
change does not grow with the segment."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.errors import IndexFormatError
from indexer.index.manifest import REBUILD_HINT
from indexer.records import Chunk, Document, Quote

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    article_id INTEGER NOT NULL UNIQUE,   -- the stable id, never given again
    title TEXT, date TEXT, url TEXT, source TEXT, origin TEXT,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,           -- of text and metadata: unchanged articles are skipped
    source_file TEXT,                     -- resolved path it was loaded from (for --prune)
    language TEXT                         -- detected, for the corpus language
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,               -- the stable passage id
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL, text TEXT NOT NULL,
    text_hash TEXT NOT NULL,              -- a text with a known hash is never embedded again
    UNIQUE (doc_id, ordinal)
);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY,               -- the stable sentence id
    chunk_id INTEGER NOT NULL REFERENCES chunks(id),
    start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    text_hash TEXT NOT NULL
);
CREATE INDEX sentences_by_chunk ON sentences (chunk_id);
CREATE INDEX chunks_by_hash ON chunks (text_hash);
CREATE INDEX sentences_by_hash ON sentences (text_hash);
CREATE INDEX documents_by_file ON documents (source_file);
CREATE TABLE quotes (                     -- who said what (indexer.write.quotes)
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    start INTEGER NOT NULL, "end" INTEGER NOT NULL,          -- the quoted words
    speaker TEXT NOT NULL, speaker_key TEXT NOT NULL,
    speaker_start INTEGER NOT NULL, speaker_end INTEGER NOT NULL,  -- where the speaker is named
    kind TEXT NOT NULL                    -- direct (quote marks) or indirect (reported speech)
);
CREATE INDEX quotes_by_document ON quotes (doc_id, start);
CREATE TABLE quote_rules (version INTEGER NOT NULL);  -- the rules that found them
"""
_QUOTE_COLUMNS = 'doc_id, start, "end", speaker, speaker_key, speaker_start, speaker_end, kind'  # Quote's fields


@dataclass(frozen=True)
class StoredDocument:
    """An article as the store keeps it, with what incremental indexing compares."""

    document: Document
    content_hash: str
    source_file: str | None
    language: str | None


@dataclass(frozen=True)
class StoredChunk:
    """A chunk joined with its article's metadata: what a search hit is made of."""

    id: int
    chunk: Chunk
    title: str | None
    date: str | None


class ChunkStore:
    """One SQLite connection. A published store is read by the server's threads at once, so
    every read holds the store's own lock: one query at a time on the shared connection, which
    does not rely on the SQLite build serialising connections itself (threadsafety 3 here, 1 in
    some builds, where sharing a connection between threads is unsafe)."""

    def __init__(self, conn: sqlite3.Connection, immutable: bool = False,
                 quotes: bool = True) -> None:
        self._conn = conn
        self.has_quotes = quotes  # an index built before quotes were attributed has no table
        self._lock = threading.Lock()
        self._immutable = immutable
        self._chunk_dates: tuple[list, np.ndarray, np.ndarray] | None = None

    @classmethod
    def create(cls, path: Path) -> ChunkStore:
        conn = sqlite3.connect(path)
        # A new store lives in the staging version, which nobody reads before it is published and
        # which publishing fsyncs file by file: SQLite's own journal and syncs would only repeat
        # that (and cost more than the rest of a one-article change).
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.executescript(_SCHEMA)
        return cls(conn)

    @classmethod
    def open(cls, path: Path) -> ChunkStore:
        # Read-only and immutable: a published index version is never written again.
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                               check_same_thread=False)
        try:  # sqlite reads nothing until asked: ask now, so a damaged file fails here, by name
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.Error as exc:
            conn.close()
            raise IndexFormatError(f"the passage store {path} cannot be read ({exc})",
                                   hint=REBUILD_HINT) from exc
        missing = sorted({"documents", "chunks", "sentences"} - tables)
        if missing:
            conn.close()
            raise IndexFormatError(f"the passage store {path} is damaged: it lacks the tables "
                                   f"{', '.join(missing)}", hint=REBUILD_HINT)
        return cls(conn, immutable=True, quotes={"quotes", "quote_rules"} <= tables)

    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def add_documents(self, docs: Iterable[StoredDocument], article_ids: Iterable[int]) -> None:
        self._conn.executemany(
            "INSERT INTO documents (doc_id, article_id, title, date, url, source, origin, text, "
            "content_hash, source_file, language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((s.document.doc_id, int(a), s.document.title, s.document.date, s.document.url,
              s.document.source, s.document.origin, s.document.text, s.content_hash,
              s.source_file, s.language) for s, a in zip(docs, article_ids)))

    def ids(self) -> tuple[np.ndarray, np.ndarray]:
        """The passage and the sentence ids, ascending: the rows of the vector files."""
        return tuple(np.fromiter((r[0] for r in self._rows(f"SELECT id FROM {t} ORDER BY id")),
                                 np.int64) for t in ("chunks", "sentences"))

    def documents_where(self, where: str, params: Sequence = ()) -> list[tuple[int, StoredDocument]]:
        """(article id, article) of the articles matching an SQL condition on ``documents``."""
        rows = self._rows(
            "SELECT article_id, doc_id, text, title, date, url, source, origin, content_hash, "
            f"source_file, language FROM documents WHERE {where} ORDER BY article_id", params)
        return [(r[0], StoredDocument(Document(*r[1:8]), r[8], r[9], r[10])) for r in rows]

    def rows_of_articles(self, doc_ids: Sequence[str]) -> tuple[list, list, list, int]:
        """The stable article, passage and sentence ids of these articles, and their tokens."""
        if not doc_ids:
            return [], [], [], 0
        marks = ",".join("?" * len(doc_ids))
        articles = [r[0] for r in self._rows(
            f"SELECT article_id FROM documents WHERE doc_id IN ({marks})", list(doc_ids))]
        chunks = self._rows(f"SELECT id, n_tokens FROM chunks WHERE doc_id IN ({marks})",
                            list(doc_ids))
        chunk_ids = [r[0] for r in chunks]
        sentences = []
        for begin in range(0, len(chunk_ids), 500):
            part = chunk_ids[begin:begin + 500]
            sentences += [r[0] for r in self._rows(
                f"SELECT id FROM sentences WHERE chunk_id IN ({','.join('?' * len(part))})", part)]
        return articles, chunk_ids, sentences, sum(r[1] for r in chunks)

    def ids_for_hashes(self, table: str, hashes: Sequence[str]) -> dict[str, int]:
        """text hash -> a passage (``table`` "chunks") or sentence id holding that text."""
        found: dict[str, int] = {}
        for begin in range(0, len(hashes), 500):
            part = list(hashes[begin:begin + 500])
            found.update(self._rows(f"SELECT text_hash, id FROM {table} WHERE text_hash IN "
                                    f"({','.join('?' * len(part))})", part))
        return found

    def add_chunks(self, ids: Sequence[int], chunks: Sequence[Chunk], hashes: Sequence[str]) -> None:
        self._conn.executemany(
            'INSERT INTO chunks (id, doc_id, ordinal, start, "end", n_tokens, text, text_hash) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ((int(i), c.doc_id, c.ordinal, c.start, c.end, c.n_tokens, c.text, h)
             for i, c, h in zip(ids, chunks, hashes)))

    def add_sentences(self, rows: Sequence[tuple[int, int, int, int, str]]) -> None:
        """(sentence id, chunk id, start, end, text hash) rows; offsets into the article text."""
        self._conn.executemany(
            'INSERT INTO sentences (id, chunk_id, start, "end", text_hash) VALUES (?, ?, ?, ?, ?)', rows)

    def add_quotes(self, quotes: Iterable[Quote], rules: int) -> None:
        """The quotes, found by the attribution rules of version ``rules``."""
        self._conn.execute("INSERT INTO quote_rules (version) VALUES (?)", (rules,))
        self._conn.executemany(
            f"INSERT INTO quotes ({_QUOTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ((q.doc_id, q.start, q.end, q.speaker, q.speaker_key, q.speaker_start, q.speaker_end,
              q.kind) for q in quotes))

    def quote_rules(self) -> int | None:
        """The version of the rules that found the stored quotes; None without quotes."""
        if not self.has_quotes:
            return None
        rows = self._rows("SELECT max(version) FROM quote_rules")
        return rows[0][0] if rows else None

    def quotes_by_document(self) -> dict[str, list[Quote]]:
        """doc id -> its quotes in text order, for every article that has any."""
        found: dict[str, list[Quote]] = {}
        if self.has_quotes:
            for row in self._rows(f"SELECT {_QUOTE_COLUMNS} FROM quotes ORDER BY doc_id, start"):
                found.setdefault(row[0], []).append(Quote(*row))
        return found

    def quotes_of(self, doc_ids: Iterable[str]) -> dict[str, list[Quote]]:
        """doc id -> its quotes in text order (none for an index without the quotes table)."""
        wanted = sorted(set(doc_ids))
        found: dict[str, list[Quote]] = {d: [] for d in wanted}
        if not wanted or not self.has_quotes:
            return found
        marks = ",".join("?" * len(wanted))
        for row in self._rows(f"SELECT {_QUOTE_COLUMNS} FROM quotes WHERE doc_id IN ({marks}) "
                              "ORDER BY doc_id, start", wanted):
            found[row[0]].append(Quote(*row))
        return found

    def documents(self) -> list[StoredDocument]:
        """Every article, in the order they were added."""
        return [doc for _, doc in self.documents_where("1")]

    def chunks_by_document(self) -> dict[str, list[tuple[int, Chunk]]]:
        """doc id -> [(chunk id, chunk)] in text order."""
        found: dict[str, list[tuple[int, Chunk]]] = {}
        for row in self._rows(
                'SELECT id, doc_id, ordinal, start, "end", text, n_tokens FROM chunks ORDER BY id'):
            found.setdefault(row[1], []).append((row[0], Chunk(*row[1:])))
        return found

    def chunk_rows(self) -> list[tuple[int, Chunk, str]]:
        """(passage id, passage, text hash) of every passage, by id (what a merge copies)."""
        return [(r[0], Chunk(*r[1:7]), r[7]) for r in self._rows(
            'SELECT id, doc_id, ordinal, start, "end", text, n_tokens, text_hash FROM chunks '
            "ORDER BY id")]

    def article_chunks(self) -> list[tuple[int, int]]:
        """(passage id, article id) of every passage."""
        return self._rows("SELECT c.id, d.article_id FROM chunks c JOIN documents d USING (doc_id)")

    def sentence_rows(self) -> list[tuple[int, int, int, int, str]]:
        """(sentence id, chunk id, start, end, text hash) of every sentence, by id."""
        return self._rows('SELECT id, chunk_id, start, "end", text_hash FROM sentences ORDER BY id')

    def text_hashes(self) -> tuple[dict[str, int], dict[str, int]]:
        """text hash -> a chunk id, and -> a sentence id, holding a vector of that text."""
        chunks = dict(self._rows("SELECT text_hash, id FROM chunks"))
        sentences = dict(self._rows("SELECT text_hash, id FROM sentences"))
        return chunks, sentences

    def sentences_of(self, chunk_ids: Sequence[int]) -> dict[int, list[tuple[int, int, int]]]:
        """chunk id -> [(sentence id, start, end)] in text order."""
        found: dict[int, list[tuple[int, int, int]]] = {int(c): [] for c in chunk_ids}
        if not found:
            return found
        marks = ",".join("?" * len(found))
        rows = self._rows(
            f'SELECT chunk_id, id, start, "end" FROM sentences WHERE chunk_id IN ({marks}) ORDER BY id',
            list(found))
        for chunk_id, sentence_id, start, end in rows:
            found[chunk_id].append((sentence_id, start, end))
        return found

    def sentence_chunks(self) -> np.ndarray:
        """The chunk id of every sentence, indexed by sentence id."""
        return np.fromiter((r[0] for r in self._rows("SELECT chunk_id FROM sentences ORDER BY id")),
                           dtype=np.int64)

    def chunk_ids_for_dates(self, keep) -> np.ndarray:
        """Ids of the chunks whose article's date satisfies ``keep(date)``, ascending.

        ``keep`` is asked once per distinct date; the chunks follow in one numpy pass. A published
        (immutable) store reads its chunk dates once: read per search, they cost more than the
        search and grew with the index."""
        distinct, ids, codes = self._chunk_dates or self._read_chunk_dates()
        verdicts = np.fromiter((bool(keep(date)) for date in distinct), bool, len(distinct))
        return ids[verdicts[codes]] if len(ids) else ids

    def _read_chunk_dates(self) -> tuple[list, np.ndarray, np.ndarray]:
        """Distinct dates, chunk ids, and each chunk's index into the distinct dates."""
        dates: dict[str | None, int] = {}
        ids, codes = [], []
        for chunk_id, date in self._rows(
                "SELECT c.id, d.date FROM chunks c JOIN documents d USING (doc_id) ORDER BY c.id"):
            ids.append(chunk_id)
            codes.append(dates.setdefault(date, len(dates)))
        read = (list(dates), np.array(ids, np.int64), np.array(codes, np.int64))
        if self._immutable:
            self._chunk_dates = read
        return read

    def commit(self) -> None:
        self._conn.commit()

    def get_chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._rows(
            'SELECT c.id, c.doc_id, c.ordinal, c.start, c."end", c.text, c.n_tokens, d.title, d.date '
            f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.id IN ({marks})",
            [int(i) for i in ids])
        return {row[0]: StoredChunk(row[0], Chunk(row[1], row[2], row[3], row[4], row[5], row[6]),
                                    row[7], row[8]) for row in rows}

    def get_document(self, doc_id: str) -> Document | None:
        rows = self._rows(
            "SELECT doc_id, text, title, date, url, source, origin FROM documents WHERE doc_id = ?",
            (doc_id,))
        return Document(*rows[0]) if rows else None

    def date_range(self) -> tuple[str | None, str | None]:
        return self._rows("SELECT min(date), max(date) FROM documents")[0]

    def close(self) -> None:
        self._conn.close()
