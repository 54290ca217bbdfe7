"""The contract every registered keyword backend keeps: a backend gets these tests by being
registered in indexer.index.keywords.BACKENDS."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.index.keywords import BACKENDS, build_keyword_index, load_keyword_index

TEXTS = ["Poetin sprak in Genève met Biden over cyberaanvallen.",
         "De Tweede Kamer debatteert over het klimaatbeleid.",
         "Navalny zit gevangen; Poetin wil niet over hem praten.",
         "Het weer: morgen regen in het noorden van het land.",
         ""]


@pytest.fixture(params=sorted(BACKENDS))
def index(request):
    return build_keyword_index(TEXTS, "nl", kind=request.param)


def test_it_ranks_the_passages_that_hold_the_question_s_terms(index):
    assert len(index) == len(TEXTS)
    hits = index.search("Wat zei Poetin over Navalny?", 10)
    assert hits.ids.tolist()[0] == 2 and set(hits.ids.tolist()) == {0, 2}
    assert np.all(hits.scores > 0) and np.all(np.diff(hits.scores) <= 0)
    assert "poetin" in " ".join(hits.terms) and "navalny" in " ".join(hits.terms)
    assert index.terms("onbekendwoord") == ()
    assert len(index.search("onbekendwoord", 10).ids) == 0


def test_a_mask_keeps_only_allowed_passages(index):
    mask = np.zeros(len(TEXTS), np.float32)
    mask[0] = 1.0
    assert index.search("Poetin", 10, mask).ids.tolist() == [0]


def test_it_round_trips_through_its_folder(index, tmp_path):
    index.save(tmp_path / "keywords")
    loaded = load_keyword_index(tmp_path / "keywords", {"kind": index.kind})
    assert loaded.kind == index.kind and len(loaded) == len(index)
    for question in ("Poetin Biden", "klimaatbeleid Kamer", "regen"):
        a, b = index.search(question, 5), loaded.search(question, 5)
        assert a.ids.tolist() == b.ids.tolist() and np.allclose(a.scores, b.scores)


def test_an_empty_index_answers_nothing(index):
    empty = build_keyword_index([], "nl", kind=index.kind)
    assert len(empty) == 0 and len(empty.search("Poetin", 5).ids) == 0
