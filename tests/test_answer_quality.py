"""Answer quality on the sample articles with the real model (the questions were written before
any tuning; tests/data/sample_questions.jsonl). A hit counts when its passage holds the answer."""

import pytest

from indexer.index_dir import IndexDirectory
from search.searcher import DenseSearcher
from tests.conftest import sample_questions

REQUIRED = {"s01", "s02", "s03"}  # the three questions named in the end-to-end issue

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def ranks(real_index, real_embedder):
    searcher = DenseSearcher(IndexDirectory(real_index), real_embedder)
    questions = sample_questions()
    results = searcher.search_many([q["text"] for q in questions], k=10)
    out = {}
    for question, result in zip(questions, results):
        evidence = [(e["doc_id"], e["contains"]) for e in question["evidence"]]
        out[question["id"]] = next((h.rank for h in result.hits
                                    if any(h.doc_id == d and c in h.text for d, c in evidence)), None)
    return out


def test_the_required_questions_are_answered_at_rank_1_or_2(ranks):
    assert {q: ranks[q] for q in REQUIRED} == {q: ranks[q] for q in REQUIRED if ranks[q] in (1, 2)}


def test_own_questions_floor(ranks):
    """Measured with dense search at 128 tokens: 22 of 30 at rank 1, 25 in the top 3.
    These floors guard against regressions; the answer-quality issue raises them."""
    at1 = sorted(q for q, r in ranks.items() if r == 1)
    top3 = sorted(q for q, r in ranks.items() if r is not None and r <= 3)
    misses = {q: r for q, r in ranks.items() if r != 1}
    assert len(at1) >= 21, f"rank 1: {len(at1)}/30; not at rank 1: {misses}"
    assert len(top3) >= 24, f"top 3: {len(top3)}/30; not at rank 1: {misses}"


def test_both_languages_are_answered(ranks):
    questions = {q["id"]: q["lang"] for q in sample_questions()}
    for lang in ("nl", "en"):
        ids = [q for q, lang_ in questions.items() if lang_ == lang]
        assert len(ids) >= 14
        assert sum(1 for q in ids if ranks[q] == 1) >= len(ids) * 0.6, lang
