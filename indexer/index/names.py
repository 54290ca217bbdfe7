"""Speaker names: the key a quote's speaker is stored under, and when a question's name is his.

The write path keys every attributed speaker with ``name_key``; the read path keys the name in
a "what did X say" question the same way and asks ``same_speaker``. Both live here, below both
paths, so the two sides cannot drift apart.
"""

from __future__ import annotations

import re

from indexer.index.keywords.analysis import fold

_TOKEN = re.compile(r"\w+", re.UNICODE)

# Name particles ("Ursula von der Leyen", "Bart De Wever") and determiners: no evidence of who
# is meant, since many names share them.
PARTICLES = frozenset(["van", "von", "de", "der", "den", "het", "ter", "ten", "te", "du", "da", "di", "la", "le", "del", "des", "bin", "ibn", "al", "el", "the", "a", "an", "een"])


# The words of a Dutch office after "van": "minister Jetten van Klimaat en Energie", "Hoekstra van
# Buitenlandse Zaken". After a name, "van" + one of these is the office, not a particle of the
# name ("Jan van Dijk"), and "en" inside it joins its words, not two names or two clauses. Used
# where quotes are attributed (indexer/write/speaker_phrases.py) and where a question names its
# speaker (search/speakers.py).
OFFICES = frozenset("""
    klimaat energie financiën defensie justitie veiligheid buitenlandse binnenlandse economische
    sociale algemene zaken landbouw natuur voedselkwaliteit visserij voedselzekerheid onderwijs
    cultuur wetenschap volksgezondheid welzijn sport infrastructuur waterstaat volkshuisvesting
    ruimtelijke ordening asiel migratie medische zorg jeugd preventie rechtsbescherming
    koninkrijksrelaties digitalisering toeslagen douane fiscaliteit handel ontwikkelingshulp
    ontwikkelingssamenwerking werkgelegenheid milieu wonen armoedebeleid participatie integratie
    emancipatie mijnbouw herstel groningen economie
""".split())
_OFFICE_AFTER = re.compile(r"\s+van\s+(\w+)")


def is_office(word: str) -> bool:
    """Whether ``word``, written after "van", starts an office: "Klimaat", "Buitenlandse"."""
    return word[:1].isupper() and word.lower() in OFFICES


def without_office(phrase: str) -> str:
    """"minister Jetten van Klimaat en Energie" -> "minister Jetten"; other phrases as they are."""
    for match in _OFFICE_AFTER.finditer(phrase):
        if is_office(match.group(1)):
            return phrase[:match.start()]
    return phrase


def name_key(name: str) -> tuple[str, ...]:
    """The folded tokens of a name, without particles: "Joe Biden" -> ("joe", "biden"),
    "Van der Schaaf" -> ("schaaf",), "Zelenski" -> ("zelenski",)."""
    return tuple(t for t in _TOKEN.findall(fold(name)) if len(t) > 1 and t not in PARTICLES and not t.isdigit())


def same_speaker(asked: tuple[str, ...], speaker: tuple[str, ...]) -> bool:
    """Whether the name a question asks about (a key) is this speaker's (a key).

    The question's last token, the surname as people write it ("Biden", "president Biden",
    "Joe Biden"), must be one of the speaker's tokens, compared in one spelling (Poetin/Putin,
    Navalnaja/Navalnaya) and with one letter that may differ in a long token (Zelenski/Zelensky,
    Navalny/Navalnyj): how one name is spelt across languages, without a list of names."""
    if not asked or not speaker:
        return False
    surname = asked[-1]
    return any(_close(surname, token) for token in speaker)


# Dutch writes Russian and Ukrainian names by Dutch sounds: oe for u, j for y, sj for sh,
# tsj for ch (Poetin/Putin, Joelia/Yulia, Sjojgoe/Shoigu). Compared in one spelling.
_SPELLING = (("tsj", "ch"), ("sj", "sh"), ("oe", "u"), ("j", "y"))


def _spelt(token: str) -> str:
    for dutch, english in _SPELLING:
        token = token.replace(dutch, english)
    return token


def _close(a: str, b: str) -> bool:
    a, b = _spelt(a), _spelt(b)
    if a == b:
        return True
    if min(len(a), len(b)) < 5 or a[0] != b[0] or abs(len(a) - len(b)) > 1:
        return False
    return _within_one_edit(a, b)


def _within_one_edit(a: str, b: str) -> bool:
    """One substitution, insertion, deletion or swap of neighbours (Damerau) turns a into b."""
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:] or (i + 1 < len(a) and a[i] == b[i + 1]
                                           and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:])
    return a[i:] == b[i + 1:]
