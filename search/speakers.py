"""Who said what, on the read path: the speaker a question asks about, the passages where he
speaks ranked up a little, and every result's quotes marked with their speakers.

"Wat zei Poetin over Navalny?", "what did Biden say about cyber", "volgens Biden", "wat vindt
X van", "how did X describe": the question names a speaker. Passages where an attributed quote of
his lies (indexer.write.quotes, stored in the index's quotes table) get a third RRF leg over the
hybrid candidates, in their fused order: a small boost, not a filter, since the answer may be
reported without a quote the attributor found (docs/decisions/0037). Only where he speaks on the
question's subject (the rest of the question: "over Navalny"), told by its words, when some
candidate holds them all; otherwise by none (docs/decisions/0046).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from indexer.index.keywords import KeywordBackend
from indexer.index.keywords.analysis import Analyzer
from indexer.index.names import name_key, same_speaker, without_office
from indexer.index.segmented_store import SegmentedStore
from indexer.records import Quote
from search.evidence import respelled
from search.names import NameMatcher
from search.results import QuoteMark

# A speaker in a question: a capitalised name (several joined by "en"/"and"), after at most a
# determiner and two lower-case words ("president Joe Biden", "de Europese Commissie"), or a
# determiner and one word ("de paus"). Case matters here: it is what tells a name.
_CAP = r"[A-ZÀ-ÖØ-Þ][\w'’.-]*"
_RUN = _CAP + r"(?:\s+(?:(?:van|von|de|der|den|ter|ten|te)\s+)*" + _CAP + r")*"
_NAME = (r"(?P<x>(?:(?i:de|het|een|the|a)\s+)?(?:[a-zà-ÿ-]+\s+){0,2}" + _RUN
         + r"(?:\s+(?:en|and|&)\s+" + _RUN + r")*" + r"|(?i:de|het|the)\s+[a-zà-ÿ-]+)")
_END = r"(?=\s*[?.!,]|\s*$|\s+[a-zà-ÿ])"  # the name ends before a lower-case word or the end
_CUES = [re.compile(p) for p in (
    # Dutch: wat zei / zegt / vindt / vond / … X (over …), hoe noemde / reageerde X, volgens X
    r"\b(?i:wat\s+(?:zei|zegt|zeiden|zeggen|vindt|vond|vinden|meldt|meldde|stelt|stelde|"
    r"verklaarde|vertelde|antwoordde|schreef|denkt|dacht|verwacht|vreest))\s+" + _NAME + _END,
    r"\b(?i:wat\s+(?:heeft|hebben|had))\s+" + _NAME
    + r"\s+(?i:gezegd|verklaard|geschreven|gemeld|gevonden)\b",
    r"\b(?i:hoe\s+(?:noemde|noemt|reageerde|reageert|beschreef|omschreef))\s+" + _NAME + _END,
    r"\b(?i:volgens|aldus)\s+" + _NAME + r"(?=\s*[?.!,]|\s*$|\s+(?:over|is|was|zijn|waren)\b)",
    # English: what did / does / has X say / think / …, according to X, how did X describe
    r"\b(?i:what\s+(?:did|does|do|has|have|had))\s+" + _NAME
    + r"\s+(?i:say|said|think|thought|tell|told|write|wrote|claim|claimed|warn|warned|mean|"
    r"announce|announced|answer|reply|argue|expect)\b",
    r"\b(?i:what)\s+" + _NAME + r"\s+(?i:said|says|thinks|thought|told|wrote)\b",
    r"\b(?i:according\s+to)\s+" + _NAME + r"(?=\s*[?.!,]|\s*$)",
    r"\b(?i:how\s+(?:did|does|do))\s+" + _NAME
    + r"\s+(?i:describe|describes|react|respond|call|greet|justify|explain)\b",
)]
_NAMES_ITS_OBJECT = 2  # "hoe noemde X Y": the name after X is whom he named
_AND = re.compile(r"\s+(?:en|and|&)\s+")
_DETERMINERS = {"de", "het", "een", "the", "a", "an"}


def asked_speakers(question: str) -> list[tuple[str, ...]]:
    """The names (keys) of the speakers a question asks about: [] when it asks about none.
    "Wat zei Poetin over Navalny?" -> [("poetin",)]; "How did Biden and Putin greet each other?"
    -> [("biden",), ("putin",)]; "Wat zei de paus?" -> [("paus",)]."""
    number, match = _cue(question)
    if match is None:
        return []
    phrase = without_office(match.group("x"))  # "minister Jetten van Klimaat en Energie"
    if number == _NAMES_ITS_OBJECT and len(phrase.split()) > 1 and phrase[:1].isupper():
        phrase = phrase.rsplit(maxsplit=1)[0]  # "Hoe noemde Biden Poetin …": Biden names
    keys = [_key(part) for part in _AND.split(phrase)]
    return [k for k in keys if k]


def asked_subject(question: str) -> str:
    """What the question asks the speaker about: the question without the words that ask
    and name him. "Wat zei Poetin over Navalny?" -> "over Navalny?"; "Wat gebeurt er als Navalny
    sterft volgens Biden?" -> "Wat gebeurt er als Navalny sterft ?"; "Wat zei Rutte?" -> "?".
    Stop words and marks are left for the analyzer to drop."""
    _, match = _cue(question)
    if match is None:
        return ""
    return " ".join((question[:match.start()] + " " + question[match.end():]).split())


def _cue(question: str) -> tuple[int, re.Match | None]:
    for number, cue in enumerate(_CUES):
        match = cue.search(question)
        if match:
            return number, match
    return -1, None


def _key(phrase: str) -> tuple[str, ...]:
    """A name's key: from its first capitalised word on ("president Joe Biden" -> joe biden), or,
    in a phrase without one, its last word ("de paus" -> paus)."""
    words = [w for w in phrase.split() if w.lower() not in _DETERMINERS]
    first = next((i for i, w in enumerate(words) if w[:1].isupper()), None)
    if first is not None:
        return name_key(" ".join(words[first:]))
    return name_key(words[-1]) if words else ()


def speaks(quote: Quote, asked: Sequence[tuple[str, ...]]) -> bool:
    speaker = tuple(quote.speaker_key.split())
    return any(same_speaker(name, speaker) for name in asked)


@dataclass(frozen=True)
class Subject:
    """What a question asks the speaker about, as words: each the terms that stand for it
    (stemmed as the keyword index does; a name also in the corpus's spelling), stop words out."""
    words: tuple[frozenset[str], ...]
    analyzer: Analyzer

    @classmethod
    def of(cls, question: str, keywords: KeywordBackend, names: NameMatcher | None) -> Subject:
        words = (frozenset(keywords.analyzer.terms(respelled(w, keywords, names)))
                 for w in asked_subject(question).split())
        return cls(tuple(w for w in words if w), keywords.analyzer)

    def held_by(self, text: str) -> bool:
        terms = set(self.analyzer.terms(text))
        return all(word & terms for word in self.words)


def boost(ranked: list[tuple[int, float]], store: SegmentedStore, asked: Sequence[tuple[str, ...]],
          weight: float, rrf_k: int = 60, subject: Subject | None = None) -> list[tuple[int, float]]:
    """``ranked`` (fused: id, score, best first) with the passages where an asked speaker speaks
    as one more RRF leg, in their fused order, weighted ``weight``. With a ``subject`` that some
    candidates hold every word of, only those: where he speaks of something else, his passage
    keeps its place. When none holds them all (the articles say it in other words, another
    language or another compound) the words cannot tell, and all count (docs/decisions/0046)."""
    if not asked or not weight or not ranked or not store.has_quotes:
        return ranked
    rows = store.get_chunks([c for c, _ in ranked])
    quotes = store.quotes_of(row.chunk.doc_id for row in rows.values())
    on = set()
    if subject is not None and subject.words:  # bounded by the candidates, not the index
        on = {c for c, _ in ranked if subject.held_by(rows[c].chunk.text)}
    scores = dict(ranked)
    rank = 0
    for chunk_id, _ in ranked:
        chunk = rows[chunk_id].chunk
        if on and chunk_id not in on:
            continue
        if any(speaks(q, asked) for q in quotes[chunk.doc_id] if _overlaps(q, chunk.start, chunk.end)):
            scores[chunk_id] += weight / (rrf_k + rank + 1)
            rank += 1
    return sorted(scores.items(), key=lambda pair: -pair[1])


def marks(quotes: Sequence[Quote], start: int, end: int,
          asked: Sequence[tuple[str, ...]]) -> list[QuoteMark]:
    """The quotes that overlap article text [start, end), each with its speaker and whether he is
    the one the question asked about."""
    return [QuoteMark(q.start, q.end, q.speaker, q.speaker_start, q.speaker_end, q.kind,
                      speaks(q, asked)) for q in quotes if _overlaps(q, start, end)]


def _overlaps(quote: Quote, start: int, end: int) -> bool:
    return quote.start < end and start < quote.end
