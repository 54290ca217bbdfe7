"""Score fusion (docs/decisions/0056): each leg's scores scaled by its own candidate list, then a
weighted mean, so a leg's margin counts where rank fusion sees only ranks."""

import numpy as np
import pytest

from indexer.errors import QueryError
from indexer.index.keywords.bm25 import KeywordHits
from search.evidence import KeywordEvidence
from search.fusion import FusionWeights, reciprocal_rank_fusion, scaled, score_fusion


def test_min_max_and_z_score_scale_by_the_reference_list():
    reference = np.array([0.9, 0.7, 0.5])
    assert scaled(np.array([0.9, 0.7, 0.5, 0.3]), reference, "minmax") == pytest.approx(
        [1.0, 0.5, 0.0, -0.5])  # linear: a score outside the list keeps its place
    z = scaled(reference, reference, "zscore")
    assert z == pytest.approx([1.224745, 0.0, -1.224745], abs=1e-6)
    assert scaled(np.array([3.0]), np.array([3.0]), "minmax") == pytest.approx([0.0])
    assert scaled(np.array([3.0]), np.array([]), "zscore") == pytest.approx([0.0])


def _legs(dense: dict, keyword: dict, weight: float, method: str = "minmax"):
    d_ids, d = list(dense), np.array(list(dense.values()))
    k_ids, k = list(keyword), np.array(list(keyword.values()))
    return [(dict(zip(d_ids, scaled(d, d, method).tolist())), 1.0, float(scaled(d, d, method).min())),
            (dict(zip(k_ids, scaled(k, k, method).tolist())), weight,
             float(scaled(np.zeros(1), k, method)[0]))]


def test_a_confident_dense_leg_keeps_its_lead_where_rank_fusion_gives_it_up():
    # dense is sure of A (0.90 against 0.70); the keyword leg prefers B, which lacks A's meaning
    dense = {"A": 0.90, "B": 0.70, "C": 0.69, "D": 0.68}
    keyword = {"B": 10.0, "C": 5.0}
    rrf = reciprocal_rank_fusion([(list(dense), 1.0), (list(keyword), 0.05)])
    assert rrf[0][0] == "B"  # one keyword hit at weight 0.05 outweighs a dense rank
    fused = score_fusion(_legs(dense, keyword, 0.05))
    assert [i for i, _ in fused] == ["A", "B", "C", "D"]
    assert fused[0][1] == pytest.approx((1.0 + 0.05 * -1.0) / 1.05)


def test_a_near_tie_of_the_dense_leg_is_broken_by_a_confident_keyword_leg():
    # dense cannot tell A to E apart (0.0005 apart in a range of 0.1); BM25 is sure of E
    dense = {"A": 0.8000, "B": 0.7995, "C": 0.7990, "D": 0.7985, "E": 0.7980, "F": 0.7000}
    keyword = {"E": 20.0, "A": 1.0}
    rrf = reciprocal_rank_fusion([(list(dense), 1.0), (list(keyword), 0.05)])
    assert rrf[0][0] == "A"  # four dense ranks are more than a keyword rank 1 at 0.05 can undo
    fused = dict(score_fusion(_legs(dense, keyword, 0.05)))
    assert max(fused, key=fused.get) == "E"
    assert fused["E"] == pytest.approx((0.98 + 0.05 * 1.0) / 1.05)


def test_a_leg_of_weight_zero_or_without_hits_leaves_the_other_leg_s_order():
    dense = {"A": 0.9, "B": 0.8, "C": 0.7}
    legs = _legs(dense, {"C": 3.0, "B": 1.0}, 0.0)
    assert [i for i, _ in score_fusion(legs)] == ["A", "B", "C"]
    assert [i for i, _ in score_fusion([legs[0], ({}, 1.0, 0.0)])] == ["A", "B", "C"]
    assert score_fusion([]) == []


def test_the_keyword_leg_mixes_passage_and_article_bm25_each_on_its_own_scale():
    evidence = KeywordEvidence(
        KeywordHits(np.array([1, 2], np.int64), np.array([4.0, 2.0], np.float32), ()),
        [np.array([1, 3], np.int64), np.array([2], np.int64)], np.array([6.0, 3.0], np.float32))
    scores, missing = evidence.scaled_scores("minmax", 1.0)
    # passage: 1 -> 1, 2 -> 0, none -> -1; article: [1, 3] -> 1, [2] -> 0, none -> -1
    assert scores == pytest.approx({1: 1.0, 2: 0.0, 3: 0.0})
    assert missing == pytest.approx(-1.0)
    alone, none = evidence.scaled_scores("minmax", 0.0)
    assert alone == pytest.approx({1: 1.0, 2: 0.0}) and none == pytest.approx(-1.0)


def test_the_score_methods_have_their_own_same_language_weight():
    rrf = FusionWeights(method="rrf")
    score = FusionWeights(method="minmax", score_keyword_same_language=0.3)
    dutch = {"nl": 0.8, "en": 0.2}
    assert rrf.keyword_weight(dutch, "nl") == pytest.approx(0.05 * 0.8)
    assert score.keyword_weight(dutch, "nl") == pytest.approx(0.3 * 0.8)
    assert score.keyword_weight(dutch, "nl", covered=True) == pytest.approx(1.0 * 0.8)
    assert score.keyword_weight("en", "nl") == 0.0


def test_an_unknown_fusion_method_is_a_clear_error():
    with pytest.raises(QueryError, match="fusion method must be one of rrf, minmax, zscore"):
        FusionWeights(method="borda")


@pytest.mark.parametrize("method", ["minmax", "zscore"])
def test_an_english_question_gets_the_dense_order_and_a_dutch_one_a_mix(fake_searcher, method):
    weights = FusionWeights(method=method, score_keyword_same_language=0.2)

    def ids(question, mode, **extra):
        hits = fake_searcher.search(question, mode=mode, k=5, group=False, **extra).hits
        return [h.passage_id for h in hits]

    english = "What did the government decide about the new law?"  # keyword weight 0 (0029)
    assert ids(english, "hybrid", weights=weights) == ids(english, "dense")
    dutch = "Rembrandt schilderde de Nachtwacht in Amsterdam"
    hybrid = fake_searcher.search(dutch, mode="hybrid", k=5, group=False, weights=weights).hits
    scores = [h.score for h in hybrid]
    assert hybrid and scores == sorted(scores, reverse=True)
    assert hybrid[0].passage_id in ids(dutch, "dense")[:1] + ids(dutch, "keyword")[:1]
