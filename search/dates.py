"""Date filters: from ``--since``/``--until``, or from a date written in the question.

An article's date is a period, not a day: "2021-06" is all of June 2021 and "2021" the whole year.
A filter keeps an article when that period overlaps the filter's, so an article is never dropped
only because its date is coarser than the filter. An article without a date never matches.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta

from indexer.dates import ACCEPTED_FORMS, DATE, parse_date
from indexer.errors import QueryError
from indexer.index.stores.base import DateBounds

MIN_YEAR, MAX_YEAR = 1900, 2100  # a number outside these is a count, not a year

_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")
_FULL_MONTHS = {name: number for number, names in enumerate((
    ("januari", "january"), ("februari", "february"), ("maart", "march"), ("april",),
    ("mei", "may"), ("juni", "june"), ("juli", "july"), ("augustus", "august"), ("september",),
    ("oktober", "october"), ("november",), ("december",)), start=1) for name in names}
# Abbreviations only count when a year follows: "jan", "mar" and "dec" are also names and words.
_ABBREVIATED_MONTHS = {"jan": 1, "feb": 2, "febr": 2, "mrt": 3, "mar": 3, "apr": 4, "jun": 6,
                       "jul": 7, "aug": 8, "sep": 9, "sept": 9, "okt": 10, "oct": 10, "nov": 11,
                       "dec": 12}

_AT = frozenset({"in", "op", "on", "during", "tijdens"})
_SINCE = frozenset({"sinds", "since"})
_BEFORE = frozenset({"voor", "vóór", "before"})
_AFTER = frozenset({"na", "after"})
_PREPOSITIONS = _AT | _SINCE | _BEFORE | _AFTER
_BETWEEN = frozenset({"tussen", "between"})
_AND = frozenset({"en", "and"})
_OF = frozenset({"van", "of"})
_RANGE_SIGNS = frozenset({"-", "–", "/"})

# Numbers keep their separators so "13.000" or "21:30" is one token and never looks like a year.
_TOKEN = re.compile(r"\d{4}-\d{2}(?:-\d{2})?(?![\d-])|\d+(?:[.,:]\d+)*[^\W\d_]*|[^\W\d_]+|\S")
_YEAR = re.compile(r"\d{4}")
_DAY = re.compile(r"(\d{1,2})(?:st|nd|rd|th|e|de|ste)?")


@dataclass(frozen=True)
class DateFilter:
    """Inclusive bounds ``since``/``until``, and/or ``month``: that month in any year."""

    since: date | None = None
    until: date | None = None
    month: int | None = None
    source: str = "options"  # "options" (--since/--until) or "question"
    phrase: str | None = None  # the words of the question the filter was read from

    def __post_init__(self) -> None:
        if self.source not in ("options", "question"):
            raise ValueError(f"source must be 'options' or 'question', not {self.source!r}")
        if self.month is not None and not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1 to 12, not {self.month}")
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since {self.since} is after until {self.until}")

    def matches(self, article_date: str | None) -> bool:
        """True when the article's period overlaps the filter; an article dated only "2021" matches
        any month, since it may be from that month (the same overlap rule as for since/until)."""
        return self.matches_period(article_period(article_date))

    def matches_period(self, period: tuple[date, date] | None) -> bool:
        """``matches`` for a period from ``article_period`` (a searcher keeps them per date)."""
        if period is None:
            return False
        start, end = period
        if (self.since and end < self.since) or (self.until and start > self.until):
            return False
        return self.month is None or _overlaps_month(start, end, self.month)

    def describe(self) -> str:
        parts = []
        if self.since and self.until:
            parts.append(_span_label(self.since, self.until) or _range_label(self.since, self.until))
        elif self.since:
            parts.append(f"from {_start_label(self.since)} on")
        elif self.until:
            parts.append(f"up to and including {_end_label(self.until)}")
        if self.month is not None:
            parts.append(f"{_MONTH_NAMES[self.month - 1]} of any year")
        origin = (f"from the question: '{self.phrase}'" if self.source == "question"
                  else "from --since/--until")
        return f"{', '.join(parts) or 'any date'} ({origin})"

    def as_dict(self) -> dict:
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "month": self.month, "source": self.source, "phrase": self.phrase,
                "description": self.describe()}


def store_bounds(date_filter: DateFilter) -> DateBounds:
    """The filter's since/until as YYYYMMDD, for a vector store that filters by date itself
    (a month of any year is left to the searcher's ids: the bounds only narrow first)."""
    def number(day: date | None) -> int | None:
        return None if day is None else day.year * 10_000 + day.month * 100 + day.day
    return DateBounds(number(date_filter.since), number(date_filter.until))


def date_bound(value: str, end: bool) -> date:
    """The first (``end=False``) or last (``end=True``) day of YYYY, YYYY-MM or YYYY-MM-DD."""
    if not isinstance(value, str) or not DATE.match(value.strip()):
        raise QueryError(f"{value!r} is not a date: use {ACCEPTED_FORMS}",
                         hint="e.g. 2021, 2021-06 or 2021-06-16")
    try:
        start, stop = _period(value)
    except ValueError:
        raise QueryError(f"{value!r} is not a real calendar date (use {ACCEPTED_FORMS})",
                         hint="check the month (01-12) and the number of days in that month") from None
    return stop if end else start


def filter_from_options(since: str | None, until: str | None) -> DateFilter | None:
    if since is None and until is None:
        return None
    start = date_bound(since, end=False) if since is not None else None
    stop = date_bound(until, end=True) if until is not None else None
    if start and stop and start > stop:
        raise QueryError(f"--since {since} is after --until {until}, so no article can match",
                         hint="swap the two dates")
    return DateFilter(since=start, until=stop, source="options")


def filter_from_question(question: str) -> DateFilter | None:
    """The first date written in the question (Dutch or English), or None."""
    text = unicodedata.normalize("NFC", question)
    tokens = list(_TOKEN.finditer(text))
    i = 0
    while i < len(tokens):
        found = _expression_at(tokens, i)
        if found is None:
            i += 1
            continue
        period, month, stop = found
        if period is None and month is None:  # recognised but not usable, e.g. "op 11 september"
            i = stop
            continue
        phrase = text[tokens[i].start():tokens[stop - 1].end()]
        since, until = period or (None, None)
        return DateFilter(since, until, month, source="question", phrase=phrase)
    return None


def effective_filter(options: DateFilter | None, question: str) -> DateFilter | None:
    """Explicit options win over a date in the question."""
    return options if options is not None else filter_from_question(question)


# What an expression in the question yields: ((since, until) or None, month or None, next token).
# Both None means a date was written but cannot be used as a filter ("op 11 september").
_Found = tuple[tuple[date | None, date | None] | None, int | None, int]


@dataclass(frozen=True)
class _Written:
    """A date as written in the question, possibly without year; ``stop`` is the next token."""

    year: int | None
    month: int | None
    day: int | None
    stop: int
    readable: bool = True  # False: a date was written, but in a form we do not read

    @property
    def month_only(self) -> bool:
        return self.readable and self.year is None and self.day is None

    def period(self) -> tuple[date, date] | None:
        if self.year is None or not self.readable:
            return None
        try:
            return _bounds(self.year, self.month, self.day)
        except ValueError:  # "31 juni 2021"
            return None


def _expression_at(tokens: list[re.Match], i: int) -> _Found | None:
    """(period, month, stop) for an expression starting at token i, or None if none starts here."""
    word = tokens[i].group().lower()
    if word in _BETWEEN:
        return _between(tokens, i + 1)
    if word in _PREPOSITIONS:
        written = _read_date(tokens, i + 1)
        if written is None:
            return None
        span = written.period()
        if word in _AT:
            return span, written.month if written.month_only else None, written.stop
        if span is None:
            return None, None, written.stop
        if word in _SINCE:
            return (span[0], None), None, written.stop
        if word in _BEFORE:
            return (None, span[0] - timedelta(days=1)), None, written.stop
        return (span[1] + timedelta(days=1), None), None, written.stop
    written = _read_date(tokens, i)
    # Without a preposition a bare year ("Euro 2020") is too often a name or a count.
    if written is None or written.year is None or written.month is None:
        return None
    return written.period(), None, written.stop


def _between(tokens: list[re.Match], i: int) -> _Found | None:
    first = _read_date(tokens, i, month_day_before_and=True)
    if first is None or _word(tokens, first.stop) not in _AND:
        return None
    last = _read_date(tokens, first.stop + 1)
    if last is None:
        return None
    if first.year is None and last.year is not None:  # "tussen november en februari 2022"
        first = replace(first, year=last.year)
        if (first.month or 1, first.day or 1) > (last.month or 12, last.day or 31):
            first = replace(first, year=last.year - 1)
    elif last.year is None and first.year is not None:  # "tussen november 2021 en februari"
        last = replace(last, year=first.year)
        if (first.month or 1, first.day or 1) > (last.month or 12, last.day or 31):
            last = replace(last, year=first.year + 1)
    start, end = first.period(), last.period()
    if start is None or end is None:
        return None, None, last.stop
    if start[0] > end[1]:  # "tussen 2021 en 2019" means the same years
        start, end = end, start
    return (start[0], end[1]), None, last.stop


def _read_date(tokens: list[re.Match], i: int, month_day_before_and: bool = False) -> _Written | None:
    word = _word(tokens, i)
    if word is None:
        return None
    if "-" in word and DATE.match(word):
        parts = [int(p) for p in word.split("-")] + [None]
        return _Written(parts[0], parts[1], parts[2], i + 1) if _is_year(word[:4]) else None
    if _YEAR.fullmatch(word):
        return _Written(int(word), None, None, i + 1) if _year_at(tokens, i) else None
    day = _day(word)
    if day is not None:  # "16 juni 2021"
        month, j, _ = _month_at(tokens, i + 1)
        if month is None:
            return None
        year, stop, readable = _year_after_month(tokens, j)
        return _Written(year, month, day, stop, readable)
    month, j, abbreviated = _month_at(tokens, i)
    if month is None:
        return None
    day = _day(_word(tokens, j))
    if day is not None:  # "June 16, 2021"
        k = j + 2 if _word(tokens, j + 1) == "," else j + 1
        year = _year_at(tokens, k)
        if year:
            return _Written(year, month, day, k + 1)
        if month_day_before_and and _word(tokens, j + 1) in _AND:
            return _Written(None, month, day, j + 1)
    year, stop, readable = _year_after_month(tokens, j)
    if year is None and readable and abbreviated:
        return None
    return _Written(year, month, None, stop, readable)


def _word(tokens: list[re.Match], i: int) -> str | None:
    return tokens[i].group().lower() if i < len(tokens) else None


def _is_year(word: str) -> bool:
    return bool(_YEAR.fullmatch(word)) and MIN_YEAR <= int(word) <= MAX_YEAR


def _year_at(tokens: list[re.Match], i: int) -> int | None:
    word = _word(tokens, i)
    if word is None or not _is_year(word):
        return None
    # "2019-2021" or "2021/22" is a range or a season we do not read; better no filter than half.
    after = _word(tokens, i + 1)
    if after in _RANGE_SIGNS and (_word(tokens, i + 2) or "")[:1].isdigit():
        return None
    return int(word)


def _year_after_month(tokens: list[re.Match], i: int) -> tuple[int | None, int, bool]:
    """(year, next token, readable) after a month: "2021", "van 2021", "of 2021" or nothing.
    "juni 2021-2022" is not readable: reading it as June of any year would be a guess."""
    if _word(tokens, i) in _OF and _is_year(_word(tokens, i + 1) or ""):
        i += 1
    if not _is_year(_word(tokens, i) or ""):
        return None, i, True
    year = _year_at(tokens, i)
    return year, i + 1, year is not None


def _day(word: str | None) -> int | None:
    match = _DAY.fullmatch(word) if word else None
    return int(match.group(1)) if match and 1 <= int(match.group(1)) <= 31 else None


def _month_at(tokens: list[re.Match], i: int) -> tuple[int | None, int, bool]:
    """(month, next token, abbreviated); an abbreviation may end in its own "." token."""
    word = _word(tokens, i)
    if word in _FULL_MONTHS:
        return _FULL_MONTHS[word], i + 1, False
    if word in _ABBREVIATED_MONTHS:
        stop = i + 2 if _word(tokens, i + 1) == "." else i + 1
        return _ABBREVIATED_MONTHS[word], stop, True
    return None, i, False


def _bounds(year: int, month: int | None = None, day: int | None = None) -> tuple[date, date]:
    if day is not None:
        return date(year, month, day), date(year, month, day)
    if month is not None:
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    return date(year, 1, 1), date(year, 12, 31)


def article_period(article_date: str | None) -> tuple[date, date] | None:
    """The first and last day a stored date can mean, or None for no date (or a bad one)."""
    if not article_date:
        return None
    try:
        return _period(article_date)
    except ValueError:  # stored dates are validated; a bad one counts as no date
        return None


def _period(value: str) -> tuple[date, date]:
    """Raise ValueError unless ``value`` is YYYY, YYYY-MM or YYYY-MM-DD of a real day."""
    return _bounds(*(int(part) for part in parse_date(value).split("-")))


def _overlaps_month(start: date, end: date, month: int) -> bool:
    if (end.year - start.year) * 12 + end.month - start.month >= 11:
        return True
    current = start.replace(day=1)
    while current <= end:
        if current.month == month:
            return True
        current = (current + timedelta(days=32)).replace(day=1)
    return False


def _day_label(day: date) -> str:
    return f"{day.day} {_month_label(day)}"


def _month_label(day: date) -> str:
    return f"{_MONTH_NAMES[day.month - 1]} {day.year}"


def _span_label(start: date, end: date) -> str | None:
    """A name for [start, end] when it is exactly one year, month or day."""
    if (start, end) == _bounds(start.year):
        return str(start.year)
    if (start, end) == _bounds(start.year, start.month):
        return _month_label(start)
    return _day_label(start) if start == end else None


def _range_label(start: date, end: date) -> str:
    """Both ends at the same granularity: "April 2021 to December 2021", not "April 2021 to 2021"."""
    if (start.month, start.day) == (1, 1) and (end.month, end.day) == (12, 31):
        return f"{start.year} to {end.year}"
    first = _month_label(start) if start.day == 1 else _day_label(start)
    last = _month_label(end) if end == _bounds(end.year, end.month)[1] else _day_label(end)
    return f"{first} to {last}"


def _start_label(day: date) -> str:
    """The coarsest period that starts on ``day``: 1 January 2022 reads "2022"."""
    if (day.month, day.day) == (1, 1):
        return str(day.year)
    return _month_label(day) if day.day == 1 else _day_label(day)


def _end_label(day: date) -> str:
    if (day.month, day.day) == (12, 31):
        return str(day.year)
    return _month_label(day) if day == _bounds(day.year, day.month)[1] else _day_label(day)
