"""The records both paths share: an article and one of its passages.

The write path makes them (indexer.write), the index stores them (indexer.index.store), and the
read path shows them (search); so they live here, below all three.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One article. ``text`` is the body every chunk offset points into."""

    doc_id: str
    text: str
    title: str | None = None
    date: str | None = None
    url: str | None = None
    source: str | None = None
    origin: str = ""  # where it came from, "path" or "path:line", for messages



@dataclass(frozen=True)
class Chunk:
    doc_id: str
    ordinal: int  # position of the chunk within its article, from 0
    start: int  # character offsets into the article text: text == doc.text[start:end]
    end: int
    text: str
    n_tokens: int

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}#{self.ordinal}"
