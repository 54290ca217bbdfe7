"""One published index version, opened as a whole: the one way to open a version's parts.

The searcher, the writer (which builds on the published version), `info`, `/stats` and the tests
all open a version here, so only this module, the segments and the manifest know a version's
file layout. A version is segments plus tombstones (indexer/index/segments.py); what it offers
is one store, one vector index per part and keyword indexes of passages and of articles, all over
stable ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from indexer.index.keywords import KeywordBackend, load_keyword_index
from indexer.index.keywords.articles import ArticleKeywords
from indexer.index.manifest import ARTICLE_KEYWORDS, KEYWORDS, MANIFEST, SEGMENTS, Manifest
from indexer.index.segmented_store import SegmentedStore
from indexer.index.segments import Segment, Tombstones, open_segments, read_tombstones
from indexer.index.stores import store_of
from indexer.index.stores.base import VectorStore


@dataclass
class IndexVersion:
    path: Path
    manifest: Manifest
    store: SegmentedStore
    passages: VectorStore | None = None
    sentences: VectorStore | None = None
    keywords: KeywordBackend | None = None
    articles: ArticleKeywords | None = None  # None in versions written before it
    segments: list[Segment] = field(default_factory=list)
    tombstones: Tombstones = field(default_factory=Tombstones)

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
        tombstones = read_tombstones(path)
        store = store_of(manifest.vector_store)
        # damage is named there
        segments = open_segments(path, manifest, vectors and store.files, mmap)
        version = cls(path, manifest, SegmentedStore(segments, tombstones), segments=segments,
                      tombstones=tombstones)
        try:
            if vectors:
                version.passages, version.sentences = store.open_parts(
                    path, manifest, segments, tombstones)
            if keywords:
                version.keywords = load_keyword_index(path / KEYWORDS, manifest.keyword_index,
                                                      str(path / MANIFEST), mmap)
                if manifest.article_index:
                    version.articles = ArticleKeywords.load(
                        path / ARTICLE_KEYWORDS,
                        version.store.article_of(int(manifest.next_ids.get("chunks", 0))),
                        tuple(path / SEGMENTS / e["name"] for e in manifest.segments), mmap)
        except BaseException:
            version.close()
            raise
        return version

    def close(self) -> None:
        self.store.close()
        for part in (self.passages, self.sentences):
            if hasattr(part, "close"):  # a store with a connection (Milvus)
                part.close()
        for keywords in (self.keywords, self.articles.index if self.articles is not None else None):
            if hasattr(keywords, "close"):  # tantivy's view of a read-only folder
                keywords.close()

    def __enter__(self) -> IndexVersion:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
