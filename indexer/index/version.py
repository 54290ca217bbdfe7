"""One published index version, opened as a whole: the one way to open a version's parts.

The searcher, the writer (which builds on the published version), `info`, `/stats` and the tests
all open a version here, so only this module and the manifest know a version's file layout.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import IndexFormatError
from indexer.index.keywords import KeywordBackend, load_keyword_index
from indexer.index.manifest import (
    KEYWORDS,
    MANIFEST,
    SENTENCE_VECTORS,
    STORE,
    VECTORS,
    Manifest,
)
from indexer.index.store import ChunkStore
from indexer.index.vectors import load_vector_index
from indexer.index.vectors.base import VectorIndex

PARTS = {"passages": VECTORS, "sentences": SENTENCE_VECTORS}  # vector index -> its file


@dataclass
class IndexVersion:
    path: Path
    manifest: Manifest
    store: ChunkStore
    passages: VectorIndex | None = None
    sentences: VectorIndex | None = None
    keywords: KeywordBackend | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def open(cls, path: Path, vectors: bool = True, keywords: bool = True) -> IndexVersion:
        """The version at ``path``: its manifest and store, and (unless left out) its vector
        and keyword indexes. A damaged part raises IndexFormatError naming its file."""
        manifest = Manifest.from_file(path / MANIFEST)
        store = _open_store(path / STORE)
        version = cls(path, manifest, store)
        try:
            source = str(path / MANIFEST)
            if vectors:
                described = manifest.vector_indexes
                version.passages, version.sentences = (
                    load_vector_index(path / file, described.get(part), source)
                    for part, file in PARTS.items())
            if keywords:
                version.keywords = load_keyword_index(path / KEYWORDS, manifest.keyword_index,
                                                      source)
        except BaseException:
            version.close()
            raise
        return version

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> IndexVersion:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open_store(path: Path) -> ChunkStore:
    try:
        return ChunkStore.open(path)
    except sqlite3.Error as exc:
        raise IndexFormatError(f"the chunk store {path} cannot be opened ({exc})",
                               hint="re-run `vraagbaak index` to rebuild the index") from exc
