"""Index directories for the parts: built in this process or by the `vraagbaak` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def build_index(root: Path, embedder, paths: list[Path], max_tokens: int | None = None,
                sentence_vectors: str | None = None, batch_size: int | None = None):
    """``paths`` indexed into ``root`` by the write path (as `vraagbaak index` does); the report.
    ``sentence_vectors`` and ``batch_size``: update_index's, its defaults unless given."""
    from indexer.index.directory import IndexDirectory
    from indexer.write.chunking import ParagraphChunker
    from indexer.write.pipeline import load_for_index, update_index

    chunker = ParagraphChunker(embedder, max_tokens) if max_tokens else ParagraphChunker(embedder)
    extra = {k: v for k, v in (("sentence_vectors", sentence_vectors), ("batch_size", batch_size))
             if v is not None}
    return update_index(IndexDirectory(root), embedder, chunker, load_for_index(paths), **extra)


def directory(root: Path):
    from indexer.index.directory import IndexDirectory

    return IndexDirectory(root)


def size_bytes(root: Path) -> int:
    """The published version's files, in bytes."""
    version = directory(root).current_version()
    return sum(p.stat().st_size for p in version.rglob("*") if p.is_file())


def embedded_texts(root: Path, passages: bool = True) -> list[str]:
    """What the pipeline embeds: every sentence, and (``passages``) every passage, each text
    once (a sentence that is a whole passage is the same text)."""
    import sqlite3

    from indexer.index.manifest import STORE

    db = sqlite3.connect(directory(root).current_version() / STORE)
    try:
        chunks = [row[0] for row in db.execute("SELECT text FROM chunks ORDER BY id")] if passages else []
        sentences = [row[0] for row in db.execute(
            'SELECT substr(d.text, s.start + 1, s."end" - s.start) FROM sentences s '
            "JOIN chunks c ON c.id = s.chunk_id JOIN documents d ON d.doc_id = c.doc_id ORDER BY s.id")]
        return list(dict.fromkeys(chunks + sentences))
    finally:
        db.close()


def passage_texts(root: Path) -> list[str]:
    """Every passage, each text once: what the pipeline embeds with late chunking."""
    import sqlite3

    from indexer.index.manifest import STORE

    db = sqlite3.connect(directory(root).current_version() / STORE)
    try:
        return list(dict.fromkeys(row[0] for row in db.execute("SELECT text FROM chunks ORDER BY id")))
    finally:
        db.close()


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
