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

A speaker is a name ("president Volodymyr Zelenski" -> Volodymyr Zelenski), an organisation
("het KNMI"), a role without a name ("de paus"), or a pronoun ("hij", "he") taken to be the
person last named before it as a subject or a speaker. Every span is an exact offset into the
article text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from indexer.index.names import name_key
from indexer.records import Quote

# A quote: the marks that open and close it, its words inside. A straight or curly single mark is
# a quote only at a word's edge: "zo'n", "foto’s", "d'Huez" and "Navalny's" are apostrophes.
_QUOTES = re.compile(r"""
      "(?P<a>[^"\n]+)"
    | “(?P<b>[^“”\n]+)”
    | „(?P<c>[^„“”\n]+)[“”]
    | «\s?(?P<d>[^«»\n]+?)\s?»
    | (?<![\w'‘’])['‘](?=[^\s'‘’])(?P<e>[^\n]+?)(?<=[^\s'‘’])['’](?!\w)
""", re.VERBOSE)
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s+[\"“„'‘«(]?[A-Z0-9À-Þ])")

_SAY = frozenset("""
    zei zegt zeiden zeggen vertelde vertelt aldus schreef schrijft stelt stelde meldt meldde
    reageerde reageert antwoordde antwoordt waarschuwde waarschuwt benadrukte benadrukt verklaarde
    verklaart voegde adviseerde riep sprak vond vindt meent meende concludeerde erkende erkent
    beaamde lachte zuchtte klonk klinkt twitterde tweette liet laat vroeg vraagt herhaalde
    onderstreepte beloofde belooft grapte opperde vervolgde besloot melden stellen verklaren
    benadrukten waarschuwden vinden meenden menen
    said says told tells added adds wrote writes warned warns explained stated replied insisted
    noted declared claimed announced continued recalled argued admitted asked according
""".split())
# Verbs that give a partial quote or reported speech to the subject of their sentence.
_REPORT = _SAY | frozenset("""
    noemde noemt noemden omschreef omschrijft beschreef beschrijft kondigde gaf geeft wees wijst
    verwacht verwachtte vreest vreesde denkt dacht gelooft geloofde ontkende ontkent beweerde
    beweert spreekt spraken pleitte pleit drong dringt hoopt hoopte verwachten vrezen denken
    geloven ontkennen
    called calls described describes believes expects denied denies hopes
""".split())
_THAT = frozenset({"dat", "that"})
_ENGLISH_SAY = frozenset({"said", "says", "told", "according"})
# Main clauses, where the subject comes right before its verb ("…, maar Moskou ontkent"); not
# "dat …", whose verb comes last ("dat Europa 'een antwoord' geeft": Europa says nothing).
_CLAUSE_STARTS = frozenset("en maar waarop want and but".split())
_TRAILING_SAY = re.compile(r",\s*(meldt|meldde|melden|zegt|zei|laat weten|liet weten|schrijft|schreef"
                           r"|meent|vindt|stelt|denkt|berichten|bericht|berichtte"
                           r"|said|says|reports|reported)\s+[^,]{2,60}[.!]?\s*$")
