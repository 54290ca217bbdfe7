from datetime import date

import pytest

from indexer.errors import QueryError
from search.dates import (DateFilter, date_bound, effective_filter, filter_from_options,
                          filter_from_question)


def d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# question, since, until, month
@pytest.mark.parametrize("question, since, until, month", [
    # a year
    ("Wat gebeurde er in 2021?", "2021-01-01", "2021-12-31", None),
    ("What happened in 2021?", "2021-01-01", "2021-12-31", None),
    ("Hoeveel doden vielen er in 2014 in Oost-Oekraïne", "2014-01-01", "2014-12-31", None),
    ("in 1900 en later", "1900-01-01", "1900-12-31", None),
    # month and year, in full and abbreviated
    ("Wat zei Biden in juni 2021?", "2021-06-01", "2021-06-30", None),
    ("What did Biden say in June 2021?", "2021-06-01", "2021-06-30", None),
    ("WAT GEBEURDE ER IN DECEMBER 2021", "2021-12-01", "2021-12-31", None),
    ("Wat gebeurde er in dec. 2021?", "2021-12-01", "2021-12-31", None),
    ("What happened in sept 2021?", "2021-09-01", "2021-09-30", None),
    ("Wat gebeurde er in mrt. 2021", "2021-03-01", "2021-03-31", None),
    ("What happened in Oct 2021", "2021-10-01", "2021-10-31", None),
    ("Wat gebeurde er in februari 2020", "2020-02-01", "2020-02-29", None),
    ("De top van mei 2021 in Genève", "2021-05-01", "2021-05-31", None),  # no preposition, year follows
    # a day
    ("Wat zei Poetin op 16 juni 2021?", "2021-06-16", "2021-06-16", None),
    ("What did Putin say on 16 June 2021?", "2021-06-16", "2021-06-16", None),
    ("What did Putin say on June 16, 2021?", "2021-06-16", "2021-06-16", None),
    ("What did Putin say on June 16 2021?", "2021-06-16", "2021-06-16", None),
    ("What did Putin say on 16th June 2021?", "2021-06-16", "2021-06-16", None),
    ("Wat zei Poetin op 2021-06-16?", "2021-06-16", "2021-06-16", None),
    ("Wat gebeurde er op 29 februari 2020?", "2020-02-29", "2020-02-29", None),
    ("De top van 16 juni 2021", "2021-06-16", "2021-06-16", None),
    # a month in any year
    ("Wat gebeurde er in april?", None, None, 4),
    ("Wat gebeurde er in april", None, None, 4),
    ("Where was Putin during the video call in December?", None, None, 12),
    ("Wat gebeurde er tijdens mei?", None, None, 5),
    ("What happened in May?", None, None, 5),
    ("What happened in June 16 days after the summit?", None, None, 6),  # 16 is a count here
    # since, before, after
    ("Wat is er sinds maart 2021 gebeurd?", "2021-03-01", None, None),
    ("What happened since March 2021?", "2021-03-01", None, None),
    ("Wat gebeurde er voor april 2021?", None, "2021-03-31", None),
    ("Wat gebeurde er vóór april 2021?", None, "2021-03-31", None),
    ("Wat gebeurde er VÓÓR 2021?", None, "2020-12-31", None),
    ("What happened before April 2021?", None, "2021-03-31", None),
    ("Wat gebeurde er na juni 2021?", "2021-07-01", None, None),
    ("Wat gebeurde er na 2020?", "2021-01-01", None, None),
    ("What happened after 16 June 2021?", "2021-06-17", None, None),
    ("What happened after December 31, 2020?", "2021-01-01", None, None),
    # between
    ("Wat gebeurde er tussen april en juni 2021?", "2021-04-01", "2021-06-30", None),
    ("What happened between April and June 2021?", "2021-04-01", "2021-06-30", None),
    ("Wat gebeurde er tussen 2019 en 2021?", "2019-01-01", "2021-12-31", None),
    ("Wat gebeurde er tussen 2021 en 2019?", "2019-01-01", "2021-12-31", None),  # order mended
    ("What happened between November and February 2022?", "2021-11-01", "2022-02-28", None),
    ("Wat gebeurde er tussen november 2021 en februari?", "2021-11-01", "2022-02-28", None),
    ("What happened between June 1 and June 5, 2021?", "2021-06-01", "2021-06-05", None),
    ("Wat gebeurde er tussen 1 april en 15 juni 2021?", "2021-04-01", "2021-06-15", None),
    ("Wat gebeurde er tussen april 2020 en juni 2021?", "2020-04-01", "2021-06-30", None),
    ("Wat gebeurde er tussen 16 juni en 2022?", "2022-06-16", "2022-12-31", None),
    ("Wat zei Biden in juni van 2021?", "2021-06-01", "2021-06-30", None),
    ("What did Biden say in June of 2021?", "2021-06-01", "2021-06-30", None),
    # the first usable expression wins; an unusable one is skipped
    ("Wat zei hij in juni 2021 en in december 2021?", "2021-06-01", "2021-06-30", None),
    ("Wat gebeurde er op 11 september in 2021?", "2021-01-01", "2021-12-31", None),
    ("Wat deed Rutte na de top in juni?", None, None, 6),
])
def test_dates_in_questions(question, since, until, month):
    found = filter_from_question(question)
    assert found is not None
    assert (found.since, found.until, found.month) == (d(since), d(until), month)
    assert found.source == "question"


