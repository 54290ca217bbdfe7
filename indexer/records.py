"""The records both paths share: an article, one of its passages, one of its quotes.

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


@dataclass(frozen=True)
class Quote:
    """Words an article gives to someone, found at index time (indexer.write.quotes).

    ``start``/``end``: the quoted words (inside the quote marks), or for reported speech without
    marks ("volgens X ...", "X zei dat ...") the sentence; ``speaker_start``/``speaker_end``: the
    words that name the speaker there (a name, a role, or "hij" whose antecedent ``speaker``
    is). All are code-point offsets into the article text."""

    doc_id: str
    start: int
    end: int
    speaker: str  # as the article writes the name at its fullest ("Joe Biden")
    speaker_key: str  # indexer.index.names.name_key of it, space-joined ("joe biden")
    speaker_start: int
    speaker_end: int
    kind: str  # "direct" (between quote marks) or "indirect" (reported speech)