_PRONOUNS = frozenset("hij zij ze hem haar he she him her".split())
_DETERMINERS = frozenset("de het een the a an zijn haar hun his her their onze our die deze".split())
_PARTICLES = frozenset("van von de der den ter ten te du da di la le del des bin al 't".split())
# Capitalised at a sentence's start, but not names.
_NOT_NAMES = frozenset("""
    de het een dit dat deze die in op bij na voor volgens maar en ook zo er hij zij ze wij we ik
    jij je u wat wie waar hoe toen als omdat tijdens vanaf tot met door om uit onder over zowel
    hoewel later vooraf vanwege wel niet geen alleen nog daar dan hier zijn haar hun ons mijn
    toch tegelijk daarna eerder verder bovendien volgende vorige gisteren vandaag morgen
    the a an this that these those in on at by for but and also so there he she we i you it they
    what who where how when if because during from to with after before according his her their
    maandag dinsdag woensdag donderdag vrijdag zaterdag zondag
    monday tuesday wednesday thursday friday saturday sunday
""".split())
_ROLES = frozenset("""
    president premier minister staatssecretaris woordvoerder woordvoerster topman topvrouw
    directeur directrice voorzitter burgemeester wethouder gedeputeerde bondscoach trainer coach
    aanvoerder conservator weerman weervrouw wetenschapper onderzoeker onderzoekster hoogleraar
    professor econoom analist deskundige expert advocaat rechter politicoloog seismoloog regisseur
    bewoner bewoonster bewoners reiziger reizigster student studente melkveehouder veehouder boer
    boerin leider kanselier bondskanselier koning koningin paus prins prinses gezant ambassadeur
    secretaris-generaal correspondent journalist ceo oprichter eigenaar ondernemer agent
    commissaris generaal kolonel officier arts dokter ambtgenoot ambtsgenoot evenknie staatshoofd
    functionaris functionarissen onderzoekers deskundigen experts makers ooggetuige getuige
    spokesman spokeswoman spokesperson chief director chairman chairwoman mayor senator governor
    secretary official officials analyst researcher lawyer judge manager king queen pope
    scientist doctor witness socialist politicus politica
""".split())
_ROLE_ENDINGS = ("woordvoerder", "woordvoerster", "leider", "minister", "president", "voorzitter",
                 "trainer", "correspondent", "loog", "kundige", "deskundige", "wetenschapper",
                 "directeur", "generaal", "coach")


@dataclass(frozen=True)
class _Speaker:
    """A speaker as one sentence names him: the words there, and the name they stand for."""

    start: int
    end: int
    name: str  # the name, or the role ("paus"), or the pronoun's antecedent
    pronoun: bool = False


def attribute(doc_id: str, text: str) -> list[Quote]:
    """Every quote and piece of reported speech in ``text`` with its speaker, in text order."""
    return _Article(doc_id, text).quotes()


