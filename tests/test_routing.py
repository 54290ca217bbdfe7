"""Routing between the legs: the question's language from a real identifier (py3langid, Dutch and
English only), and a keyword weight that follows its confidence (docs/decisions/0029)."""

import subprocess
import sys

import pytest

from indexer.index.keywords.analysis import detect_language, language_probabilities
from search.fusion import FusionWeights

SHORT_ENGLISH = ["Today is Wednesday.", "Life isn't fair.", "I want to go out.",
                 "Let's go somewhere warm.", "Protests also took place in Paris",
                 "U.S President George W Bush arrived in Singapore"]
DUTCH_HEADLINES = ["Kabinet valt over stikstof", "Boeren protesteren in Den Haag",
                   "Zware storm treft de kust", "Ajax wint de klassieker", "Nieuwe brug over de IJssel",
                   "Gesprek tussen Biden en Poetin duurde ruim drie uur"]


@pytest.mark.parametrize("text", SHORT_ENGLISH)
def test_short_english_is_english(text):
    assert detect_language(text) == "en"
    assert language_probabilities(text)["en"] > 0.5


@pytest.mark.parametrize("text", DUTCH_HEADLINES)
def test_dutch_headlines_are_dutch(text):
    assert detect_language(text) == "nl"
    assert language_probabilities(text)["nl"] > 0.5


def test_probabilities_are_dutch_and_english_only_and_sum_to_one():
    probabilities = language_probabilities("Wat zei Poetin over Navalny?")
    assert set(probabilities) == {"nl", "en"}
    assert sum(probabilities.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("text", ["2021", "!!!", "12-06-2021"])
def test_no_letters_no_language(text):
    assert language_probabilities(text) == {}
    assert detect_language(text) is None


def test_the_identifier_loads_lazily_and_quietly():
    code = ("import sys, indexer.index.keywords.analysis as a, search.searcher; "
            "assert 'py3langid' not in sys.modules, 'py3langid loaded at import'; "
            "print(a.detect_language('Let\\'s go somewhere warm.'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": ".", "HF_HUB_OFFLINE": "1", "PATH": ""},
                          cwd=__file__.rsplit("/tests/", 1)[0])
    assert done.returncode == 0, done.stderr
    assert done.stdout == "en\n" and done.stderr == ""


def _weight(p_dutch: float, weights: FusionWeights = FusionWeights()) -> float:
    return weights.keyword_weight({"nl": p_dutch, "en": 1 - p_dutch}, "nl")


@pytest.mark.parametrize("weights", [FusionWeights(), FusionWeights(1.0, 1.0, 0.2, method="rrf"),
                                     FusionWeights(score_keyword_same_language=0.3,
                                                   keyword_cross_language=0.1),
                                     FusionWeights(keyword_same_language=1.5, method="rrf")])
def test_the_keyword_weight_follows_confidence(weights):
    steps = [_weight(i / 20, weights) for i in range(21)]
    assert steps == sorted(steps)  # monotone in p(question is in the corpus language)
    assert steps[0] == pytest.approx(weights.keyword_cross_language)
    assert steps[-1] == pytest.approx(weights.same_language)
    assert steps[10] == pytest.approx((weights.same_language
                                       + weights.keyword_cross_language) / 2)


def test_an_english_corpus_mirrors_the_weight():
    weights = FusionWeights()
    assert weights.keyword_weight({"nl": 0.2, "en": 0.8}, "en") == pytest.approx(
        0.8 * weights.same_language)


def test_certain_or_unknown_languages_keep_their_meaning():
    weights = FusionWeights()
    assert weights.keyword_weight("nl", "nl") == weights.same_language
    assert weights.keyword_weight("en", "nl") == weights.keyword_cross_language
    # No letters (a number, a date): words that are the same in both languages.
    assert weights.keyword_weight(None, "nl") == weights.same_language
    assert weights.keyword_weight({}, "nl") == weights.same_language


def test_a_real_short_english_question_gets_almost_no_keyword_weight():
    weight = FusionWeights().keyword_weight(language_probabilities("Let's go somewhere warm."), "nl")
    assert weight < 0.1 * FusionWeights().same_language


# Short English questions without an English function word (the old detector's blind spot, where
# keywords got the Dutch weight) -> the sample article that answers them.
SHORT_ENGLISH_ON_THE_SAMPLE = [
    ("Putin Biden Geneva meeting length", "001_2bed4d3526be678e"),
    ("Sixteen critical systems Russia must leave alone", "000_80b0f47be43478c7"),
    ("Troops leaving Afghanistan", "002_8bd9632aeaf2a08c"),
    ("Putin in Sochi during the video call", "003_7341066c0f110c02"),
    ("Nord Stream 2 pipeline sanctions", "004_2279d42696e0605c"),
    ("Let's meet somewhere neutral in Geneva", "001_2bed4d3526be678e"),
]


@pytest.mark.model
def test_hybrid_ranks_short_english_as_dense_does(real_index, real_embedder):
    from indexer.index.directory import IndexDirectory
    from search.searcher import Searcher

    searcher = Searcher(IndexDirectory(real_index), real_embedder)

    def rank(question, doc_id, mode):
        docs = [h.doc_id for h in searcher.search(question, k=5, mode=mode).hits]
        return docs.index(doc_id) + 1 if doc_id in docs else 99

    for question, doc_id in SHORT_ENGLISH_ON_THE_SAMPLE:
        assert detect_language(question) == "en", question
        assert rank(question, doc_id, "hybrid") <= rank(question, doc_id, "dense"), question
