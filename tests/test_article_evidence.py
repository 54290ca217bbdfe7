"""The article as a unit for keyword search (decisions 0033, 0034) and names across spellings
(0035): the article index and the corpus names on their own, fusion by article rank, the
searcher with a fake model, an index written before the article index, and the real model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from indexer.index.directory import IndexDirectory
from indexer.index.keywords.analysis import Analyzer
from indexer.index.keywords.articles import ArticleKeywords
from indexer.index.keywords.names import NameVocabulary, collect_names, count_words, similarity
from indexer.index.manifest import ARTICLE_KEYWORDS, MANIFEST
from indexer.write.chunking import ParagraphChunker
from indexer.records import Document
from indexer.write.loading import LoadResult
from indexer.write.maintenance import migrate_index, optimize_index
from indexer.write.pipeline import load_for_index, update_index
from search.fusion import FusionWeights, article_ranking, reciprocal_rank_fusion
from search.names import NameMatcher
from search.searcher import Searcher
from tests.conftest import SAMPLE_DIR
from tests.fakes import FakeEmbedder

ARTICLES = ["Poetin sprak in Genève met Biden. Het gesprek duurde vier uur.",
            "De Tweede Kamer debatteert. Volgens Rutte moet het klimaatbeleid anders.",
            "Navalny zit gevangen; Poetin wil niet over Navalny praten."]


def _articles(tmp_path, texts=ARTICLES, ids=(10, 20, 30), owners=(10, 10, 20, 30, 30, 30)):
    """An article index of ``texts`` under stable ``ids``; passage i belongs to owners[i]."""
    from indexer.index.keywords.tantivy_index import update

    update(None, tmp_path / "articles", Analyzer("nl"), (), list(ids), list(texts))
    return ArticleKeywords.load(tmp_path / "articles", np.asarray(owners, np.int64), ())


def test_the_article_index_ranks_whole_articles_by_stable_id_and_knows_their_passages(tmp_path):
    index = _articles(tmp_path)
    assert index.search("Navalny gevangen", 5).ids.tolist() == [30]
    assert [c.tolist() for c in index.chunks_of(np.array([30, 10]))] == [[3, 4, 5], [0, 1]]
    mask = np.array([1, 1, 0, 0, 0, 0], np.float32)  # only article 10's passages are allowed
    assert index.search("Poetin", 5, mask).ids.tolist() == [10]
    assert index.search("Poetin", 5, np.zeros(6, np.float32)).ids.tolist() == []
    assert len(index) == 3


def test_an_article_changed_or_removed_in_a_later_version_is_no_longer_found(tmp_path):
    from indexer.index.keywords.tantivy_index import update

    _articles(tmp_path)
    update(tmp_path / "articles", tmp_path / "next", Analyzer("nl"), [30, 10], [31],
           ["Rutte over Navalny."], 3)
    later = ArticleKeywords.load(tmp_path / "next", np.asarray([-1, -1, 20, 31], np.int64), ())
    assert later.search("Navalny", 5).ids.tolist() == [31]
    assert later.search("Poetin", 5).ids.tolist() == []  # 10 and 30 are gone
    assert len(later) == 2
    before = ArticleKeywords.load(tmp_path / "articles", np.zeros(6, np.int64), ())
    assert sorted(before.search("Poetin", 5).ids.tolist()) == [10, 30]  # the old version keeps its own


def test_names_are_words_capitalised_inside_sentences_and_nearly_always():
    segments = [count_words(ARTICLES[:2]), count_words(ARTICLES[2:]),
                count_words(["Het weer wordt beter. Volgens het KNMI komt er zon."])]
    names = collect_names(segments, Analyzer("nl"))
    assert {"poetin", "navalny", "biden", "geneve", "kamer", "rutte"} <= set(names)
    assert names["poetin"] == (2, "Poetin") and names["geneve"][1] == "Genève"
    # "Volgens" starts sentences only, "Het" is a stop word, "gesprek" is lower case
    assert not {"volgens", "het", "gesprek"} & set(names)
    # a word capitalised in one segment and written lower case in another is no name
    assert "kamer" not in collect_names([*segments, count_words(["in de kamer"] * 3)],
                                        Analyzer("nl"))


def test_similar_names_by_character_bigrams():
    vocabulary = NameVocabulary({"poetin": (5, "Poetin"), "zelenski": (3, "Zelenski"),
                                 "peskov": (2, "Peskov"), "parijs": (1, "Parijs")})
    assert vocabulary.similar("putin")[0][0] == "poetin"
    assert vocabulary.similar("zelensky")[0][0] == "zelenski"
    assert vocabulary.similar("wednesday") == []
    assert similarity("navalnyj", "navalny") > similarity("putin", "poetin") > 0.5


def test_a_similar_name_counts_only_when_the_model_agrees():
    vocabulary = NameVocabulary({"poetin": (5, "Poetin"), "navalny": (2, "Navalny")})
    same = NameMatcher(vocabulary, Analyzer("nl"), lambda texts: np.ones((len(texts), 2)) / 2 ** 0.5)
    assert same.corpus_names("What did Putin say about Navalny?") == ("poetin", "navalny")
    apart = NameMatcher(vocabulary, Analyzer("nl"),
                        lambda texts: np.eye(len(texts), 2, dtype=np.float32))
    assert apart.corpus_names("What did Putin say about Navalny?") == ("navalny",)
    asked = []
    cached = NameMatcher(vocabulary, Analyzer("nl"),
                         lambda texts: asked.append(texts) or np.ones((len(texts), 2)))
    cached.corpus_names("Putin and Putin"), cached.corpus_names("Putin again")
    assert asked == [["Putin", "Poetin"]]  # one question word is embedded once per searcher


def test_an_article_rank_lifts_all_its_passages_alike():
    ids, ranks = article_ranking([[7, 8], [3]])
    assert (ids, ranks) == ([7, 8, 3], [0, 0, 1])
    fused = dict(reciprocal_rank_fusion([([8, 3, 7], 1.0), (ids, 1.0, ranks)], 60))
    assert fused[8] > fused[7] > fused[3]  # article 1's passages first, its better passage first
    assert fused[7] - 1 / 63 == pytest.approx(1 / 61)


def test_the_keyword_weight_when_the_best_article_holds_every_question_word():
    weights = FusionWeights(keyword_same_language=0.05, keyword_covered=0.5, method="rrf")
    assert weights.keyword_weight({"nl": 0.5, "en": 0.5}, "nl", covered=True) == pytest.approx(0.25)
    assert weights.keyword_weight({"nl": 0.5, "en": 0.5}, "nl") == pytest.approx(0.025)
    assert weights.keyword_weight("en", "nl", covered=True) == 0.0


def _index(root, embedder, texts):
    docs = root.parent / "docs"
    docs.mkdir(exist_ok=True)
    lines = [json.dumps({"id": f"a{i}", "text": t}) for i, t in enumerate(texts)]
    (docs / "a.jsonl").write_text("\n".join(lines) + "\n")
    update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder, max_tokens=16),
                 load_for_index([docs]))
    return root


SPREAD = ["Het Rijksmuseum opent deze week een grote tentoonstelling met veel bezoekers.\n\n"
          "Er hangen schilderijen van Rembrandt.",
          "Rembrandt en het Rijksmuseum: een nieuwe directeur.\n\nDe directeur begint volgend jaar.",
          "Een tentoonstelling over de zee in Leiden.\n\nDe stad is trots.",
          "Een tentoonstelling in Utrecht.\n\nHet is druk."]


def test_the_article_lifts_its_passages_when_its_words_are_spread_over_them(
        tmp_path, fake_embedder):
    root = _index(tmp_path / "index", fake_embedder, SPREAD)
    searcher = Searcher(IndexDirectory(root), fake_embedder)
    try:
        assert searcher.articles is not None and len(searcher.articles) == 4
        question = "Rijksmuseum tentoonstelling Rembrandt"
        # One passage of a1 holds two of the three words; a0 holds all three, over two passages.
        passages = searcher.search(question, mode="keyword", k=4, weights=FusionWeights(article=0))
        articles = searcher.search(question, mode="keyword", k=4, weights=FusionWeights(article=2))
        assert [h.doc_id for h in passages.hits][:2] == ["a1", "a0"]
        assert [h.doc_id for h in articles.hits][:2] == ["a0", "a1"]
        # within a0 the passage with more of the words is the one shown
        assert "tentoonstelling" in articles.hits[0].text
        # ungrouped, only passages that hold a question word come back (as before)
        loose = searcher.search(question, mode="keyword", k=10, group=False,
                                weights=FusionWeights(article=2))
        assert all(h.highlights for h in loose.hits) and len(loose.hits) == 5
    finally:
        searcher.close()


def test_the_leg_is_covered_when_its_best_article_holds_every_question_word(
        tmp_path, fake_embedder):
    from search.evidence import gather

    root = _index(tmp_path / "index", fake_embedder, SPREAD)
    searcher = Searcher(IndexDirectory(root), fake_embedder)
    try:
        def covered(question):
            evidence = gather(question, 10, None, searcher.keywords, searcher.articles,
                              searcher.names, 20, True)
            return searcher._covered(question, evidence)
        assert covered("Rijksmuseum tentoonstelling Rembrandt")  # a0 holds all three
        assert not covered("Rijksmuseum tentoonstelling Vermeer")  # no article holds Vermeer
        assert not covered("de het een")  # stop words only: nothing to be sure of
    finally:
        searcher.close()


def test_an_index_written_before_the_article_index_is_searched_with_passages_only(
        tmp_path, fake_embedder):
    root = _index(tmp_path / "index", fake_embedder, SPREAD)
    version = IndexDirectory(root).current_version()
    with_articles = Searcher(IndexDirectory(root), fake_embedder)
    expected = {m: [(h.doc_id, h.chunk_id) for h in with_articles.search(
        "Rembrandt Leiden", mode=m, k=3, weights=FusionWeights(
            article=0.0, respell_names=False)).hits]
        for m in ("hybrid", "keyword", "dense")}
    with_articles.close()
    shutil.rmtree(version / ARTICLE_KEYWORDS)
    manifest = json.loads((version / MANIFEST).read_text())
    del manifest["article_index"]
    (version / MANIFEST).write_text(json.dumps(manifest))
    old = Searcher(IndexDirectory(root), fake_embedder)
    try:
        assert old.articles is None and old.names is None
        for mode, hits in expected.items():
            assert [(h.doc_id, h.chunk_id) for h in old.search("Rembrandt Leiden", mode=mode,
                                                               k=3).hits] == hits
    finally:
        old.close()
    # `vraagbaak index` again, with nothing changed, adds the article index without embedding
    docs = load_for_index([tmp_path / "docs"])
    report = update_index(IndexDirectory(root), fake_embedder,
                          ParagraphChunker(fake_embedder, max_tokens=16), docs)
    assert report.published and report.embedded == 0
    assert IndexDirectory(root).manifest().article_index["articles"] == 4
    again = update_index(IndexDirectory(root), fake_embedder,
                         ParagraphChunker(fake_embedder, max_tokens=16), docs)
    assert not again.published


@pytest.mark.model
def test_english_names_find_the_dutch_spelling_with_the_real_model(real_index, real_embedder):
    searcher = Searcher(IndexDirectory(real_index), real_embedder)
    try:
        names = searcher.names.corpus_names("What did Putin say about Navalnyj in Geneva?")
        assert names == ("poetin", "navalny", "geneve")
        assert searcher.names.corpus_names("Today is Wednesday. Let's go somewhere warm.") == ()
        question = "What did Putin say about Navalnyj?"
        assert searcher.search(question, mode="keyword", k=3,
                               weights=FusionWeights(respell_names=False)).hits == []
        result = searcher.search(question, mode="keyword", k=3)
        assert "Poetin" in result.hits[0].text and "Navalny" in result.hits[0].text
        hit = result.hits[0]
        marked = {hit.text[s - hit.start:e - hit.start] for s, e in hit.highlights}
        assert {"Poetin", "Navalny"} <= marked  # the Dutch spellings are what matched
    finally:
        searcher.close()


def _marked(i: int, word: str = "") -> Document:
    """An article whose own word (``word`` or "merk" + letters of i) no other article holds."""
    own = word or "merk" + "".join(chr(97 + int(d)) for d in str(i))
    return Document(f"m{i}", f"Een bericht over {own} en de stad.\n\nDe Kamer praat verder "
                             f"over het plan van Rutte.")


def _add(root, docs, remove=()):
    embedder = FakeEmbedder()
    return update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder, 16),
                        LoadResult(documents=list(docs)), remove=remove)


def _assert_consistent(root) -> dict:
    """The article index holds exactly the live articles, each with its own live passages;
    returns {doc id: article id}."""
    from indexer.index.version import IndexVersion

    with IndexVersion.open(IndexDirectory(root).current_version(), vectors=False) as version:
        index, manifest = version.articles, version.manifest
        assert index is not None and len(index) == manifest.articles == manifest.article_index["articles"]
        found = {}
        for article_id, doc in version.store.documents_with_ids():
            own = doc.document.text.split()[3]
            assert index.search(own, 5).ids.tolist() == [article_id], own
            passages = version.store.rows_of_articles(version.store.find([doc.document.doc_id]))[1]
            assert index.chunks_of(np.array([article_id]))[0].tolist() == sorted(passages)
            found[doc.document.doc_id] = article_id
        return found


def test_a_changed_or_removed_article_leaves_the_article_index_with_the_change(tmp_path):
    root = tmp_path / "idx"
    _add(root, [_marked(i) for i in range(6)])
    first = _assert_consistent(root)
    _add(root, [_marked(1, "vervangen")], remove=["m2"])
    later = _assert_consistent(root)
    assert set(later) == {"m0", "m1", "m3", "m4", "m5"} and later["m1"] != first["m1"]
    searcher = Searcher(IndexDirectory(root), FakeEmbedder())
    try:
        assert searcher.articles.search("merkb merkc", 5).ids.tolist() == []  # m1's old, m2's
        hits = searcher.search("vervangen", mode="keyword", k=3).hits
        assert [h.doc_id for h in hits] == ["m1"]
    finally:
        searcher.close()
    # the new version's article index holds the change only: the rest are the old files, linked
    current = IndexDirectory(root).current_version() / ARTICLE_KEYWORDS
    shared = [p for p in current.iterdir() if p.is_file() and p.stat().st_nlink > 1]
    assert shared


def test_optimize_and_migrate_keep_the_article_index_consistent(tmp_path):
    from tests.test_segments import _as_format_3

    root = tmp_path / "idx"
    _add(root, [_marked(i) for i in range(4)])
    _add(root, [_marked(i) for i in range(4, 7)], remove=["m0"])
    before = _assert_consistent(root)
    assert optimize_index(IndexDirectory(root)).published
    assert _assert_consistent(root) == before  # the article ids are kept
    assert IndexDirectory(root).manifest().tombstones["articles"] == 0
    single = tmp_path / "single"
    _add(single, [_marked(i) for i in range(5)])
    _as_format_3(single)
    migrate_index(IndexDirectory(single))
    _assert_consistent(single)


def test_an_old_format_4_index_without_article_index_gets_it_from_optimize(tmp_path):
    root = tmp_path / "idx"
    _add(root, [_marked(i) for i in range(3)])
    version = IndexDirectory(root).current_version()
    shutil.rmtree(version / ARTICLE_KEYWORDS)
    for names in (version / "segments").glob("*/names.json"):
        names.unlink()  # segments written before word counts
    manifest = json.loads((version / MANIFEST).read_text())
    del manifest["article_index"]
    (version / MANIFEST).write_text(json.dumps(manifest))
    assert optimize_index(IndexDirectory(root)).published
    _assert_consistent(root)
    searcher = Searcher(IndexDirectory(root), FakeEmbedder())
    try:
        assert {"kamer", "rutte"} <= set(searcher.articles.names.names)
    finally:
        searcher.close()