@pytest.mark.parametrize("question", [
    "Hoeveel mensen kwamen om? 13.000 doden",
    "How many people died in the war in eastern Ukraine?",
    "De ontmoeting duurde 3 uur en 21 minuten",
    "Na 3 uur was het voorbij",
    "Wat gebeurt er op 11 september?",  # day and month without a year: ignored
    "When does Biden want to withdraw the troops by 11 September?",
    "Biden may visit Moscow",
    "Wat zei Wang Mei?",
    "Wat deed Rutte voor Jan?",  # an abbreviation counts only with a year
    "Wat gebeurde er in dec.",
    "Wat is er sinds april gebeurd?",  # since/before/after need a year
    "What happened before May?",
    "Wat gebeurde er tussen april en juni?",  # a range needs a year somewhere
    "Wat gebeurde er tussen Biden en Poetin?",
    "Wat gebeurde er vorig jaar?",
    "What happened last year?",
    "Wat gebeurde er gisteren?",
    "Hoe ging het op Euro 2020?",  # a bare year needs a preposition
    "Wat gebeurde er in 1850?",
    "Wat gebeurde er in 2150?",
    "Er waren in 12021 gevallen",
    "Wat gebeurde er in 2019-2021?",  # year ranges are not read
    "Wat gebeurde er in juni 2021-2022?",  # ... and do not fall back to June of any year
    "Wat gebeurde er op 16 juni 2021/22?",
    "Wat gebeurde er op 31 juni 2021?",  # no such day
    "Wat gebeurde er op 29 februari 2021?",
    "Wat gebeurde er op 2021-13-01?",
    "What may happen after the march?",
    "",
])
def test_no_date_in_questions(question):
    assert filter_from_question(question) is None


@pytest.mark.parametrize("question, phrase", [
    ("Wat zei Biden In Juni 2021?", "In Juni 2021"),
    ("Wat gebeurde er in dec. 2021?", "in dec. 2021"),
    ("What did Putin say on June 16, 2021?", "on June 16, 2021"),
    ("Wat gebeurde er tussen april en juni 2021?", "tussen april en juni 2021"),
    ("Wat gebeurde er in april?", "in april"),
    ("De top van 16 juni 2021", "16 juni 2021"),
    ("Wat gebeurde er op 11 september in 2021?", "in 2021"),
    ("Wat gebeurde er vo\u0301o\u0301r 2021?", "vóór 2021"),  # decomposed accents
])
def test_phrase_is_the_words_of_the_question(question, phrase):
    assert filter_from_question(question).phrase == phrase