class _Article:
    def __init__(self, doc_id: str, text: str) -> None:
        self.doc_id, self.text = doc_id, text
        self.words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
        self.starts = [w[0] for w in self.words]
        self.persons: list[tuple[int, str]] = []  # (where, name): the subjects and speakers so far
        self.titles = self._titles()  # (where, role, name): "president Volodymyr Zelenski"

    def quotes(self) -> list[Quote]:
        found: list[tuple[int, int, _Speaker, str]] = []
        for p_start, p_end in _paragraphs(self.text):
            found.extend(self._paragraph(p_start, p_end))
        names = {n: name_key(n) for n in dict.fromkeys(_without_title(n) for n in self._all_names())}
        quotes = []
        for start, end, speaker, kind in found:
            full = _fullest(speaker.name, names)
            key = " ".join(name_key(full))
            if key:
                quotes.append(Quote(self.doc_id, start, end, full, key, speaker.start,
                                    speaker.end, kind))
        return quotes

    def _paragraph(self, p_start: int, p_end: int) -> Iterator[tuple[int, int, _Speaker, str]]:
        marks = _outermost(_QUOTES.finditer(self.text, p_start, p_end))
        previous: tuple[int, _Speaker] | None = None  # the last quote's end and speaker
        subject: _Speaker | None = None  # the person the previous sentence is about
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
                        and not _WORD.search(self.text, m_end, s_end):
                    speaker = subject  # `X ging in op … . "…"`: a quote that is a sentence of its own
                if speaker is None:
                    continue
                self._note(speaker)
                previous = (m_end, speaker)
                yield c_start, c_end, speaker, "direct"
            subject = self._note_subject(s_start, s_end, inside)

    # --- the words around a quote -------------------------------------------------------------

    def _after(self, m_end: int, s_end: int, marks) -> _Speaker | None:
        """`"…," zei X` / `", aldus X"` / `," X said` / `", voegde hij eraan toe"`."""
        if not re.match(r"\s*,?\s*\w", self.text[m_end:s_end]):
            return None
        words = self._clause(self._words(m_end, _next_mark(marks, m_end, s_end)))
        if not words:
            return None
        if words[0][2].lower() in _SAY:
            return self._phrase(words, 1, until="tail")
        for i in range(1, min(len(words), 6)):  # English: `," Biden said` / `," the minister said`
            if words[i][2].lower() in _SAY:
                return self._phrase(words[:i], 0, until="end")
        return None

    def _clause(self, words):
        """The words up to the first comma, colon or semicolon after the second word:
        `zei Biden, waarop Poetin antwoordde` -> `zei Biden`."""
        for k in range(1, len(words)):
            if k > 1 and re.search(r"[,:;]", self.text[words[k - 1][1]:words[k][0]]):
                return words[:k]
        return words

    def _colon(self, s_start: int, m_start: int) -> _Speaker | None:
        """`X zei: "…"`, `zei Biden: "…"`, `Biden: '…'`, `Norris zag dat anders: "…"`."""
        before = self.text[s_start:m_start].rstrip()
        if not before.endswith(":"):
            return None
        clause_start = s_start + max(before.rfind(c) for c in ',”"’') + 1
        words = self._words(clause_start, s_start + len(before) - 1)
        if not words:
            return None
        for i in range(len(words) - 1, -1, -1):  # `… zei Biden:` / `… waarop Poetin antwoordde:`
            if words[i][2].lower() in _SAY:
                found = self._phrase(words, i + 1, until="tail") or self._ending_at(words, i)
                if found:
                    return found
        return self._first_subject(words)

    def _sentence_speaker(self, s_start: int, s_end: int, marks) -> _Speaker | None:
        """A partial quote's speaker: `volgens X`, or the subject of a reporting verb."""
        words = self._outside(s_start, s_end, marks)
        return self._volgens(words) or self._by_verb(words, _REPORT)

    def _reported(self, s_start: int, s_end: int) -> _Speaker | None:
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
            return self._by_verb(words, _SAY)
        return self._by_verb(words, _REPORT, need_that=True)

    # --- finding the speaker in a row of words ------------------------------------------------

    def _volgens(self, words) -> _Speaker | None:
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

    def _by_verb(self, words, verbs, need_that: bool = False) -> _Speaker | None:
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

    def _ending_at(self, words, i: int) -> _Speaker | None:
        """The subject right before words[i]: a noun phrase that starts the sentence or a clause
        (after a comma, "en", "maar", "waarop") and ends at words[i]. In "In een toespraak voor
        het Europees Parlement zei hij" the subject is "hij", after the verb, not "Parlement"."""
        for start in range(max(0, i - 8), i):
            if start > 0 and self._joined(words[start - 1], words[start]) \
                    and words[start - 1][2].lower() not in _CLAUSE_STARTS:
                continue
            found = self._phrase(words[:i], start, until="end")
            if found:
                return found
        return None

    def _first_subject(self, words) -> _Speaker | None:
        for start in range(min(len(words), 4)):
            found = self._phrase(words, start)
            if found:
                return found
        return None

    def _phrase(self, words, i: int, until: str = "any") -> _Speaker | None:
        """The speaker named by the words from ``i``: [det] [adjectives] [roles] [name], or a
        pronoun. ``until``: "any" (more words may follow), "tail" (only a short tail such as a
        place, "na afloop", "lachend", "eraan toe") or "end" (nothing may follow)."""
        if i >= len(words):
            return None
        first = words[i]
        if first[2].lower() in _PRONOUNS:
            if not self._rest_ok(words, i + 1, until):
                return None
            name = self._antecedent(first[0])
            return _Speaker(first[0], first[1], name, pronoun=True) if name else None
        j = i + 1 if first[2].lower() in _DETERMINERS and not self._particle_name(words, i) else i
        role_at = next((k for k in range(j, min(j + 4, len(words))) if _is_role(words[k][2])), None)
        if role_at is not None and all(self._joined(words[k], words[k + 1]) for k in range(j, role_at)):
            phrase_start = j
            j = role_at
            while j < len(words) and _is_role(words[j][2]) and (
                    j == role_at or self._joined(words[j - 1], words[j])):
                j += 1
        else:
            role_at, phrase_start = None, j
        name_start = j
        if j < len(words) and (j == phrase_start or self._joined(words[j - 1], words[j])):
            j = self._name_end(words, j)
        if j == name_start and role_at is None:
            return None
        if role_at is None and j == name_start + 1 and _adjective(words[name_start][2]):
            return None  # "het Israëlische leger", "De Amerikaanse delegatie": not a name
        if not self._rest_ok(words, j, until):
            return None
        if j > name_start:
            return _Speaker(words[name_start][0], words[j - 1][1],
                            self.text[words[name_start][0]:words[j - 1][1]])
        start, end = words[phrase_start][0], words[j - 1][1]
        role = self.text[start:end]
        return _Speaker(start, end, self._titled(role, start) or role)

    def _rest_ok(self, words, j: int, until: str) -> bool:
        rest = words[j:]
        if until == "end":  # a department or employer may follow: "Wiersma van Landbouw"
            return not rest or (rest[0][2] == "van" and len(rest) <= 5 and all(
                w[2][0].isupper() or w[2] in ("de", "het") for w in rest[1:]))
        if until == "tail":
            return len(rest) <= 8 and not any(w[2].lower() in _SAY for w in rest)
        return True

    def _titled(self, role: str, at: int) -> str | None:
        """The person last named with this role before ``at``: "de Russische president" after
        "De Russische president Vladimir Poetin" is Poetin."""
        wanted = fold_role(role)
        names = [name for where, r, name in self.titles if where < at
                 and (r == wanted or " " not in wanted and r.endswith(" " + wanted))]
        return names[-1] if names else None

    def _name_end(self, words, j: int) -> int:
        """Where the capitalised run (with its particles) from words[j] ends."""
        start = j
        while j < len(words) and j - start < 6:
            w = words[j][2]
            if j > start and not self._joined(words[j - 1], words[j]):
                break
            if w[0].isupper() and (w.lower() not in _NOT_NAMES or self._particle_name(words, j)):
                j += 1
                continue
            if j > start and w.lower() in _PARTICLES:  # "Jan van de Beek", "Ursula von der Leyen"
                k = j
                while k < len(words) and words[k][2].lower() in _PARTICLES and self._joined(words[k - 1], words[k]):
                    k += 1
                if (k < len(words) and words[k][2][0].isupper() and self._joined(words[k - 1], words[k])
                        and (j - start == 1 or w[0].isupper())):
                    j = k
                    continue
            break
        return j

    def _particle_name(self, words, j: int) -> bool:
        """A capitalised particle that starts a name: "De Wever", "Van der Schaaf", not "De
        Europese Commissie" at a sentence's start (then "De" is the determiner)."""
        w = words[j][2]
        if w.lower() not in _PARTICLES or not w[0].isupper():
            return False
        k = j + 1
        while k < len(words) and words[k][2].lower() in _PARTICLES and words[k][2].islower():
            k += 1
        if k >= len(words) or not words[k][2][0].isupper() or not self._joined(words[k - 1], words[k]):
            return False
        before = self.text[max(0, words[j][0] - 4):words[j][0]]
        sentence_start = j == 0 or words[j][0] < 4 or re.search(r"[.!?:\n\"“”„'‘’]\s*$", before)
        return k > j + 1 or not sentence_start

    def _joined(self, a, b) -> bool:
        """Only spaces between two words (no comma, colon or quote mark)."""
        return self.text[a[1]:b[0]].strip() == ""

    def _words(self, start: int, end: int):
        """The words inside text[start:end] (by bisection: an article may have 30,000)."""
        first = bisect.bisect_left(self.starts, start)
        last = bisect.bisect_right(self.starts, end)
        return [w for w in self.words[first:last] if w[1] <= end]

    # --- who "hij" is ------------------------------------------------------------------------

    def _note(self, speaker: _Speaker) -> None:
        if not speaker.pronoun and any(t[:1].isupper() for t in speaker.name.split()):
            self.persons.append((speaker.start, speaker.name))

    def _note_subject(self, s_start: int, s_end: int, marks) -> _Speaker | None:
        """A sentence that starts with a named person ("De Oekraïense president Volodymyr
        Zelenski heeft …") makes him the one a later "hij" means; he is returned."""
        words = self._outside(s_start, s_end, marks)
        if not words or words[0][0] != s_start:
            return None
        speaker = self._phrase(words, 0)
        if speaker and speaker.name[:1].isupper():
            if not speaker.pronoun:
                self.persons.append((speaker.start, speaker.name))
            return speaker
        return None

    def _outside(self, start: int, end: int, marks):
        """The words of text[start:end] that are not inside a quote."""
        return [w for w in self._words(start, end)
                if not any(c_s <= w[0] < c_e for _, c_s, c_e, _ in marks)]

    def _antecedent(self, at: int) -> str | None:
        """The person last named as a subject or speaker before ``at``; where there is none, the
        first person titled in the last sentence that titles one ("heeft de Amerikaanse
        president Biden tegen zijn ambtgenoot Poetin …. Hij": Biden)."""
        before = [name for where, name in self.persons if where < at]
        if before:
            return before[-1]
        titled = [(where, name) for where, _, name in self.titles if where < at]
        if not titled:
            return None
        last = titled[-1][0]
        sentence_start = max(self.text.rfind(". ", 0, last), self.text.rfind("\n", 0, last))
        return next(name for where, name in titled if where > sentence_start)

    def _titles(self) -> list[tuple[int, str, str]]:
        found = []
        for k, word in enumerate(self.words[:-1]):
            if _is_role(word[2]) and self._joined(word, self.words[k + 1]):
                end = self._name_end(self.words, k + 1)
                if end > k + 1:
                    first = k - 1 if k > 0 and _adjective(self.words[k - 1][2]) \
                        and self._joined(self.words[k - 1], word) else k
                    found.append((word[0], fold_role(self.text[self.words[first][0]:word[1]]),
                                  self.text[self.words[k + 1][0]:self.words[end - 1][1]]))
        return found

    def _all_names(self) -> list[str]:
        names, j = [], 0
        while j < len(self.words):
            end = self._name_end(self.words, j)
            if end > j:
                names.append(self.text[self.words[j][0]:self.words[end - 1][1]])
                j = end
            else:
                j += 1
        return names


