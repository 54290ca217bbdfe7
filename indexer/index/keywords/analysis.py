"""Words for keyword search: folding, stop words, stemming, and telling Dutch from English.

One analyzer is used for an index's passages and for every question asked of it, so a question
word and a passage word meet in the same form ("Genève" and "geneve", "gesprekken" and
"gesprek").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

_WORD = re.compile(r"\w+", re.UNICODE)


def fold(text: str) -> str:
    """Lower case without accents: "Genève" and "geneve" are one word for search."""
    lowered = text.lower()
    if lowered.isascii():  # most words and many texts: nothing to decompose
        return lowered
    return unicodedata.normalize("NFKD", lowered).translate(_without_marks())


class _Marks(dict):
    """A str.translate table that drops combining characters (what NFKD splits accents into),
    filled as characters are first seen: fold ran a Python test per character (1 µs), the
    largest part of indexing keywords anew; a table lookup runs in C."""

    def __missing__(self, code: int):
        self[code] = kept = None if unicodedata.combining(chr(code)) else code
        return kept


@functools.cache
def _without_marks() -> _Marks:
    return _Marks()


# The languages vraagbaak serves (and an index may hold): the identifier chooses among these only.
LANGUAGES = ("nl", "en")


# Why: docs/decisions/0029-keyword-weight-follows-language-confidence.md
@functools.cache
def _identifier():
    """py3langid's naive Bayes identifier (its model is bundled in the wheel), restricted to
    Dutch and English and with normalized probabilities; built on first use, not at import."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


@functools.lru_cache(maxsize=4096)
def _probabilities(text: str) -> tuple[tuple[str, float], ...]:
    if not any(ch.isalpha() for ch in text):
        return ()  # no letters (a number, a date): nothing to tell a language by
    ranked = dict(_identifier().rank(text))
    return tuple((code, float(ranked.get(code, 0.0))) for code in LANGUAGES)


def language_probabilities(text: str) -> dict[str, float]:
    """{"nl": p, "en": 1 - p}: how likely ``text`` is Dutch or English, from a language
    identifier that handles a few words; {} when it cannot tell at all (no letters: a number)."""
    return dict(_probabilities(text))


def most_likely_language(probabilities: dict[str, float]) -> str | None:
    """The most likely language of ``language_probabilities``, None for {} (or a tie)."""
    if not probabilities:
        return None
    ranked = sorted(probabilities.items(), key=lambda item: -item[1])
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def detect_language(text: str) -> str | None:
    """'nl', 'en', or None when the identifier cannot tell (no letters: a number, a date)."""
    return most_likely_language(language_probabilities(text))


# Why: docs/decisions/0008-dutch-snowball-analyzer.md
_SNOWBALL = {"nl": "dutch", "en": "english"}


@dataclass(frozen=True)
class Analyzer:
    """Fold, split into words, drop stop words of both languages, stem in ``language``."""

    language: str = "nl"
    _stemmer: object = field(default=None, compare=False, repr=False)
    _stopwords: frozenset = field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN_PLUS

        if self.language not in _SNOWBALL:
            raise ValueError(f"no analyzer for language {self.language!r}")
        object.__setattr__(self, "_stemmer", Stemmer.Stemmer(_SNOWBALL[self.language]))
        object.__setattr__(self, "_stopwords",
                           frozenset(fold(w) for w in (*STOPWORDS_DUTCH, *STOPWORDS_EN_PLUS)))

    def settings(self) -> dict:
        return {"language": self.language, "stemmer": f"snowball-{_SNOWBALL[self.language]}",
                "stopwords": "dutch+english", "accent_folding": True}

    def terms(self, text: str) -> list[str]:
        """Index terms of ``text``, in order."""
        words = [w for w in _WORD.findall(fold(text)) if w not in self._stopwords]
        return self._stemmer.stemWords(words)

    def term_spans(self, text: str) -> list[tuple[str, int, int]]:
        """(term, start, end) for every word of ``text`` that is not a stop word, for highlighting."""
        spans = []
        for match in _WORD.finditer(text):
            word = fold(match.group())
            if word and word not in self._stopwords:
                spans.append((self._stemmer.stemWord(word), match.start(), match.end()))
        return spans
