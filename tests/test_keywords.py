"""Text analysis, the BM25 index and rank fusion."""

import numpy as np
import pytest

from indexer.index.keywords.bm25 import KeywordIndex
from indexer.index.keywords.analysis import Analyzer, detect_language, fold
from search.fusion import FusionWeights, reciprocal_rank_fusion


def test_fold_removes_accents_and_case():
    assert fold("Genève Oekraïne ÉÉN coördinatie") == "geneve oekraine een coordinatie"


@pytest.mark.parametrize("text, language", [
    ("what did Biden say about cyber", "en"), ("how long did the Geneva meeting last", "en"),
    ("Wat zei Poetin over Navalny?", "nl"), ("Hoe lang duurde het gesprek?", "nl"),
    ("2021", None),
])
def test_detect_language(text, language):
    assert detect_language(text) == language


def test_analyzer_folds_drops_stopwords_and_stems():
    analyzer = Analyzer("nl")
    assert analyzer.terms("De gesprekken in Genève duurden 3 uur") == \
        analyzer.terms("gesprek geneve duurde 3 uur")
    assert "de" not in analyzer.terms("de het een") and analyzer.terms("de het een") == []
    spans = analyzer.term_spans("Poetin sprak in Genève")
    assert [("Poetin sprak in Genève"[s:e]) for _, s, e in spans] == ["Poetin", "sprak", "Genève"]


def test_analyzer_rejects_an_unknown_language():
    with pytest.raises(ValueError):
        Analyzer("fr")


@pytest.fixture
def index():
    return KeywordIndex.build(["Poetin verdedigt de opsluiting van Navalny.",
                               "Biden noemde zestien cruciale systemen.",
                               "De ontmoeting in Genève duurde 3 uur en 21 minuten.",
                               "de het een"], Analyzer("nl"))


def test_bm25_finds_the_passage_with_the_words(index):
    hits = index.search("Wat zei Poetin over Navalny?", 10)
    assert hits.ids.tolist() == [0]
    assert hits.terms == ("poetin", "navalny")
    assert hits.scores[0] > 0


def test_bm25_stems_and_folds_the_question_like_the_passages(index):
    assert index.search("geneve minuut", 10).ids.tolist() == [2]


def test_bm25_respects_the_mask(index):
    assert index.search("Poetin Biden", 10, np.array([0, 1, 1, 1])).ids.tolist() == [1]


def test_bm25_without_known_words(index):
    hits = index.search("xyzzy", 10)
    assert hits.ids.tolist() == [] and hits.terms == ()


def test_bm25_round_trip(index, tmp_path):
    index.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert len(loaded) == 4 and loaded.analyzer.language == "nl"
    assert loaded.search("zestien systemen", 3).ids.tolist() == [1]


def test_rrf_by_hand():
    # a: 1/(60+1) + 0.5/(60+2) = 0.016393 + 0.008065 = 0.024458
    # b: 1/(60+2)              = 0.016129
    # c:            0.5/(60+1) = 0.008197
    fused = reciprocal_rank_fusion([(["a", "b"], 1.0), (["c", "a"], 0.5)], k=60)
    assert [item for item, _ in fused] == ["a", "b", "c"]
    assert [round(score, 6) for _, score in fused] == [0.024458, 0.016129, 0.008197]


def test_rrf_ignores_a_leg_of_weight_zero():
    assert reciprocal_rank_fusion([([1, 2], 1.0), ([3], 0.0)]) == [(1, 1 / 61), (2, 1 / 62)]


def test_keyword_weight_follows_the_languages():
    weights = FusionWeights()
    assert weights.keyword_weight("nl", "nl") == 0.05
    assert weights.keyword_weight(None, "nl") == 0.05
    assert weights.keyword_weight("en", "nl") == 0.0
    assert FusionWeights(keyword_cross_language=0.3).keyword_weight("en", "nl") == 0.3
