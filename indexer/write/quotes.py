"""Who said what: the quotes in an article and their speakers, found when it is indexed.

Rules for the way Dutch (and English) news writes quotes, not a parser: no maintained library
does this offline for Dutch (spaCy and stanza need models fetched from a hub; the one Dutch spaCy
pipeline is not on PyPI), and news quotes follow few patterns (docs/decisions/0036):

- between quote marks („" “” "" ‘’ '' «»), attributed by the words after them (`"…," zei X`,
  `", aldus X"`, `", voegde hij eraan toe"`), by a colon before them (`X zei: "…"`, `Biden: '…'`),
  as the next quote of the same speaker (`"…," zei X. "…"`), or by the sentence they are in
  (`X noemde het 'een klap'`, `Volgens hem is het 'absurd'`);
- reported speech without marks: `volgens X …`, `X zei dat …`, `zei X dat …`, `…, meldt X.`,
  `according to X`, `X said (that) …`.

Who a phrase names (a name, an organisation, a role, "hij") is indexer.write.speaker_phrases's
part. Every span is an exact offset into the article text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from indexer.index.names import name_key
from indexer.records import Quote
from indexer.write.chunking import trimmed_spans
from indexer.write.speaker_phrases import (
    REPORT,
    SAY,
    WORD,
    Phrases,
    Speaker,
    fullest,
    without_title,
)

# A quote: the marks that open and close it, its words inside. A straight or curly single mark is
# a quote only at a word's edge: "zo'n", "foto’s", "d'Huez" and "Navalny's" are apostrophes.
_QUOTES = re.compile(r"""
      "(?P<a>[^"\n]+)"
    | “(?P<b>[^“”\n]+)”
    | „(?P<c>[^„“”\n]+)[“”]
    | «\s?(?P<d>[^«»\n]+?)\s?»
    | (?<![\w'‘’])['‘](?=[^\s'‘’])(?P<e>[^\n]+?)(?<=[^\s'‘’])['’](?!\w)
""", re.VERBOSE)
_SENTENCE_END = re.compile(r"[.!?]+(?=\s+[\"“„'‘«(]?[A-Z0-9À-Þ])")

_THAT = frozenset({"dat", "that"})
_ENGLISH_SAY = frozenset({"said", "says", "told", "according"})
# Main clauses, where the subject comes right before its verb ("…, maar Moskou ontkent"); not
# "dat …", whose verb comes last ("dat Europa 'een antwoord' geeft": Europa says nothing).
_CLAUSE_STARTS = frozenset({"en", "maar", "waarop", "want", "and", "but"})
_TRAILING_SAY = re.compile(r",\s*(meldt|meldde|melden|zegt|zei|laat weten|liet weten|schrijft|schreef"
                           r"|meent|vindt|stelt|denkt|berichten|bericht|berichtte"
                           r"|said|says|reports|reported)\s+[^,]{2,60}[.!]?\s*$")


# The rules' version, kept with the quotes of each segment (a merge attributes anew).
RULES = 2


def attribute(doc_id: str, text: str) -> list[Quote]:
    """Every quote and piece of reported speech in ``text`` with its speaker, in text order."""
    return _Article(doc_id, text).quotes()


class _Article(Phrases):
    """The attribution rules, over the article's words and phrases (Phrases)."""

    def __init__(self, doc_id: str, text: str) -> None:
        super().__init__(text)
        self.doc_id = doc_id

    def quotes(self) -> list[Quote]:
        found: list[tuple[int, int, Speaker, str]] = []
        for p_start, p_end in _paragraphs(self.text):
            found.extend(self._paragraph(p_start, p_end))
        names = {n: name_key(n) for n in dict.fromkeys(without_title(n) for n in self._all_names())}
        quotes = []
        for start, end, speaker, kind in found:
            full = fullest(speaker.name, names)
            key = " ".join(name_key(full))
            if key:
                quotes.append(Quote(self.doc_id, start, end, full, key, speaker.start,
                                    speaker.end, kind))
        return quotes

    def _paragraph(self, p_start: int, p_end: int) -> Iterator[tuple[int, int, Speaker, str]]:
        marks = _outermost(_QUOTES.finditer(self.text, p_start, p_end))
        previous: tuple[int, Speaker] | None = None  # the last quote's end and speaker
        subject: Speaker | None = None  # the person the previous sentence is about
        for s_start, s_end in _sentences(self.text, p_start, p_end, marks):
            inside = [m for m in marks if s_start <= m[0] < s_end]
            if not inside:
                speaker = self._reported(s_start, s_end)
                if speaker:
                    self._note(speaker)
                    yield s_start, _trim_end(self.text, s_start, s_end), speaker, "indirect"
            for m_start, c_start, c_end, m_end in inside:
                speaker = (self._after(m_end, s_end, inside) or self._colon(s_start, m_start)
                           or self._sentence_speaker(s_start, s_end, inside))
                if speaker is None and previous and previous[1].end > previous[0] \
                        and m_start - previous[0] < 80:
                    speaker = previous[1]  # the same speaker goes on: `"…," zei X. "…"`
                if speaker is None and subject and m_start == s_start \
                        and not WORD.search(self.text, m_end, s_end):
                    speaker = subject  # `X ging in op … . "…"`: a quote that is a sentence of its own
                if speaker is None:
                    continue
                self._note(speaker)
                previous = (m_end, speaker)
                yield c_start, c_end, speaker, "direct"
            subject = self._note_subject(s_start, s_end, inside)

    # --- the words around a quote -------------------------------------------------------------

    def _after(self, m_end: int, s_end: int, marks) -> Speaker | None:
        """`"…," zei X` / `", aldus X"` / `," X said` / `", voegde hij eraan toe"`."""
        if not re.match(r"\s*,?\s*\w", self.text[m_end:s_end]):
            return None
        words = self._clause(self._words(m_end, _next_mark(marks, m_end, s_end)))
        if not words:
            return None
        if words[0][2].lower() in SAY:
            return self._phrase(words, 1, until="tail")
        for i in range(1, min(len(words), 6)):  # English: `," Biden said` / `," the minister said`
            if words[i][2].lower() in SAY:
                return self._phrase(words[:i], 0, until="end")
        return None

    def _clause(self, words):
        """The words up to the first comma, colon or semicolon after the second word:
        `zei Biden, waarop Poetin antwoordde` -> `zei Biden`."""
        for k in range(1, len(words)):
            if k > 1 and re.search(r"[,:;]", self.text[words[k - 1][1]:words[k][0]]):
                return words[:k]
        return words

    def _colon(self, s_start: int, m_start: int) -> Speaker | None:
        """`X zei: "…"`, `zei Biden: "…"`, `Biden: '…'`, `Norris zag dat anders: "…"`."""
        before = self.text[s_start:m_start].rstrip()
        if not before.endswith(":"):
            return None
        clause_start = s_start + max(before.rfind(c) for c in ',”"’') + 1
        words = self._words(clause_start, s_start + len(before) - 1)
        if not words:
            return None
        for i in range(len(words) - 1, -1, -1):  # `… zei Biden:` / `… waarop Poetin antwoordde:`
            if words[i][2].lower() in SAY:
                found = self._phrase(words, i + 1, until="tail") or self._ending_at(words, i)
                if found:
                    return found
        return self._first_subject(words)

    def _sentence_speaker(self, s_start: int, s_end: int, marks) -> Speaker | None:
        """A partial quote's speaker: `volgens X`, or the subject of a reporting verb."""
        words = self._outside(s_start, s_end, marks)
        return self._volgens(words) or self._by_verb(words, REPORT)

    def _reported(self, s_start: int, s_end: int) -> Speaker | None:
        """Reported speech without marks: `volgens X`, `X zei dat`, `zei X dat`, `…, meldt X.`"""
        words = self._words(s_start, s_end)
        speaker = self._volgens(words)
        if speaker:
            return speaker
        sentence = self.text[s_start:s_end]
        trailing = _TRAILING_SAY.search(sentence)
        if trailing:
            return self._phrase(self._words(s_start + trailing.start() + 1, s_end), 1, until="tail")
        lowered = [w[2].lower() for w in words]
        if any(w in _ENGLISH_SAY for w in lowered):
            return self._by_verb(words, SAY)
        return self._by_verb(words, REPORT, need_that=True)

    # --- finding the speaker in a row of words ------------------------------------------------

    def _volgens(self, words) -> Speaker | None:
        for i, w in enumerate(words):
            low = w[2].lower()
            if low == "volgens":
                found = self._phrase(words, i + 1)
            elif low == "according" and i + 1 < len(words) and words[i + 1][2].lower() == "to":
                found = self._phrase(words, i + 2)
            else:
                continue
            if found:
                return found
        return None

    def _by_verb(self, words, verbs, need_that: bool = False) -> Speaker | None:
        for i, w in enumerate(words):
            if w[2].lower() not in verbs or i == 0:
                continue
            # "dat" that starts a clause, not "ontkent dat." at the sentence's end
            if need_that and not any(x[2].lower() in _THAT for x in words[i + 1:-1]):
                continue
            found = self._ending_at(words, i) or self._phrase(words, i + 1)
            if found:
                return found
        return None

    def _ending_at(self, words, i: int) -> Speaker | None:
        """The subject right before words[i]: a noun phrase that starts the sentence or a clause
        (after a comma, "en", "maar", "waarop") and ends at words[i]. In "In een toespraak voor
        het Europees Parlement zei hij" the subject is "hij", after the verb, not "Parlement"."""
        for start in range(max(0, i - 8), i):
            if start > 0 and self._joined(words[start - 1], words[start]) \
                    and (words[start - 1][2].lower() not in _CLAUSE_STARTS
                         or self._in_office(words, start - 1)):
                continue
            found = self._phrase(words[:i], start, until="end")
            if found:
                return found
        return None

    def _first_subject(self, words) -> Speaker | None:
        for start in range(min(len(words), 4)):
            found = self._phrase(words, start)
            if found:
                return found
        return None

def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    for m in re.finditer(r"[^\n]+", text):
        if m.group().strip():
            yield m.start(), m.end()


def _outermost(matches) -> list[tuple[int, int, int, int]]:
    """(mark start, words start, words end, mark end) of the quotes not inside another one."""
    found = []
    for m in matches:
        group = next(g for g in "abcde" if m.group(g) is not None)
        c_start, c_end = m.span(group)
        words = m.string[c_start:c_end]
        c_start += len(words) - len(words.lstrip())
        c_end = c_start + len(words.strip().rstrip(",").rstrip())
        if len(WORD.findall(m.string[c_start:c_end])) >= 1 and c_end > c_start:
            found.append((m.start(), c_start, c_end, m.end()))
    return found


def _sentences(text: str, start: int, end: int, marks) -> list[tuple[int, int]]:
    """The paragraph's sentences; a full stop inside a quote does not end one."""
    spans, cursor = [], start
    for m in _SENTENCE_END.finditer(text, start, end):
        if any(q_start < m.start() < q_end - 1 for q_start, _, _, q_end in marks):
            continue
        spans.append((cursor, m.end()))
        cursor = m.end()
    spans.append((cursor, end))
    return trimmed_spans(text, spans)


def _next_mark(marks, after: int, default: int) -> int:
    return min((m[0] for m in marks if m[0] >= after), default=default)


def _trim_end(text: str, start: int, end: int) -> int:
    return start + len(text[start:end].rstrip())
