"""What an index holds, compared across runs: for tests of incremental and interrupted writes."""

from __future__ import annotations

import numpy as np

from indexer.index.directory import IndexDirectory
from indexer.index.version import IndexVersion


def segment_file(version, name: str, number: int = 0):
    """The file ``name`` of the version's segment ``number`` (oldest first), made the
    version's own (segments are hard links shared with other versions: a test that damages a
    file must not damage the others)."""
    import json
    import shutil

    entry = json.loads((version / "manifest.json").read_text())["segments"][number]
    path = version / "segments" / entry["name"] / name
    if path.is_file():
        shutil.copy2(path, path.with_suffix(".own"))
        path.with_suffix(".own").replace(path)
    return path


def snapshot(root) -> dict:
    """Everything a search can see, independent of ids and segments: articles, passages with their vectors,
    sentences. Also checks that the version agrees with itself (manifest, store, FAISS, BM25)."""
    with IndexVersion.open(IndexDirectory(root).current_version()) as version:
        manifest, store = version.manifest, version.store
        passages, sentences = version.passages, version.sentences
        documents = store.documents()
        ids = store.chunk_ids()
        chunks = store.get_chunks(ids.tolist())
        rows = store.sentence_rows()
        vectors = dict(zip(ids.tolist(), passages.vectors(ids)))
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