# filter, article date, matches
@pytest.mark.parametrize("date_filter, article_date, expected", [
    (DateFilter(since=d("2021-06-15")), "2021-06", True),  # June overlaps "from 15 June"
    (DateFilter(since=d("2021-06-15")), "2021", True),
    (DateFilter(since=d("2021-06-15")), "2021-06-15", True),
    (DateFilter(since=d("2021-06-15")), "2021-06-14", False),
    (DateFilter(since=d("2021-06-15")), "2021-05", False),
    (DateFilter(since=d("2021-06-15")), "2020", False),
    (DateFilter(since=d("2021-06-15")), "2022-01-01", True),
    (DateFilter(until=d("2021-06-15")), "2021-06", True),
    (DateFilter(until=d("2021-06-15")), "2021", True),
    (DateFilter(until=d("2021-06-15")), "2021-06-16", False),
    (DateFilter(until=d("2021-06-15")), "2021-07", False),
    (DateFilter(until=d("2021-06-15")), "2019", True),
    (DateFilter(d("2021-06-01"), d("2021-06-30")), "2021-06-30", True),
    (DateFilter(d("2021-06-01"), d("2021-06-30")), "2021-07-01", False),
    (DateFilter(d("2021-06-01"), d("2021-06-30")), "2021-05-31", False),
    (DateFilter(d("2021-06-01"), d("2021-06-30")), "2021", True),
    (DateFilter(d("2021-06-01"), d("2021-06-30")), "2020-12", False),
    (DateFilter(d("2020-02-29"), d("2020-02-29")), "2020-02", True),
    (DateFilter(month=4), "2021-04", True),
    (DateFilter(month=4), "2019-04-30", True),
    (DateFilter(month=4), "2021-05", False),
    (DateFilter(month=4), "2021-03-31", False),
    (DateFilter(month=4), "2021", True),  # a year-only article may be from April
    (DateFilter(month=12, since=d("2021-01-01")), "2020-12", False),
    (DateFilter(month=12, since=d("2021-01-01")), "2021-12-05", True),
    (DateFilter(since=d("2021-06-15")), None, False),  # no date never matches
    (DateFilter(month=4), None, False),
    (DateFilter(month=4), "", False),
    (DateFilter(since=d("2021-06-15")), "not a date", False),
])
def test_matches_is_overlap_of_periods(date_filter, article_date, expected):
    assert date_filter.matches(article_date) is expected


def test_question_filters_match_articles():
    june = filter_from_question("Wat zei Biden in juni 2021?")
    assert [june.matches(x) for x in ("2021-06-16", "2021-06", "2021", "2021-12", None)] == \
        [True, True, True, False, False]
    december = filter_from_question("Where was Putin during the video call in December?")
    assert [december.matches(x) for x in ("2021-12", "2020-12-07", "2021-06")] == [True, True, False]


@pytest.mark.parametrize("value, end, expected", [
    ("2021", False, "2021-01-01"),
    ("2021", True, "2021-12-31"),
    ("2021-06", False, "2021-06-01"),
    ("2021-06", True, "2021-06-30"),
    ("2020-02", True, "2020-02-29"),  # leap year
    ("2021-02", True, "2021-02-28"),
    ("2000-02", True, "2000-02-29"),  # divisible by 400: leap
    ("1900-02", True, "1900-02-28"),  # divisible by 100: not
    ("2021-06-16", False, "2021-06-16"),
    ("2021-06-16", True, "2021-06-16"),
    (" 2021-06 ", True, "2021-06-30"),
])
def test_date_bound(value, end, expected):
    assert date_bound(value, end=end) == d(expected)


@pytest.mark.parametrize("value", [
    "2021-13", "2021-02-30", "2021-02-29", "2021/06", "juni 2021", "16-06-2021", "2021-6", "21",
    "", "2021-06-16T10:00", 2021,
])
def test_date_bound_rejects_bad_values(value):
    with pytest.raises(QueryError) as caught:
        date_bound(value, end=False)
    message = str(caught.value)
    assert repr(value) in message and "YYYY, YYYY-MM or YYYY-MM-DD" in message


def test_options():
    assert filter_from_options(None, None) is None
    assert filter_from_options("2021-06", "2021-06") == DateFilter(d("2021-06-01"), d("2021-06-30"))
    assert filter_from_options("2021-06-15", None) == DateFilter(since=d("2021-06-15"))
    assert filter_from_options(None, "2020-02") == DateFilter(until=d("2020-02-29"))
    assert filter_from_options("2021-06-15", "2021-06").matches("2021-06") is True


def test_options_since_after_until():
    with pytest.raises(QueryError) as caught:
        filter_from_options("2021-07", "2021-06")
    assert str(caught.value) == "--since 2021-07 is after --until 2021-06, so no article can match"
    assert caught.value.hint


