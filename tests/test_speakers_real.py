"""The speaker boost with the real model on the sample articles: a question that names a speaker
ranks the passages where he speaks up, never down, and the rest keep their order."""

import json
from dataclasses import replace

import pytest

from indexer.index.directory import IndexDirectory
from indexer.write.chunking import ParagraphChunker
from indexer.write.pipeline import load_for_index, update_index
from search.fusion import FusionWeights
from search.options import SearchOptions
from search.searcher import Searcher
from search.speakers import asked_speakers
from tests.conftest import ROOT, SAMPLE_DIR, sample_questions

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def searcher(real_index, real_embedder):
    searcher = Searcher(IndexDirectory(real_index), real_embedder)
    yield searcher
    searcher.close()


def ranked_passages(searcher, question, weight):
    options = SearchOptions(k=20, group=False, weights=FusionWeights(speaker=weight))
    return searcher.search(question, options).hits


ASKING = [q["text"] for q in sample_questions() if asked_speakers(q["text"])]


@pytest.mark.parametrize("question", ASKING)
def test_passages_where_the_asked_speaker_speaks_move_up_and_no_other_passage_does(searcher, question):
    without = ranked_passages(searcher, question, 0.0)
    with_boost = ranked_passages(searcher, question, FusionWeights().speaker)
    rank_before = {h.chunk_id: i for i, h in enumerate(without)}
    speaking = {h.chunk_id for h in with_boost if any(q.asked for q in h.quotes)}
    for i, hit in enumerate(with_boost):
        if hit.chunk_id in speaking and hit.chunk_id in rank_before:
            assert i <= rank_before[hit.chunk_id]
    others = [h.chunk_id for h in with_boost if h.chunk_id not in speaking]
    assert others == [h.chunk_id for h in without if h.chunk_id in set(others)]


def test_what_did_biden_say_about_cyber_gives_a_passage_where_biden_speaks(searcher):
    hit = searcher.search("what did Biden say about cyber", k=3).hits[0]
    assert "zestien" in hit.text
    assert any(q.asked and q.speaker == "Joe Biden" for q in hit.quotes)
    assert not [q for q in searcher.search("how long did the Geneva meeting last", k=3).hits[0].quotes
                if q.asked]


def test_what_poetin_said_about_navalny_ranks_only_passages_about_navalny_first(searcher):
    """The product's example. Poetin speaks in most of the sample's passages; two name Navalny
    (his own words in 001, Biden's in 000), and those two come first: a passage where Poetin
    speaks of something else is not lifted above them. The third can be about Navalny only where
    an index has a third such passage (the sample has not)."""
    question = "Wat zei Poetin over Navalny?"
    hits = searcher.search(question, SearchOptions(k=10, group=False)).hits
    assert [i for i, h in enumerate(hits) if "Navalny" in h.text] == [0, 1]
    assert "opsluiting" in hits[0].text and any(q.asked for q in hits[0].quotes)
    articles = searcher.search(question, k=3).hits
    assert [(h.doc_id, "Navalny" in h.text) for h in articles[:2]] == [
        ("001_2bed4d3526be678e", True), ("000_80b0f47be43478c7", True)]


@pytest.fixture(scope="module")
def with_a_third_article_on_navalny(real_embedder, tmp_path_factory):
    """The sample articles and the eval corpus's article on Navalny's death (nl-002, written
    for the evaluation), where Navalnaja speaks of him."""
    folder = tmp_path_factory.mktemp("navalny")
    extra = folder / "nl-002.jsonl"
    with (ROOT / "bench" / "data" / "eval" / "corpus.jsonl").open(encoding="utf-8") as corpus:
        extra.write_text(next(line for line in corpus if json.loads(line)["id"] == "nl-002"))
    update_index(IndexDirectory(folder / "index"), real_embedder, ParagraphChunker(real_embedder),
                 load_for_index([SAMPLE_DIR, extra]))
    searcher = Searcher(IndexDirectory(folder / "index"), real_embedder)
    yield searcher
    searcher.close()


def test_every_top_3_passage_for_poetin_on_navalny_is_about_navalny(with_a_third_article_on_navalny):
    """Without the subject (0043), Poetin calling the meeting "constructief" came second."""
    hits = with_a_third_article_on_navalny.search(
        "Wat zei Poetin over Navalny?", SearchOptions(k=3, group=False)).hits
    assert all("Navalny" in h.text for h in hits), [h.text[:60] for h in hits]
    assert hits[0].doc_id == "001_2bed4d3526be678e" and any(q.asked for q in hits[0].quotes)
    assert {h.doc_id for h in hits[1:]} == {"000_80b0f47be43478c7", "nl-002"}  # near-tied


def test_the_boost_is_in_hybrid_only(searcher):
    question = "Wat zei Poetin over Navalny?"
    for mode in ("dense", "keyword"):
        base = SearchOptions(k=10, mode=mode, group=False)
        off = replace(base, weights=FusionWeights(speaker=0.0))
        assert [h.chunk_id for h in searcher.search(question, base).hits] == \
            [h.chunk_id for h in searcher.search(question, off).hits]
