"""Modes, grouping, date filters, snippets, highlights and duplicates (fake model, fast)."""

import json

import pytest

from indexer.write.chunking import ParagraphChunker
from indexer.errors import QueryError
from indexer.index.directory import IndexDirectory
from indexer.write.pipeline import update_index, load_for_index
from search.searcher import Searcher
from tests.conftest import write
from tests.fakes import FakeEmbedder

WIRE = "Het Kremlin meldt dat de gaskraan dicht blijft tot de winter voorbij is."

ARTICLES = [
    {"id": "jan", "date": "2021-01", "text": "Poetin sprak in januari over gas.\n\nDe prijs steeg snel."},
    {"id": "apr", "date": "2021-04-14", "text": "Biden belde Poetin in april.\n\nZe spraken over Oekraïne en over gas."},
    {"id": "jun-a", "date": "2021-06", "text": f"De top in Genève duurde drie uur.\n\n{WIRE}"},
    {"id": "jun-b", "date": "2021-06", "text": f"Een ander bericht over de top.\n\n{WIRE}"},
    {"id": "dec", "date": "2021-12", "text": "Het videogesprek ging over Oekraïne.\n\nPoetin zweeg over gas."},
    {"id": "nodate", "text": "Een artikel zonder datum over gas en Poetin."},
    {"id": "long", "date": "2020-05", "text": "\n\n".join(
        f"Alinea {i} gaat over gas en de leverantie van gas in het jaar {2000 + i}." for i in range(6))},
]


@pytest.fixture
def searcher(tmp_path):
    path = write(tmp_path / "a.jsonl", "\n".join(json.dumps(a) for a in ARTICLES))
    embedder = FakeEmbedder()
    update_index(IndexDirectory(tmp_path / "idx"), embedder, ParagraphChunker(embedder, 16),
                 load_for_index([path]))
    return Searcher(IndexDirectory(tmp_path / "idx"), embedder)


def test_one_entry_per_article_by_default(searcher):
    hits = searcher.search("gas", k=10).hits
    assert len({h.doc_id for h in hits}) == len(hits)
    ungrouped = searcher.search("gas", k=10, group=False).hits
    assert len({h.doc_id for h in ungrouped}) < len(ungrouped), "the long article has many passages"


def test_per_article_lists_the_next_best_passages(searcher):
    hits = searcher.search("leverantie van gas", k=3, per_article=3).hits
    long = next(h for h in hits if h.doc_id == "long")
    assert len(long.passages) == 2
    assert len({long.chunk_id, *(p.chunk_id for p in long.passages)}) == 3
    assert all(p.chunk_id.startswith("long#") for p in long.passages)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_every_mode_finds_the_keyword_passage(searcher, mode):
    result = searcher.search("videogesprek Oekraïne", k=3, mode=mode)
    assert result.mode == mode and result.hits[0].doc_id == "dec"


def test_unknown_mode_is_refused(searcher):
    with pytest.raises(QueryError, match="mode must be one of hybrid, dense, keyword"):
        searcher.search("gas", mode="magic")


def test_options_filter_keeps_k_results_inside_the_range(searcher):
    result = searcher.search("gas", k=3, since="2021-04", until="2021-12")
    assert {h.doc_id for h in result.hits} <= {"apr", "jun-a", "jun-b", "dec"}
    assert len(result.hits) == 3, "filtering happens in retrieval, not after it"
    assert result.date_filter == {"since": "2021-04-01", "until": "2021-12-31", "month": None,
                                  "source": "options", "phrase": None, "applied": True,
                                  "description": "April 2021 to December 2021 (from --since/--until)"}


def test_a_day_inside_a_month_dated_article(searcher):
    assert {h.doc_id for h in searcher.search("top", k=5, since="2021-06-15", until="2021-06-20").hits} \
        == {"jun-a", "jun-b"}


def test_options_filter_without_matches_gives_no_hits(searcher):
    result = searcher.search("gas", since="2030")
    assert result.hits == [] and result.date_filter["applied"] is True


def test_a_date_in_the_question_becomes_the_filter(searcher):
    result = searcher.search("Wat zei Poetin in april 2021?", k=5)
    assert [h.doc_id for h in result.hits] == ["apr"]
    assert result.date_filter["source"] == "question"
    assert result.date_filter["phrase"] == "in april 2021"


def test_english_question_date(searcher):
    result = searcher.search("What happened in December 2021?", k=5)
    assert {h.doc_id for h in result.hits} == {"dec"}


def test_question_date_without_articles_is_not_applied(searcher):
    result = searcher.search("gas in 1988", k=3)
    assert result.date_filter["applied"] is False and len(result.hits) == 3


def test_options_win_over_the_question(searcher):
    result = searcher.search("Poetin in april 2021", k=5, since="2021-12")
    assert {h.doc_id for h in result.hits} == {"dec"} and result.date_filter["source"] == "options"


def test_question_dates_can_be_switched_off(searcher):
    result = searcher.search("Poetin in april 2021", k=5, dates_from_question=False)
    # Not only April's article; 4 or 5 hits, as the wire copies (jun-a, jun-b) may fold into one.
    assert result.date_filter is None and len(result.hits) >= 4
    assert {h.doc_id for h in result.hits} != {"apr"}


def test_snippet_and_highlights_point_into_the_article(searcher):
    for hit in searcher.search("Oekraïne gas", k=5, per_article=2).hits:
        article = searcher.store.get_document(hit.doc_id).text
        for passage in [hit, *hit.passages]:
            assert article[passage.start:passage.end] == passage.text
            assert article[passage.snippet_start:passage.snippet_end] == passage.snippet
            assert passage.start <= passage.snippet_start < passage.snippet_end <= passage.end
            for s, e in passage.highlights:
                assert passage.start <= s < e <= passage.end
                assert article[s:e].lower() in {"oekraïne", "gas"}


def test_the_snippet_is_the_sentence_with_the_answer(searcher):
    hit = searcher.search("videogesprek", k=1, mode="keyword").hits[0]
    assert hit.snippet == "Het videogesprek ging over Oekraïne."


def test_the_same_wire_text_in_two_articles_is_shown_once(searcher):
    hits = searcher.search("Kremlin gaskraan winter", k=5).hits
    wire = [h for h in hits if h.text == WIRE]
    assert len(wire) == 1
    assert [d.doc_id for d in wire[0].duplicates] == [{"jun-a": "jun-b", "jun-b": "jun-a"}[wire[0].doc_id]]


def test_undated_articles_never_pass_a_filter(searcher):
    assert "nodate" not in {h.doc_id for h in searcher.search("Poetin gas", k=10, since="1900").hits}
    assert "nodate" in {h.doc_id for h in searcher.search("Poetin gas", k=10).hits}


def test_result_json_shape(searcher):
    data = searcher.search("gas", k=2).as_dict()
    assert set(data) == {"query", "mode", "language", "filter", "confident", "results"}
    assert isinstance(data["confident"], bool)
    assert set(data["results"][0]) == {
        "rank", "score", "doc_id", "chunk_id", "date", "title", "text", "start", "end", "snippet",
        "snippet_start", "snippet_end", "highlights", "dense_score", "keyword_score", "passages",
        "duplicates", "citation", "passage_id"}
