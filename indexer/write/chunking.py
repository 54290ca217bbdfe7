"""Paragraph-aware chunking, sized in model tokens, with exact character offsets.

Every chunk is a contiguous slice ``doc.text[start:end]``, so a hit can always be shown in place.
Paragraphs are packed together up to the token budget; a paragraph over the budget is split at
sentence boundaries, and a sentence over it at word boundaries. A paragraph that repeats an
earlier one of the same article is indexed once: a paragraph whose every sentence already
appeared earlier in the article is a repeat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from indexer.records import Chunk, Document

# Sentence ends: . ! ? … (plus closing quotes/brackets), whitespace, then something that can open
# a sentence. Requiring that opener keeps "o.a. de" and "3.5 miljoen" together.
# The closing quote or bracket stays with its sentence: the separator is only the whitespace.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’»)\]]))\s+(?=[\"'“‘«(\[A-ZÀ-ÖØ-Þ0-9])")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# (?<!\s): tried only where a whitespace run starts, not again at each of its characters, which
# made a long run without a line break quadratic (40,000 spaces took seconds).
_SENTENCE_OR_LINE_END = re.compile(_SENTENCE_END.pattern + r"|(?<!\s)\s*\n\s*")
# Why: docs/decisions/0001-passage-budget-128-tokens.md
DEFAULT_MAX_TOKENS = 128  # the passage budget (docs/benchmarks.md, "Passage size")
_HEADING_MAX_TOKENS = 16
_CLOSED = re.compile(r"[.!?…:;\"”’')]\s*\Z")  # how a sentence, not a heading, ends


class TokenCounter(Protocol):
    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text takes in the model, without special tokens."""
        ...


class Chunker(Protocol):
    def settings(self) -> dict:
        """What an index manifest records so the chunks can be reproduced."""
        ...

    def split(self, doc: Document) -> list[Chunk]: ...


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    tokens: int


class ParagraphChunker:
    """Pack paragraphs into chunks of at most ``max_tokens`` model tokens."""

    name = "paragraph"

    def __init__(self, counter: TokenCounter, max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        if max_tokens < 16:
            raise ValueError("max_tokens must be at least 16")
        self.counter = counter
        self.max_tokens = max_tokens

    def settings(self) -> dict:
        return {"name": self.name, "max_tokens": self.max_tokens, "dedupe_paragraphs": True}

    def split(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        for run in self._paragraph_runs(doc.text):
            for start, end in self._pack(doc.text, run):
                chunks.append(Chunk(doc.doc_id, len(chunks), start, end, doc.text[start:end], 0))
        counts = self.counter.count_tokens([c.text for c in chunks]) if chunks else []
        return [Chunk(c.doc_id, c.ordinal, c.start, c.end, c.text, n) for c, n in zip(chunks, counts)]

    def _paragraph_runs(self, text: str) -> list[list[_Span]]:
        """Units grouped into runs of consecutive kept paragraphs; a repeated paragraph ends a run."""
        paragraphs = _spans_between(text, _PARAGRAPH_BREAK, 0, len(text))
        tokens = self.counter.count_tokens([text[s:e] for s, e in paragraphs])
        runs: list[list[_Span]] = [[]]
        seen: set[str] = set()
        for (start, end), n in zip(paragraphs, tokens):
            sentences = {" ".join(text[s:e].split())
                         for s, e in _spans_between(text, _SENTENCE_END, start, end)}
            if sentences <= seen:
                # A repeat: word for word, or earlier paragraphs run together (sample 002 does
                # that). Chunks stay contiguous, so none reaches across the skipped repeat.
                runs.append([])
                continue
            seen |= sentences
            if n <= self.max_tokens:
                runs[-1].append(_Span(start, end, n))
            else:
                runs[-1].extend(self._split_long(text, start, end))
        return [run for run in runs if run]

    def _split_long(self, text: str, start: int, end: int) -> list[_Span]:
        sentences = _spans_between(text, _SENTENCE_END, start, end)
        tokens = self.counter.count_tokens([text[s:e] for s, e in sentences])
        units: list[_Span] = []
        for (s, e), n in zip(sentences, tokens):
            units.extend([_Span(s, e, n)] if n <= self.max_tokens else self._split_words(text, s, e))
        return units

    def _split_words(self, text: str, start: int, end: int) -> list[_Span]:
        words = _spans_between(text, re.compile(r"\s+"), start, end)
        tokens = self.counter.count_tokens([text[s:e] for s, e in words])
        units: list[_Span] = []
        for (s, e), n in zip(words, tokens):
            if units and units[-1].tokens + n <= self.max_tokens:
                units[-1] = _Span(units[-1].start, e, units[-1].tokens + n)
            else:
                # A single "word" over the budget (a URL, a run of digits) still becomes one unit;
                # the model truncates it, which loses less than dropping it.
                units.append(_Span(s, e, n))
        return units

    def _pack(self, text: str, run: list[_Span]) -> list[tuple[int, int]]:
        packed: list[_Span] = []
        for unit in run:
            fits = bool(packed) and packed[-1].tokens + unit.tokens <= self.max_tokens
            # A heading opens a new chunk, and a chunk that is only a heading takes the next unit:
            # a lone heading is a poor passage, and one glued to the text before it misleads.
            if fits and (_is_heading(text, packed[-1]) or not _is_heading(text, unit)):
                packed[-1] = _Span(packed[-1].start, unit.end, packed[-1].tokens + unit.tokens)
            else:
                packed.append(unit)
        return [(p.start, p.end) for p in packed]


def _is_heading(text: str, span: _Span) -> bool:
    return span.tokens <= _HEADING_MAX_TOKENS and not _CLOSED.search(text, span.start, span.end)


def sentence_spans(text: str, start: int, end: int, min_words: int = 4) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]`` (a line break also ends one), for sentence vectors and
    answer snippets. A piece under ``min_words`` words (a heading, "© AP") joins the next one:
    short texts match too many questions in dense search."""
    pieces = _spans_between(text, _SENTENCE_OR_LINE_END, start, end)
    merged: list[tuple[int, int]] = []
    pending: tuple[int, int] | None = None
    for s, e in pieces:
        if pending:
            s, pending = pending[0], None
        if len(text[s:e].split()) < min_words:
            pending = (s, e)
            continue
        merged.append((s, e))
    if pending:
        merged[-1:] = [(merged[-1][0], pending[1])] if merged else [pending]
    return merged


def _spans_between(text: str, separator: re.Pattern, start: int, end: int) -> list[tuple[int, int]]:
    """Non-blank pieces of ``text[start:end]`` between matches of ``separator``, whitespace trimmed."""
    spans, cursor = [], start
    for match in separator.finditer(text, start, end):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    return trimmed_spans(text, spans)


def trimmed_spans(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` without their surrounding whitespace; blank ones dropped."""
    trimmed = []
    for s, e in spans:
        piece = text[s:e]
        if piece.strip():
            s += len(piece) - len(piece.lstrip())
            e -= len(piece) - len(piece.rstrip())
            trimmed.append((s, e))
    return trimmed
