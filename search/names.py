"""Which of the corpus's names a question speaks of, also when it spells them another way.

A capitalised question word that is one of the corpus's names (indexer/index/keywords/names.py)
is kept as it is; one that is not is compared with the names by character bigrams, and the
closest that the model also calls the same name (cosine of the two words' vectors, the model the
index was built with) stands in for it: Putin -> poetin, Zelensky -> zelenski, Ukraine ->
oekraine. Why and how the thresholds were set: docs/decisions/0035-names-across-spellings.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from indexer.index.keywords.analysis import Analyzer, fold
from indexer.index.keywords.names import MIN_LENGTH, NameVocabulary

# Why: docs/decisions/0035-names-across-spellings.md
NAME_COSINE = 0.90  # two spellings of one name: Putin/Poetin 0.903; Obama/Osama 0.877
_WORD = re.compile(r"\w+", re.UNICODE)  # as the analyzer splits: "Bush's" is "Bush" and "s"
_CACHE_SIZE = 4096


class NameMatcher:
    """Per searcher: the corpus's names, the model to confirm a match, and what was decided
    for each question word already seen (a bounded cache, so no word is embedded twice)."""

    def __init__(self, source, analyzer: Analyzer,
                 embed: Callable[[list[str]], np.ndarray]) -> None:
        self._source = source  # a NameVocabulary, or what has one as .names (read on first use)
        self._analyzer = analyzer
        self._embed = embed
        self._seen: dict[str, str | None] = {}

    @property
    def names(self) -> NameVocabulary:
        return self._source if isinstance(self._source, NameVocabulary) else self._source.names

    def corpus_names(self, question: str) -> tuple[str, ...]:
        """The corpus names (folded, once each, in question order) that the question's
        capitalised words are or stand for."""
        found: list[str] = []
        for match in _WORD.finditer(question):
            word = match.group()
            if len(word) < MIN_LENGTH or not word[0].isupper() or not self._analyzer.terms(word):
                continue  # short, lower case, or a stop word ("What", "Wie")
            name = self._name_for(fold(word), word)
            if name is not None and name not in found:
                found.append(name)
        return tuple(found)

    def _name_for(self, word: str, written: str) -> str | None:
        if word in self.names:
            return word
        if word not in self._seen:
            if len(self._seen) >= _CACHE_SIZE:
                self._seen.clear()
            self._seen[word] = self._confirmed(word, written)
        return self._seen[word]

    def _confirmed(self, word: str, written: str) -> str | None:
        candidates = [name for name, _ in self.names.similar(word)]
        if not candidates:
            return None
        # Each as it is written (accents and all): "Oekraïne" is nearer "Ukraine" than "oekraine".
        vectors = np.asarray(self._embed([written, *map(self.names.spelling, candidates)]),
                             dtype=np.float32)
        cosines = vectors[1:] @ vectors[0]
        best = int(np.argmax(cosines))
        return candidates[best] if float(cosines[best]) >= NAME_COSINE else None
