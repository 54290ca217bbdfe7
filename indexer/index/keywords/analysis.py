"""Words for keyword search: folding, stop words, stemming, and telling Dutch from English.

One analyzer is used for an index's passages and for every question asked of it, so a question
word and a passage word meet in the same form ("Genève" and "geneve", "gesprekken" and
"gesprek").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_WORD = re.compile(r"\w+", re.UNICODE)

# Function words that occur in one language and not the other: enough to tell which language a
# question or an article is in (the two languages vraagbaak serves). Shared words (in, is, was,
# over, had) are left out on purpose.
_DUTCH_MARKERS = frozenset("""
de het een en van dat die niet op te zijn met voor er maar om ook als bij wat zei hoe waarom wie
waar wanneer welke welk heeft hebben naar dan nog door kan wordt werd zou deze dit tegen uit
zich hij zij ze wij jullie hun ons onze mijn jouw geen wel al veel meer tussen na sinds zonder
volgens tijdens omdat terwijl toen dus want doen deed gaat ging zal zullen moet moeten
""".split())
_ENGLISH_MARKERS = frozenset("""
the a an of to and what did say said how why who where when which about for with that this on
at by from does do has have were are be been will would should could not no yes it its they
their them he she his her we our you your my than then there these those into during after
before between without because while so very much many more most long tell told meet
""".split())


def fold(text: str) -> str:
    """Lower case without accents: "Genève" and "geneve" are one word for search."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Why: docs/decisions/0006-question-language-detection.md
def detect_language(text: str) -> str | None:
    """'nl', 'en', or None when the function words do not tell (a name, a number)."""
    words = [fold(w) for w in _WORD.findall(text)]
    dutch = sum(w in _DUTCH_MARKERS for w in words)
    english = sum(w in _ENGLISH_MARKERS for w in words)
    if dutch == english:
        return None
    return "nl" if dutch > english else "en"


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
