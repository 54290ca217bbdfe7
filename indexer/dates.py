"""Article dates: the one definition of what a stored date looks like.

An article's date is YYYY, YYYY-MM or YYYY-MM-DD; loading checks it and the read path turns it
into a period (search.dates), both with this module's pattern.
"""

from __future__ import annotations

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
