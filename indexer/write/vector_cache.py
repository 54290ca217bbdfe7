"""Every vector the index's model has made, by the hash of its text: so that no text is embedded
twice, also when an article is removed and comes back, or a correction is reverted.

It lives beside the versions (INDEX/vector-cache.sqlite), not in them: a version holds what a
search needs, the cache what a writer can reuse. Entries are facts (this text, this model, this
vector) that never change, so a crash can at worst lose the last run's entries (SQLite rolls the
transaction back); it can never make a version wrong. Only the writer holding the lock opens it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

CACHE_FILE = "vector-cache.sqlite"


class VectorCache:
    def __init__(self, conn: sqlite3.Connection, dim: int) -> None:
        self._conn = conn
        self.dim = dim

    @classmethod
    def open(cls, root: Path, fingerprint: str, dim: int) -> VectorCache:
        conn = sqlite3.connect(root / CACHE_FILE)
        # WAL without a sync per commit: a crash loses at most the last entries (see above),
        # and a commit no longer waits for the disk (a third of a one-article change did).
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS meta (fingerprint TEXT NOT NULL, dim INTEGER NOT NULL)")
        conn.execute("CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        row = conn.execute("SELECT fingerprint, dim FROM meta").fetchone()
        if row is None:
            conn.execute("INSERT INTO meta VALUES (?, ?)", (fingerprint, dim))
        elif row != (fingerprint, dim):  # another model's vectors: of no use, start afresh
            conn.execute("DELETE FROM vectors")
            conn.execute("UPDATE meta SET fingerprint = ?, dim = ?", (fingerprint, dim))
        conn.commit()
        return cls(conn, dim)

    def get(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            batch = list(hashes[start:start + 500])
            marks = ",".join("?" * len(batch))
            for h, blob in self._conn.execute(
                    f"SELECT hash, vector FROM vectors WHERE hash IN ({marks})", batch):
                found[h] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def put(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        self._conn.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)",
                               ((h, np.asarray(v, np.float32).tobytes()) for h, v in items))
        self._conn.commit()

    def __len__(self) -> int:
        return self._conn.execute("SELECT count(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        self._conn.close()
