"""The words that name a speaker in a news sentence, and whom they stand for.

A speaker is named by [a determiner] [adjectives] [roles] [a name with its particles] ("De
Oekraïense president Volodymyr Zelenski", "Jan van de Beek", "De Wever"), by a role alone ("de
paus"; "de Russische president" is the person the article titled so), or by a pronoun ("hij"),
taken to be the last person named as a subject or a speaker before it. indexer.write.quotes
finds the quotes and asks this module who is named where; the word lists are its vocabulary
(docs/decisions/0036).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from indexer.index.names import OFFICES, is_office, name_key


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


WORD = re.compile(r"\w+(?:[-'’]\w+)*")

SAY = _vocabulary("""
    zei zegt zeiden zeggen vertelde vertelt aldus schreef schrijft stelt stelde meldt meldde
    reageerde reageert antwoordde antwoordt waarschuwde waarschuwt benadrukte benadrukt verklaarde
    verklaart voegde adviseerde riep sprak vond vindt meent meende concludeerde erkende erkent
    beaamde lachte zuchtte klonk klinkt twitterde tweette liet laat vroeg vraagt herhaalde
    onderstreepte beloofde belooft grapte opperde vervolgde besloot melden stellen verklaren
    benadrukten waarschuwden vinden meenden menen
    said says told tells added adds wrote writes warned warns explained stated replied insisted
    noted declared claimed announced continued recalled argued admitted asked according
""")
# Verbs that give a partial quote or reported speech to the subject of their sentence.
REPORT = SAY | _vocabulary("""
    noemde noemt noemden omschreef omschrijft beschreef beschrijft kondigde gaf geeft wees wijst
    verwacht verwachtte vreest vreesde denkt dacht gelooft geloofde ontkende ontkent beweerde
    beweert spreekt spraken pleitte pleit drong dringt hoopt hoopte verwachten vrezen denken
    geloven ontkennen
    called calls described describes believes expects denied denies hopes
""")
_PRONOUNS = _vocabulary("hij zij ze hem haar he she him her")
_DETERMINERS = _vocabulary("de het een the a an zijn haar hun his her their onze our die deze")
_PARTICLES = _vocabulary("van von de der den ter ten te du da di la le del des bin al 't")
# Capitalised at a sentence's start, but not names.
_NOT_NAMES = _vocabulary("""
    de het een dit dat deze die in op bij na voor volgens maar en ook zo er hij zij ze wij we ik
    jij je u wat wie waar hoe toen als omdat tijdens vanaf tot met door om uit onder over zowel
    hoewel later vooraf vanwege wel niet geen alleen nog daar dan hier zijn haar hun ons mijn
    toch tegelijk daarna eerder verder bovendien volgende vorige gisteren vandaag morgen
    the a an this that these those in on at by for but and also so there he she we i you it they
    what who where how when if because during from to with after before according his her their
    maandag dinsdag woensdag donderdag vrijdag zaterdag zondag men misschien soms vaak nu dus
    daarom echter intussen inmiddels ondertussen tevens vervolgens uiteindelijk waarschijnlijk
    zelfs pas net al nooit altijd meestal enkele sommige veel vele alle beide
    twee drie vier vijf zes zeven acht negen tien elf twaalf twintig honderd duizend
    perhaps maybe now then however one two three four five six seven eight nine ten many some
    monday tuesday wednesday thursday friday saturday sunday
