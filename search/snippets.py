"""Answer snippets: the sentences of a passage that best answer the question, and the words of
the passage that the question's keywords matched, as offsets for highlighting."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexer.index.keywords.analysis import Analyzer

# Why: docs/decisions/0011-snippet-best-sentence-and-neighbour.md
KEYWORD_BONUS = 0.02  # per matched question term: breaks near-ties between sentences


def highlights(text: str, offset: int, terms: Sequence[str], analyzer: Analyzer) -> list[list[int]]:
    """[start, end] article offsets of the words of ``text`` (which starts at article offset
    ``offset``) whose index term is one of ``terms``."""
    if not terms:
        return []
    wanted = set(terms)
    return [[offset + s, offset + e] for term, s, e in analyzer.term_spans(text) if term in wanted]


def best_snippet(sentence_spans: Sequence[tuple[int, int]], sentence_scores: np.ndarray,
                 marks: list[list[int]], text: str, offset: int) -> tuple[int, int]:
    """(start, end) of the best sentence and the better of its two neighbours in the same
    paragraph; ``text`` is the passage, which starts at article offset ``offset``.

    A sentence scores by its cosine with the question plus a small bonus per highlighted word.
    Two sentences, because the one most like the question often sets up the answer and the
    next one holds it ("the meeting ended ..." / "it lasted 3 hours 21 minutes"): measured on the
    sample questions, the answer is in the snippet 27 of 29 times with two, 23 with one.
    """
    if not len(sentence_spans):
        raise ValueError("a passage has at least one sentence")
    scores = [score + KEYWORD_BONUS * sum(1 for hs, he in marks if s <= hs and he <= e)
              for (s, e), score in zip(sentence_spans, sentence_scores)]
    best = int(np.argmax(scores))
    neighbours = [i for i in (best - 1, best + 1) if 0 <= i < len(scores)
                  and not _paragraph_break(text, offset, sentence_spans[min(i, best)][1],
                                           sentence_spans[max(i, best)][0])]
    other = max(neighbours, key=lambda i: scores[i], default=best)
    first, last = min(best, other), max(best, other)
    return sentence_spans[first][0], sentence_spans[last][1]


def _paragraph_break(text: str, offset: int, gap_start: int, gap_end: int) -> bool:
    return "\n\n" in text[gap_start - offset:gap_end - offset].replace(" ", "")
