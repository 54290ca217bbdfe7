"""Segments, stable ids, tombstones, merges, optimize and migrate (fake model; one real-model
test at the end). Real FAISS, SQLite and tantivy throughout."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

from indexer.errors import IndexFormatError
from indexer.index.directory import IndexDirectory
from indexer.index.version import IndexVersion
from indexer.records import Document
from indexer.write import segment_writer
from indexer.write.chunking import ParagraphChunker
from indexer.write.loading import LoadResult
from indexer.write.maintenance import migrate_index, optimize_index
from indexer.write.pipeline import load_for_index, update_index
from search.searcher import Searcher
from tests.conftest import SAMPLE_DIR
from tests.fakes import FakeEmbedder

QUESTIONS = ("Poetin Biden Genève", "klimaat stikstof boeren", "Navalny gevangenis",
             "Wat zei Rutte over de begroting?", "Oekraïne NAVO")


def articles(n: int, start: int = 0) -> list[Document]:
    words = ("kabinet Kamer minister Rutte begroting klimaat stikstof boeren zorg woningbouw "
             "gemeente Europa Brussel NAVO Oekraïne Poetin Biden verkiezingen").split()
    rng = np.random.default_rng(start)
    return [Document(f"gen-{i}", "\n\n".join(" ".join(rng.choice(words, 15)) + "."
                                             for _ in range(1 + i % 3)), date=f"2021-0{1 + i % 9}-01")
            for i in range(start, start + n)]


def add(root, docs, embedder=None, **kwargs):
    embedder = embedder or FakeEmbedder()
    return update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder, 48),
                        LoadResult(documents=list(docs)), **kwargs)


def opened(root, **kwargs) -> IndexVersion:
    return IndexVersion.open(IndexDirectory(root).current_version(), **kwargs)


def answers(root, mode: str) -> list[list[tuple]]:
    searcher = Searcher(IndexDirectory(root), FakeEmbedder())
    try:
        return [[(h.doc_id, h.passage_id, round(h.score, 4))
                 for h in searcher.search(q, mode=mode, k=8).hits] for q in QUESTIONS]
    finally:
        searcher.close()


def passage_ids(root) -> dict[tuple, int]:
    """(doc id, ordinal, text) -> stable passage id, of every live passage."""
    with opened(root, vectors=False, keywords=False) as version:
        ids = version.store.chunk_ids()
        return {(c.chunk.doc_id, c.chunk.ordinal, c.chunk.text): i
                for i, c in version.store.get_chunks(ids.tolist()).items()}


def test_ids_never_change_and_are_never_given_again(tmp_path):
    root = tmp_path / "idx"
    add(root, articles(6))
    first = passage_ids(root)
    add(root, articles(4, start=6))
    second = passage_ids(root)
    assert all(second[key] == i for key, i in first.items())  # old passages keep their ids
    changed = Document("gen-2", "Een geheel nieuwe tekst over de Tweede Kamer.", date="2021-03-01")
    add(root, [changed])
    update_index(IndexDirectory(root), None, None, remove=["gen-3"])
    third = passage_ids(root)
    new_ids = [i for key, i in third.items() if key[0] == "gen-2"]
    assert min(new_ids) > max(second.values())  # an update gets new ids, after every old one
    assert not set(third.values()) & {i for k, i in second.items() if k[0] in ("gen-2", "gen-3")}
    with opened(root) as version:
        m = version.manifest
        assert (m.articles, m.chunks) == (9, len(third))
        assert m.next_ids["chunks"] == max(third.values()) + 1


def test_a_change_writes_one_small_segment_and_shares_the_rest(tmp_path):
    root = tmp_path / "idx"
    add(root, articles(20))
    before = IndexDirectory(root).current_version()
    report = add(root, articles(1, start=20))
    after = IndexDirectory(root).current_version()
    assert report.added == 1 and report.embedded > 0
    with opened(root, vectors=False, keywords=False) as version:
        old, new = version.manifest.segments
        assert new["articles"] == 1 and old["articles"] == 20
    for name in ("chunks.sqlite", "vectors.faiss", "sentences.faiss"):
        a = before / "segments" / old["name"] / name
        b = after / "segments" / old["name"] / name
        assert a.stat().st_ino == b.stat().st_ino  # a hard link: not rewritten, not copied


def test_deleted_and_replaced_rows_are_never_found(tmp_path):
    root = tmp_path / "idx"
    add(root, articles(12))
    add(root, [Document("gen-5", "Poetin ontmoette Biden in Genève voor een gesprek.",
                        date="2021-06-16")])
    update_index(IndexDirectory(root), None, None, remove=["gen-7"])
    searcher = Searcher(IndexDirectory(root), FakeEmbedder())
    live = passage_ids(root)
    for mode in ("dense", "keyword", "hybrid"):
        for question in QUESTIONS:
            for hit in searcher.search(question, mode=mode, k=20, group=False).hits:
                assert hit.doc_id != "gen-7" and hit.passage_id in live.values()
                assert hit.text == next(k[2] for k, i in live.items() if i == hit.passage_id)
            dated = searcher.search(question, mode=mode, k=20, since="2021-06-01", until="2021-06-30")
            assert all(h.doc_id != "gen-7" and h.date.startswith("2021-06") for h in dated.hits)
    assert searcher.search("Genève gesprek", mode="keyword").hits[0].doc_id == "gen-5"


def test_keyword_scores_use_statistics_of_all_segments(tmp_path):
    """An index grown one article at a time scores every passage as one built at once."""
    docs = articles(15)
    add(tmp_path / "once", docs)
    for doc in docs:
        add(tmp_path / "grown", [doc])
    with opened(tmp_path / "grown", vectors=False, keywords=False) as version:
        assert len(version.manifest.segments) > 1
    found = 0
    for question in QUESTIONS:
        a = [(h.doc_id, round(h.keyword_score, 3)) for h in Searcher(
            IndexDirectory(tmp_path / "once"), FakeEmbedder()).search(question, mode="keyword", k=10).hits]
        b = [(h.doc_id, round(h.keyword_score, 3)) for h in Searcher(
            IndexDirectory(tmp_path / "grown"), FakeEmbedder()).search(question, mode="keyword", k=10).hits]
        assert a == b
        found += len(a)
    assert found > 20


def test_small_segments_are_merged_by_tier_and_ids_survive(tmp_path, monkeypatch):
    monkeypatch.setattr(segment_writer, "MERGE_FACTOR", 4)
    root = tmp_path / "idx"
    add(root, articles(3))
    before_ids, before = passage_ids(root), None
    for i in range(3, 6):
        add(root, articles(1, start=i))
    with opened(root, vectors=False, keywords=False) as version:
        names = [s["name"] for s in version.manifest.segments]
    assert len(names) == 1  # the fourth small segment set off a merge of all four
    after = passage_ids(root)
    assert all(after[k] == i for k, i in before_ids.items())
    assert len(after) == len(before_ids) + sum(1 for k in after if k not in before_ids)
    del before


def test_optimize_merges_everything_and_answers_stay_the_same(tmp_path):
    root = tmp_path / "idx"
    for i in range(0, 12, 3):
        add(root, articles(3, start=i))
    update_index(IndexDirectory(root), None, None, remove=["gen-1", "gen-8"])
    dense_before, ids_before = answers(root, "dense"), passage_ids(root)
    with opened(root, vectors=False, keywords=False) as version:
        assert len(version.manifest.segments) == 4 and version.manifest.tombstones["articles"] == 2
    report = optimize_index(IndexDirectory(root))
    assert report.published and (report.segments_before, report.segments_after) == (4, 1)
    with opened(root) as version:
        assert len(version.manifest.segments) == 1 and not version.tombstones.articles
        assert version.manifest.articles == 10
    assert passage_ids(root) == ids_before and answers(root, "dense") == dense_before
    keyword = answers(root, "keyword")
    assert [[h[:2] for h in q] for q in keyword]  # answers, by the same stable ids
    assert not optimize_index(IndexDirectory(root)).published  # nothing left to do


def test_a_search_holding_a_version_keeps_working_through_merges(tmp_path):
    root = tmp_path / "idx"
    add(root, articles(8))
    reader = Searcher(IndexDirectory(root), FakeEmbedder())
    expected = [(h.doc_id, h.passage_id) for h in reader.search("Poetin Biden", mode="hybrid").hits]
    for i in range(8, 11):
        add(root, articles(1, start=i))
    optimize_index(IndexDirectory(root))
    add(root, articles(1, start=11))  # the version the reader holds is now two versions back
    assert [(h.doc_id, h.passage_id) for h in reader.search("Poetin Biden", mode="hybrid").hits] \
        == expected
    reader.close()


def _as_format_3(root) -> None:
    """Rewrite a one-segment format-4 index into the format-3 layout (one monolithic version,
    ids as positions, bm25s keywords), as vraagbaak 0.1 wrote it."""
    from indexer.index.keywords import build_keyword_index

    version = IndexDirectory(root).current_version()
    manifest = json.loads((version / "manifest.json").read_text())
    (segment,) = manifest["segments"]
    folder = version / "segments" / segment["name"]
    for name in ("vectors.faiss", "sentences.faiss"):
        shutil.copy(folder / name, version / name)
    old = sqlite3.connect(version / "chunks.sqlite")
    old.execute(f"ATTACH '{folder / 'chunks.sqlite'}' AS new")
    old.executescript("""
        CREATE TABLE documents AS SELECT doc_id, title, date, url, source, origin, text,
            content_hash, source_file, language FROM new.documents ORDER BY article_id;
        CREATE TABLE chunks AS SELECT * FROM new.chunks ORDER BY id;
        CREATE TABLE sentences AS SELECT * FROM new.sentences ORDER BY id;""")
    texts = [r[0] for r in old.execute("SELECT text FROM chunks ORDER BY id")]
    old.commit()
    old.close()
    shutil.rmtree(version / "segments")
    shutil.rmtree(version / "keywords")
    (version / "tombstones.json").unlink()
    build_keyword_index(texts, "nl", kind="bm25s-lucene").save(version / "keywords")
    for key in ("segments", "next_ids", "language_counts", "tombstones"):
        manifest.pop(key)
    manifest.update(format_version=3, keyword_index={"kind": "bm25s-lucene"},
                    vector_indexes={"setting": "auto", **segment["vector_indexes"]})
    (version / "manifest.json").write_text(json.dumps(manifest))


def test_a_format_3_index_is_refused_with_the_command_that_migrates_it(tmp_path, run):
    root = tmp_path / "idx"
    add(root, articles(6))
    dense_before = answers(root, "dense")
    _as_format_3(root)
    with pytest.raises(IndexFormatError, match="format 3") as caught:
        Searcher(IndexDirectory(root), FakeEmbedder())
    assert f"vraagbaak migrate --index {root}" in caught.value.hint
    with pytest.raises(IndexFormatError, match="format 3"):  # a writer must not drop its articles
        add(root, articles(1, start=6))
    result = run("migrate", "--index", root)
    assert result.exit_code == 0 and "Migrated (from format 3)" in result.stdout, result.output
    assert answers(root, "dense") == dense_before  # same vectors, the old ids kept as stable ids
    assert run("migrate", "--index", root).exit_code == 1  # already migrated: said so, no traceback
    embedder = FakeEmbedder()
    add(root, articles(1, start=20), embedder=embedder)
    assert embedder.documents_embedded > 0


@pytest.mark.model
def test_the_real_model_adds_removes_and_finds(tmp_path, real_embedder):
    """The sample articles with the real model: added in two runs (two segments), one removed,
    one added back; the answers match an index built at once."""
    files = sorted(SAMPLE_DIR.glob("*.txt"))
    step, once = tmp_path / "step", tmp_path / "once"
    chunker = ParagraphChunker(real_embedder)

    def index(root, paths, **kwargs):
        return update_index(IndexDirectory(root), real_embedder, chunker,
                            load_for_index(paths) if paths else None, **kwargs)
    index(step, files[:3])
    index(step, files[3:])
    removed = update_index(IndexDirectory(step), None, None, remove=[files[0].stem])
    assert removed.removed == 1
    index(step, files[:1])  # back again: from the vector cache, nothing embedded
    index(once, files)
    a, b = (Searcher(IndexDirectory(r), real_embedder) for r in (step, once))
    for question in ("Wat zei Poetin over Navalny?", "What did Biden and Putin agree on?"):
        for mode in ("dense", "hybrid", "keyword"):
            hits_a = [(h.doc_id, round(h.score, 3)) for h in a.search(question, mode=mode).hits]
            hits_b = [(h.doc_id, round(h.score, 3)) for h in b.search(question, mode=mode).hits]
            if mode == "dense":
                assert hits_a == hits_b
                continue
            # Deleted rows count in BM25 statistics until a merge (Lucene's rule): the same
            # articles in the same order; hybrid fuses the BM25 scores themselves (z-scored,
            # decision 0056), so its scores move by as little as those statistics do.
            assert [d for d, _ in hits_a] == [d for d, _ in hits_b]
            if mode == "hybrid":
                assert np.allclose([s for _, s in hits_a], [s for _, s in hits_b], atol=0.005)
    optimize_index(IndexDirectory(step))
    a = Searcher(IndexDirectory(step), real_embedder)
    assert [(h.doc_id, round(h.score, 3)) for h in a.search("Poetin Navalny", mode="keyword").hits] \
        == [(h.doc_id, round(h.score, 3)) for h in b.search("Poetin Navalny", mode="keyword").hits]


def test_a_new_vector_index_kind_keeps_every_id_and_embeds_nothing(tmp_path):
    root = tmp_path / "idx"
    add(root, articles(5))
    add(root, articles(3, start=5))
    before, dense = passage_ids(root), answers(root, "dense")
    embedder = FakeEmbedder()
    report = add(root, [], embedder=embedder, index_type="flat")
    assert report.published and embedder.documents_embedded == 0
    with opened(root, vectors=False, keywords=False) as version:
        assert len(version.manifest.segments) == 1
        assert version.manifest.vector_indexes["setting"] == "flat"
    assert passage_ids(root) == before and answers(root, "dense") == dense
