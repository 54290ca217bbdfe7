"""Answer quality on the sample articles with the real model (the questions were written before
any tuning; tests/data/sample_questions.jsonl). A hit counts when its passage holds the answer."""

import pytest

from indexer.index.directory import IndexDirectory
from search.searcher import Searcher
from tests.conftest import sample_questions

REQUIRED = {"s01", "s02", "s03"}  # the three questions named in the end-to-end issue

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def ranks(real_index, real_embedder):
    searcher = Searcher(IndexDirectory(real_index), real_embedder)
    questions = sample_questions()
    results = searcher.search_many([q["text"] for q in questions], k=10, group=False)
    out = {}
    for question, result in zip(questions, results):
        evidence = [(e["doc_id"], e["contains"]) for e in question["evidence"]]
        out[question["id"]] = next((h.rank for h in result.hits
                                    if any(h.doc_id == d and c in h.text for d, c in evidence)), None)
    return out


def test_the_required_questions_are_answered_at_rank_1_or_2(ranks):
    assert {q: ranks[q] for q in REQUIRED} == {q: ranks[q] for q in REQUIRED if ranks[q] in (1, 2)}


def test_own_questions_floor(ranks):
    """Hybrid search, passage level (bench/answer_quality.py): 26 of 30 at rank 1 (Dutch 14/14,
    English 12/16), 28 in the top 3; the first issue's dense search had 22 and 25. The floors sit
    one question below, to catch regressions."""
    at1 = sorted(q for q, r in ranks.items() if r == 1)
    top3 = sorted(q for q, r in ranks.items() if r is not None and r <= 3)
    misses = {q: r for q, r in ranks.items() if r != 1}
    assert len(at1) >= 25, f"rank 1: {len(at1)}/30; not at rank 1: {misses}"
    assert len(top3) >= 27, f"top 3: {len(top3)}/30; not at rank 1: {misses}"


def test_both_languages_are_answered(ranks):
    questions = {q["id"]: q["lang"] for q in sample_questions()}
    for lang, floor in (("nl", 13), ("en", 11)):
        ids = [q for q, lang_ in questions.items() if lang_ == lang]
        assert sum(1 for q in ids if ranks[q] == 1) >= floor, lang


@pytest.fixture(scope="module")
def searcher(real_index, real_embedder):
    return Searcher(IndexDirectory(real_index), real_embedder)


@pytest.mark.parametrize("question, doc_id", [
    ("Wat zei Biden in april 2021 over Oekraïne?", "002_8bd9632aeaf2a08c"),
    ("What did Biden and Putin discuss in December 2021?", "003_7341066c0f110c02"),
])
def test_a_date_in_the_question_narrows_the_articles(searcher, question, doc_id):
    result = searcher.search(question, k=5)
    assert result.date_filter["applied"] and result.date_filter["source"] == "question"
    assert result.hits[0].doc_id == doc_id or result.hits[1].doc_id == doc_id
    months = {"002_8bd9632aeaf2a08c": "2021-04", "003_7341066c0f110c02": "2021-12"}
    assert {h.date for h in result.hits} == {months[doc_id]}


def test_snippet_holds_the_answer(searcher):
    hit = searcher.search("how long did the Geneva meeting last", k=1).hits[0]
    assert "3 uur en 21 minuten" in hit.snippet
    article = searcher.store.get_document(hit.doc_id).text
    assert article[hit.snippet_start:hit.snippet_end] == hit.snippet


def test_dutch_keywords_are_highlighted(searcher):
    hit = searcher.search("Wat zei Poetin over Navalny?", k=1).hits[0]
    article = searcher.store.get_document(hit.doc_id).text
    assert {article[s:e] for s, e in hit.highlights} >= {"Poetin", "Navalny"}


@pytest.mark.parametrize("question, confident", [
    ("Wat zei Poetin over Navalny?", True), ("what did Biden say about cyber", True),
    ("Wie won de Tour de France in 2021?", False), ("What is the capital of Canada?", False),
    ("How do I bake sourdough bread?", False),
])
def test_confidence(searcher, question, confident):
    assert searcher.search(question, k=1).confident is confident


def test_an_ivf_index_answers_as_the_exact_one(real_index, real_embedder, ranks, tmp_path):
    """The approximate index on real vectors: forced on the sample (auto would stay exact), built
    from the exact index's vectors without embedding anything, same ranks for all 30 questions."""
    import shutil

    from indexer.write.chunking import ParagraphChunker
    from indexer.write.pipeline import update_index

    root = tmp_path / "ivf"
    shutil.copytree(real_index, root)
    report = update_index(IndexDirectory(root), real_embedder, ParagraphChunker(real_embedder),
                          index_type="ivf")
    assert report.embedded == 0 and report.vector_indexes["passages"]["kind"] == "faiss-ivf-sqfp16-ip"
    questions = sample_questions()
    results = Searcher(IndexDirectory(root), real_embedder).search_many(
        [q["text"] for q in questions], k=10, group=False)
    for question, result in zip(questions, results):
        evidence = [(e["doc_id"], e["contains"]) for e in question["evidence"]]
        rank = next((h.rank for h in result.hits
                     if any(h.doc_id == d and c in h.text for d, c in evidence)), None)
        assert rank == ranks[question["id"]], question["text"]