def test_options_bad_value_is_named():
    with pytest.raises(QueryError, match="'2021-02-30' is not a real calendar date"):
        filter_from_options("2021-01", "2021-02-30")


def test_options_win_over_the_question():
    options = filter_from_options("2020", None)
    assert effective_filter(options, "Wat zei Biden in juni 2021?") is options
    assert effective_filter(None, "Wat zei Biden in juni 2021?").phrase == "in juni 2021"
    assert effective_filter(None, "Wat zei Biden?") is None


@pytest.mark.parametrize("question, description", [
    ("Wat zei Biden in juni 2021?", "June 2021 (from the question: 'in juni 2021')"),
    ("What happened in 2021?", "2021 (from the question: 'in 2021')"),
    ("Wat zei Poetin op 16 juni 2021?", "16 June 2021 (from the question: 'op 16 juni 2021')"),
    ("Wat gebeurde er in april?", "April of any year (from the question: 'in april')"),
    ("Wat is er sinds maart 2021 gebeurd?",
     "from March 2021 on (from the question: 'sinds maart 2021')"),
    ("What happened after 16 June 2021?",
     "from 17 June 2021 on (from the question: 'after 16 June 2021')"),
    ("Wat gebeurde er voor april 2021?",
     "up to and including March 2021 (from the question: 'voor april 2021')"),
    ("Wat gebeurde er tussen april en juni 2021?",
     "April 2021 to June 2021 (from the question: 'tussen april en juni 2021')"),
    ("Wat gebeurde er tussen 2019 en 2021?", "2019 to 2021 (from the question: 'tussen 2019 en 2021')"),
])
def test_describe_question_filters(question, description):
    assert filter_from_question(question).describe() == description


def test_describe_option_filters():
    assert filter_from_options("2021-06-15", None).describe() == \
        "from 15 June 2021 on (from --since/--until)"
    assert filter_from_options(None, "2021-06-15").describe() == \
        "up to and including 15 June 2021 (from --since/--until)"
    assert filter_from_options("2021-06-15", "2021-07-02").describe() == \
        "15 June 2021 to 2 July 2021 (from --since/--until)"
    assert filter_from_options("2020-02", "2020-02").describe() == "February 2020 (from --since/--until)"


def test_as_dict():
    assert filter_from_question("Wat zei Biden in juni 2021?").as_dict() == {
        "since": "2021-06-01", "until": "2021-06-30", "month": None, "source": "question",
        "phrase": "in juni 2021", "description": "June 2021 (from the question: 'in juni 2021')"}
    assert filter_from_question("What happened in April?").as_dict() == {
        "since": None, "until": None, "month": 4, "source": "question", "phrase": "in April",
        "description": "April of any year (from the question: 'in April')"}
    assert filter_from_options(None, "2021").as_dict() == {
        "since": None, "until": "2021-12-31", "month": None, "source": "options", "phrase": None,
        "description": "up to and including 2021 (from --since/--until)"}


@pytest.mark.parametrize("kwargs", [
    {"month": 13}, {"month": 0}, {"source": "web"},
    {"since": date(2021, 7, 1), "until": date(2021, 6, 1)},
])
def test_impossible_filters_are_programming_errors(kwargs):
    with pytest.raises(ValueError):
        DateFilter(**kwargs)


def test_a_searcher_reads_the_chunk_dates_once_and_filters_as_before(fake_searcher, monkeypatch):
    """Reading every chunk's date per filtered search grew with the index (150 ms at 100k)."""
    from indexer.index.store import ChunkStore

    reads = []
    original = ChunkStore._read_chunk_dates
    monkeypatch.setattr(ChunkStore, "_read_chunk_dates", lambda self: reads.append(1) or original(self))
    june = DateFilter(since=date(2021, 6, 1), until=date(2021, 6, 30))
    (segment,) = fake_searcher.store.segments
    slow = [cid for cid, d in segment.store._conn.execute(
        "SELECT c.id, d.date FROM chunks c JOIN documents d USING (doc_id) ORDER BY c.id") if june.matches(d)]
    for _ in range(3):
        found = fake_searcher.store.chunk_ids_for_dates(fake_searcher._date_test(june))
        assert found.tolist() == slow and 0 < len(slow)
    assert len(reads) == 1
    assert fake_searcher.search("Poetin", since="2021-06", until="2021-06").hits