def fold_role(role: str) -> str:
    """"De Russische president" -> "russische president": what "de Russische president" must
    match to stand for the person titled so."""
    return " ".join(w for w in role.lower().split() if w not in _DETERMINERS)


def _adjective(word: str) -> bool:
    """A nationality or other adjective written with a capital: Amerikaanse, Russische, Poolse."""
    return word.lower().endswith(("se", "sche", "ische", "ese", "aanse", "ian", "ish"))


def _is_role(word: str) -> bool:
    low = word.lower()
    return low in _ROLES or low.endswith(_ROLE_ENDINGS) or (
        "-" in low and low.rsplit("-", 1)[1] in _ROLES)


def _fullest(name: str, names: dict[str, tuple[str, ...]]) -> str:
    """The article's fullest writing of a name: "Biden" -> "Joe Biden" where it says so.
    ``names``: every name the article writes (without the role before it), with its key."""
    key = name_key(name)
    if not key or not name[:1].isupper():
        return name
    longer = [n for n, k in names.items() if len(k) > len(key) and k[-len(key):] == key]
    return max(longer, key=lambda n: len(names[n])) if longer else name


def _without_title(name: str) -> str:
    """"Premier Dick Schoof" -> "Dick Schoof", "Poolse Katarzyna Niewiadoma" -> "Katarzyna
    Niewiadoma": a name run that starts a sentence takes the role before it."""
    words = name.split(" ")
    while len(words) > 1 and _is_role(words[0]) or len(words) > 2 and _adjective(words[0]):
        words = words[1:]
    return " ".join(words)


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
        if len(_WORD.findall(m.string[c_start:c_end])) >= 1 and c_end > c_start:
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
    trimmed = []
    for s, e in spans:
        piece = text[s:e]
        s += len(piece) - len(piece.lstrip())
        e = s + len(piece.strip())
        if e > s:
            trimmed.append((s, e))
    return trimmed


def _next_mark(marks, after: int, default: int) -> int:
    return min((m[0] for m in marks if m[0] >= after), default=default)


def _trim_end(text: str, start: int, end: int) -> int:
    return start + len(text[start:end].rstrip())
