"""One published index version, opened as a whole: the one way to open a version's parts.

The searcher, the writer (which builds on the published version), `info`, `/stats` and the tests
all open a version here, so only this module and the manifest know a version's file layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
from indexer.index.vectors import load_checked_vector_index
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
    def open(cls, path: Path, vectors: bool = True, keywords: bool = True,
             mmap: bool = False) -> IndexVersion:
        """The version at ``path``: its manifest and store, and (unless left out) its vector
        and keyword indexes, each checked against the manifest. A damaged part raises
        IndexFormatError naming its file. ``mmap``: map the parts' files instead of reading
        them, to check a version cheaply (`info`), not to search it."""
        manifest = Manifest.from_file(path / MANIFEST)
        store = ChunkStore.open(path / STORE)  # checks its own tables: damage is named there
        version = cls(path, manifest, store)
        try:
            source = str(path / MANIFEST)
            if vectors:
                described, counts = manifest.vector_indexes, (manifest.chunks, manifest.sentences)
                version.passages, version.sentences = (
                    load_checked_vector_index(path / file, count, manifest.dim,
                                              described.get(part), source, mmap)
                    for (part, file), count in zip(PARTS.items(), counts))
            if keywords:
                version.keywords = load_keyword_index(path / KEYWORDS, manifest.keyword_index,
                                                      source, mmap)
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
