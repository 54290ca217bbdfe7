"""What an index holds, compared across runs: for tests of incremental and interrupted writes."""

from __future__ import annotations

import numpy as np

from indexer.index.directory import IndexDirectory
from indexer.index.version import IndexVersion


def snapshot(root) -> dict:
    """Everything a search can see, independent of ids: articles, passages with their vectors,
    sentences. Also checks that the version agrees with itself (manifest, store, FAISS, BM25)."""
    with IndexVersion.open(IndexDirectory(root).current_version()) as version:
        manifest, store = version.manifest, version.store
        passages, sentences = version.passages, version.sentences
        documents = store.documents()
        chunks = store.get_chunks(list(range(len(passages))))
        rows = store.sentence_rows()
        vectors = passages.vectors(np.arange(len(passages)))
        assert (manifest.articles, manifest.chunks, manifest.sentences) == \
            (len(documents), len(chunks), len(rows)) == \
            (len(documents), len(passages), len(sentences)), "the version disagrees with itself"
        assert len(version.keywords) == len(passages)
        return {
            "docs": {d.document.doc_id: (d.document.text, d.document.date, d.content_hash)
                     for d in documents},
            "chunks": {(r.chunk.doc_id, r.chunk.ordinal, r.chunk.start, r.chunk.end):
                       vectors[i].round(5).tobytes() for i, r in chunks.items()},
            "sentences": sorted((chunks[c].chunk.doc_id, s, e) for _, c, s, e, _ in rows),
        }