""")
_ROLES = _vocabulary("""
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
""")
_ROLE_ENDINGS = ("woordvoerder", "woordvoerster", "leider", "minister", "president", "voorzitter",
                 "trainer", "correspondent", "loog", "kundige", "deskundige", "wetenschapper",
                 "directeur", "generaal", "coach")


@dataclass(frozen=True)
class Speaker:
    """A speaker as one sentence names him: the words there, and the name they stand for."""

    start: int
    end: int
    name: str  # the name, or the role ("paus"), or the pronoun's antecedent
    pronoun: bool = False


class Phrases:
    """An article's words, the noun phrases that name speakers in them, and who "hij" is."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.words = [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]
        self.starts = [w[0] for w in self.words]
        self.persons: list[tuple[int, str]] = []  # (where, name): the subjects and speakers so far
        self.titles = self._titles()  # (where, role, name): "president Volodymyr Zelenski"

    def _phrase(self, words, i: int, until: str = "any") -> Speaker | None:
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
            return Speaker(first[0], first[1], name, pronoun=True) if name else None
        j = i + 1 if first[2].lower() in _DETERMINERS and not self._particle_name(words, i) else i
        role_at = next((k for k in range(j, min(j + 4, len(words))) if is_role(words[k][2])), None)
        if role_at is not None and all(self._joined(words[k], words[k + 1]) for k in range(j, role_at)):
            phrase_start = j
            j = role_at
            while j < len(words) and is_role(words[j][2]) and (
                    j == role_at or self._joined(words[j - 1], words[j])):
                j += 1
        else:
            role_at, phrase_start = None, j
        name_start = j
        if j < len(words) and (j == phrase_start or self._joined(words[j - 1], words[j])):
            j = self._name_end(words, j)
        if j == name_start and role_at is None:
            return None
        if role_at is None and j == name_start + 1 and adjective(words[name_start][2]):
            return None  # "het Israëlische leger", "De Amerikaanse delegatie": not a name
        if not self._rest_ok(words, j, until):
            return None
        if j > name_start:
            return Speaker(words[name_start][0], words[j - 1][1],
                            self.text[words[name_start][0]:words[j - 1][1]])
        start, end = words[phrase_start][0], words[j - 1][1]
        role = self.text[start:end]
        return Speaker(start, end, self._titled(role, start) or role)

    def _rest_ok(self, words, j: int, until: str) -> bool:
        rest = words[j:]
        if until == "end":  # a department or employer may follow: "Wiersma van Landbouw"
            if not rest:
                return True
            office = self._office(rest, 0)  # "van Klimaat en Energie": "en" may join it
            return (rest[0][2] == "van" and len(rest) <= 6 and all(
                w[2][0].isupper() or w[2] in ("de", "het") or w[2] == "en" and office
                for w in rest[1:]))
        if until == "tail":
            return len(rest) <= 8 and not any(w[2].lower() in SAY for w in rest)
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
            if j > start and w.lower() in _PARTICLES and not self._office(words, j):
                k = j  # "Jan van de Beek", "Ursula von der Leyen"
                while k < len(words) and words[k][2].lower() in _PARTICLES and self._joined(words[k - 1], words[k]):
                    k += 1
                if (k < len(words) and words[k][2][0].isupper() and self._joined(words[k - 1], words[k])
                        and (j - start == 1 or w[0].isupper())):
                    j = k
                    continue
            break
        return j

    def _office(self, words, j: int) -> bool:
        """Whether words[j] is "van" before an office: "(Jetten) van Klimaat en Energie"."""
        return words[j][2] == "van" and j + 1 < len(words) and is_office(words[j + 1][2])

    def _in_office(self, words, j: int) -> bool:
        """Whether words[j] ("en") joins two words of an office: "van Klimaat en Energie"."""
        return (j > 0 and j + 1 < len(words) and words[j][2] == "en"
                and words[j - 1][2].lower() in OFFICES and words[j + 1][2].lower() in OFFICES
                and any(self._office(words, k) for k in range(max(0, j - 4), j)))

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

    def _note(self, speaker: Speaker) -> None:
        if not speaker.pronoun and any(t[:1].isupper() for t in speaker.name.split()):
            self.persons.append((speaker.start, speaker.name))

    def _note_subject(self, s_start: int, s_end: int, marks) -> Speaker | None:
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
            if is_role(word[2]) and self._joined(word, self.words[k + 1]):
                end = self._name_end(self.words, k + 1)
                if end > k + 1:
                    first = k - 1 if k > 0 and adjective(self.words[k - 1][2]) \
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


def adjective(word: str) -> bool:
    """A nationality or other adjective written with a capital: Amerikaanse, Russische, Poolse."""
    return word.lower().endswith(("se", "sche", "ische", "ese", "aanse", "ian", "ish"))


def is_role(word: str) -> bool:
    low = word.lower()
    return low in _ROLES or low.endswith(_ROLE_ENDINGS) or (
        "-" in low and low.rsplit("-", 1)[1] in _ROLES)


def fullest(name: str, names: dict[str, tuple[str, ...]]) -> str:
    """The article's fullest writing of a name: "Biden" -> "Joe Biden" where it says so.
    ``names``: every name the article writes (without the role before it), with its key."""
    key = name_key(name)
    if not key or not name[:1].isupper():
        return name
    longer = [n for n, k in names.items() if len(k) > len(key) and k[-len(key):] == key]
    return max(longer, key=lambda n: len(names[n])) if longer else name


def without_title(name: str) -> str:
    """"Premier Dick Schoof" -> "Dick Schoof", "Poolse Katarzyna Niewiadoma" -> "Katarzyna
    Niewiadoma": a name run that starts a sentence takes the role before it."""
    words = name.split(" ")
    while len(words) > 1 and is_role(words[0]) or len(words) > 2 and adjective(words[0]):
        words = words[1:]
    return " ".join(words)


