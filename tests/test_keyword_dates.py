"""Date filters inside tantivy (range queries on the article date's span) answer exactly as the
mask over tantivy's ranking does. Fake model; real tantivy, SQLite, FAISS."""

from __future__ import annotations

import pytest

from indexer.index.directory import IndexDirectory
from indexer.index.keywords import tantivy_index
from indexer.index.keywords.analysis import Analyzer
from indexer.index.keywords.tantivy_index import TantivyIndex
from search.searcher import Searcher
from tests.fakes import FakeEmbedder
from tests.test_segments import QUESTIONS, add, articles, opened

PERIODS = (("2021-03-01", "2021-03-31"), ("2021-02", "2021-05"), ("2021-07-01", None),
           (None, "2021-02-01"))


def dated_answers(root, mode: str) -> list:
    searcher = Searcher(IndexDirectory(root), FakeEmbedder())
    try:
        return [[(h.doc_id, h.passage_id, round(h.score, 4)) for h in searcher.search(
            q, mode=mode, k=8, since=since, until=until).hits]
            for q in QUESTIONS for since, until in PERIODS]
    finally:
        searcher.close()


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_a_date_filter_inside_tantivy_answers_as_the_mask_does(tmp_path, monkeypatch, mode):
    root = tmp_path / "idx"
    add(root, articles(30))
    add(root, articles(10, start=30))  # the second write updates the dated index in place
    with opened(root) as version:
        assert version.keywords._dated and version.articles.index._dated
    monkeypatch.setattr(tantivy_index, "RANGE_BELOW", 0.0)  # never: the mask alone
    masked = dated_answers(root, mode)
    monkeypatch.setattr(tantivy_index, "RANGE_BELOW", 2.0)  # always: the ranges in tantivy
    ranged = dated_answers(root, mode)
    assert ranged == masked and sum(map(len, masked)) > 20


def test_an_index_written_before_the_date_fields_stays_searchable_and_undated(tmp_path):
    old = TantivyIndex.build(["de minister zei iets", "het kabinet viel"],
                             Analyzer("nl"))
    old.save(tmp_path / "old")
    assert not TantivyIndex.load(tmp_path / "old")._dated
    tantivy_index.update(tmp_path / "old", tmp_path / "next", Analyzer("nl"), [0],
                         [2], ["de minister van klimaat"], 2, dates=["2021-01-01"])
    grown = TantivyIndex.load(tmp_path / "next")
    assert not grown._dated and grown.search("minister", 5).ids.tolist() == [2]
