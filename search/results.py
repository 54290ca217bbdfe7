"""What a search returns. Field names are the stable JSON contract for programs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    score: float
    text: str
    start: int  # character offsets of ``text`` in the article's text
    end: int
    snippet: str  # the sentence(s) that best answer the question
    snippet_start: int
    snippet_end: int
    highlights: list[list[int]] = field(default_factory=list)  # [start, end] of matched words
    passage_id: int | None = None  # the stable id: never given to another passage, kept by merges


@dataclass(frozen=True)
class Duplicate:
    """The same passage in another place (wire copy in another article, or a repeat)."""

    doc_id: str
    chunk_id: str
    start: int
    end: int
    passage_id: int | None = None


@dataclass(frozen=True)
class Hit:
    """One article (or, ungrouped, one passage) with its best passage's fields at the top."""

    rank: int
    score: float
    doc_id: str
    chunk_id: str
    date: str | None
    title: str | None
    text: str
    start: int
    end: int
    snippet: str
    snippet_start: int
    snippet_end: int
    highlights: list[list[int]]
    dense_score: float | None  # cosine similarity (passage and best sentence), None if not scored
    keyword_score: float | None  # BM25, None when no question word occurs in the passage
    passages: list[Passage] = field(default_factory=list)  # more passages of the same article
    duplicates: list[Duplicate] = field(default_factory=list)
    citation: int | None = None  # its number in the web API's prompt context, when it is there
    # The best passage's stable id (chunk_id, "doc#ordinal", names a place that an update of
    # the article may give to another text; this id is never given again).
    passage_id: int | None = None


@dataclass(frozen=True)
class SearchResult:
    query: str
    mode: str
    hits: list[Hit]
    confident: bool  # the best hit is a likely answer (calibrated threshold on dense_score)
    date_filter: dict | None = None  # the filter applied, and whether it came from the question
    language: str | None = None  # the question's language as detected

    def as_dict(self) -> dict:
        return {"query": self.query, "mode": self.mode, "language": self.language,
                "filter": self.date_filter, "confident": self.confident,
                "results": [asdict(h) for h in self.hits]}
