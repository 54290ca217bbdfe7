"""Index directories for the parts: built in this process or by the `vraagbaak` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def build_index(root: Path, embedder, paths: list[Path], max_tokens: int | None = None):
    """``paths`` indexed into ``root`` by the write path (as `vraagbaak index` does); the report."""
    from indexer.index.directory import IndexDirectory
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.pipeline import load_for_index, update_index

    chunker = ParagraphChunker(embedder, max_tokens) if max_tokens else ParagraphChunker(embedder)
    return update_index(IndexDirectory(root), embedder, chunker, load_for_index(paths))


def directory(root: Path):
    from indexer.index.directory import IndexDirectory

    return IndexDirectory(root)


def size_bytes(root: Path) -> int:
    """The published version's files, in bytes."""
    version = directory(root).current_version()
    return sum(p.stat().st_size for p in version.rglob("*") if p.is_file())


def embedded_texts(root: Path) -> list[str]:
    """What the pipeline embeds: every passage, and every sentence that is not a whole passage,
    each text once."""
    from indexer.index.version import IndexVersion

    with IndexVersion.open(directory(root).current_version(), vectors=False,
                           keywords=False) as version:
        store = version.store
        ids = store.chunk_ids().tolist()
        chunks = store.get_chunks(ids)
        passages = [chunks[i].chunk.text for i in ids]
        texts = {}
        for _, chunk_id, start, end, _ in store.sentence_rows():
            chunk = chunks[chunk_id].chunk
            if (start, end) != (chunk.start, chunk.end):
                doc = texts.setdefault(chunk.doc_id, store.get_document(chunk.doc_id).text)
                passages.append(doc[start:end])
        return list(dict.fromkeys(passages))


def vraagbaak() -> str:
    """The `vraagbaak` command of this virtualenv."""
    return str(Path(sys.executable).parent / "vraagbaak")


def index_with_cli(paths: list[Path], root: Path) -> None:
    """`vraagbaak index` in its own process (nothing of the model stays loaded here)."""
    subprocess.run([vraagbaak(), "index", *map(str, paths), "--index", str(root)], check=True,
                   stdout=subprocess.DEVNULL, env=os.environ | {"HF_HUB_OFFLINE": "1"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
