"""Names across spellings: the corpus's own names, and the ones a question spells another way.

An English question writes Putin, Zelensky, Navalnyj; a Dutch article Poetin, Zelenski, Navalny.
No stemmer or stop-word list joins these. At index time each segment counts its words (how
often, how often with a capital inside a sentence); the names of the corpus are the words that
are written with a capital inside a sentence, and nearly always so, over all segments; at
question time a capitalised question word that is not one of them is compared with them by
character bigrams, and a close one is kept only when the model agrees the two are the same name
(searcher side: ``search/names.py``). No list of names is written by hand.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from indexer.errors import IndexFormatError
from indexer.index.keywords.analysis import Analyzer, fold
from indexer.index.manifest import REBUILD_HINT

NAMES_FILE = "names.json"
_WORD = re.compile(r"\w+", re.UNICODE)
# What may come right before a sentence (or a quote) starts, where any word has a capital.
_SENTENCE_END = re.compile(r"[.!?:\"“”‘’'«»\n]\s*$")
# Why: docs/decisions/0035-names-across-spellings.md
MIN_LENGTH = 4  # shorter words ("Kim", "VS") match too much by their letters alone
CAPITAL_SHARE = 0.8  # a word counts as a name when written with a capital this often
MIN_SIMILARITY = 0.4  # Dice over padded character bigrams (moscow/moskou 0.43, putin/poetin 0.62)
MAX_CANDIDATES = 4  # corpus names per question word that the model is asked about


def _bigrams(word: str) -> frozenset[str]:
    padded = f"_{word}_"
    return frozenset(padded[i:i + 2] for i in range(len(padded) - 1))


def similarity(a: str, b: str) -> float:
    """Dice coefficient of the padded character bigrams of two folded words."""
    x, y = _bigrams(a), _bigrams(b)
    return 2 * len(x & y) / (len(x) + len(y)) if x and y else 0.0


def count_words(texts: Iterable[str]) -> dict[str, list]:
    """{folded word: [uses, with a capital, with a capital inside a sentence, most frequent
    capitalised spelling, its uses]} over words of at least MIN_LENGTH letters: what one
    segment writes (names.json), so names are kept per change, never collected over the corpus."""
    capital_inside, capital, total, spelling = Counter(), Counter(), Counter(), Counter()
    for text in texts:
        for match in _WORD.finditer(text):
            word = match.group()
            if len(word) < MIN_LENGTH or not word[0].isalpha():
                continue
            folded = fold(word)
            total[folded] += 1
            if word[0].isupper():
                capital[folded] += 1
                spelling[folded, word] += 1
                before = text[max(0, match.start() - 3):match.start()]
                if match.start() > 0 and not _SENTENCE_END.search(before):
                    capital_inside[folded] += 1
    written: dict[str, tuple[str, int]] = {}
    for (folded, word), n in sorted(spelling.items(), key=lambda item: (-item[1], item[0])):
        written.setdefault(folded, (word, n))
    return {w: [total[w], capital[w], capital_inside[w], *written.get(w, ("", 0))]
            for w in sorted(total)}


def collect_names(counts: Iterable[dict[str, list]], analyzer: Analyzer) -> dict[str, tuple[int, str]]:
    """{folded name: (occurrences, its most frequent spelling)} from segments' word counts:
    words that are not stop words, written with a capital at least once inside a sentence and
    in CAPITAL_SHARE of all their uses (so a word capitalised only where a sentence starts is
    not a name). A segment's counts still hold its tombstoned articles until it is merged: a
    name only they held makes the keyword query ask for a term no live passage holds."""
    total, capital, inside, spelling = Counter(), Counter(), Counter(), {}
    for part in counts:
        for word, (uses, upper, upper_inside, written, n) in part.items():
            total[word] += uses
            capital[word] += upper
            inside[word] += upper_inside
            if n and (word not in spelling or n > spelling[word][1]):
                spelling[word] = (written, n)
    return {w: (total[w], spelling[w][0]) for w in sorted(inside)
            if inside[w] and capital[w] >= CAPITAL_SHARE * total[w] and analyzer.terms(w)}


def save_counts(counts: dict[str, list], folder: Path) -> None:
    (folder / NAMES_FILE).write_text(json.dumps(counts, ensure_ascii=False, separators=(",", ":"))
                                     + "\n", encoding="utf-8")


def load_counts(folder: Path) -> dict[str, list]:
    """A segment's word counts; {} for a segment written before them (it adds no names)."""
    path = folder / NAMES_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError("not an object")
        return {str(k): [int(v[0]), int(v[1]), int(v[2]), str(v[3]), int(v[4])]
                for k, v in data.items()}
    except (OSError, ValueError, TypeError, IndexError) as exc:
        raise IndexFormatError(f"the word counts {path} cannot be read ({exc})",
                               hint=REBUILD_HINT) from exc


@dataclass(frozen=True)
class NameVocabulary:
    """The corpus's names, with a bigram index to find the ones a question word resembles."""

    names: dict[str, tuple[int, str]]  # folded name -> (occurrences, most frequent spelling)
    _by_bigram: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[str, list[str]] = defaultdict(list)
        for name in self.names:
            for gram in _bigrams(name):
                index[gram].append(name)
        object.__setattr__(self, "_by_bigram", dict(index))

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, folded: str) -> bool:
        return folded in self.names

    def spelling(self, folded: str) -> str:
        return self.names[folded][1]

    def similar(self, word: str) -> list[tuple[str, float]]:
        """Up to MAX_CANDIDATES corpus names whose bigrams resemble the folded ``word``'s
        (Dice >= MIN_SIMILARITY), most similar first, then most frequent; never the word itself."""
        shared: Counter = Counter()
        for gram in _bigrams(word):
            shared.update(self._by_bigram.get(gram, ()))
        size = len(_bigrams(word))
        scored = [(name, 2 * n / (size + len(_bigrams(name)))) for name, n in shared.items()
                  if name != word]
        scored = [pair for pair in scored if pair[1] >= MIN_SIMILARITY]
        scored.sort(key=lambda pair: (-pair[1], -self.names[pair[0]][0], pair[0]))
        return scored[:MAX_CANDIDATES]
