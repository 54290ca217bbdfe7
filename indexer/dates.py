"""Article dates: the one definition of what a stored date looks like.

An article's date is YYYY, YYYY-MM or YYYY-MM-DD; loading checks it and the read path turns it
into a period (search.dates), both with this module's pattern.
"""

from __future__ import annotations

import calendar
import re
from datetime import date as _date

ACCEPTED_FORMS = "YYYY, YYYY-MM or YYYY-MM-DD"
DATE = re.compile(r"\A([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?\Z")  # ASCII digits only


def parse_date(value: str) -> str:
    """Validate YYYY, YYYY-MM or YYYY-MM-DD and return it unchanged; raise ValueError otherwise."""
    match = DATE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a date (use {ACCEPTED_FORMS})")
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        _date(year, 1 if month is None else month, 1 if day is None else day)
    except ValueError:
        raise ValueError(f"{value!r} is not a real calendar date") from None
    return value.strip()


def date_span(value: str | None) -> tuple[int, int] | None:
    """The first and last day a stored date can mean, as YYYYMMDD numbers ("2024-03" is
    20240301..20240331), or None for no date: how a vector store outside SQLite filters dates
    with the searcher's overlap rule (search.dates.article_period)."""
    if not value:
        return None
    try:
        parts = [int(p) for p in parse_date(value).split("-")]
    except ValueError:  # stored dates are validated; a bad one counts as no date
        return None
    year, month, day = parts + [None] * (3 - len(parts))
    if day is not None:
        first = last = year * 10_000 + month * 100 + day
    elif month is not None:
        first = year * 10_000 + month * 100 + 1
        last = year * 10_000 + month * 100 + calendar.monthrange(year, month)[1]
    else:
        first, last = year * 10_000 + 101, year * 10_000 + 1231
    return first, last
