"""Incremental indexing, pruning and removal, on the fake model (fast)."""

import json
import shutil

import pytest

from indexer.write.chunking import ParagraphChunker
from indexer.errors import InputError
from indexer.index.directory import IndexDirectory
from indexer.write.pipeline import load_for_index, update_index
from indexer.index.version import IndexVersion
from search.searcher import Searcher
from tests.conftest import SAMPLE_DIR, write
from tests.fakes import FakeEmbedder
from tests.index_state import segment_file, snapshot


def index(root, embedder, *paths, max_tokens=64, **kwargs):
    loaded = load_for_index(list(paths)) if paths else None
    return update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder, max_tokens),
                        loaded, **kwargs)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "articles"
    shutil.copytree(SAMPLE_DIR, folder)
    return folder


def test_reindexing_an_unchanged_folder_embeds_nothing_and_publishes_nothing(tmp_path, corpus):
    first = FakeEmbedder()
    report = index(tmp_path / "idx", first, corpus)
    assert (report.added, report.embedded, report.reused) == (5, first.documents_embedded, 0)
    version = IndexDirectory(tmp_path / "idx").current_version()
    again = FakeEmbedder()
    report = index(tmp_path / "idx", again, corpus)
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 0, 5, 0)
    assert again.documents_embedded == 0 and not report.published
    assert IndexDirectory(tmp_path / "idx").current_version() == version
    assert report.articles == 5 and report.chunks > 0


def test_a_changed_article_is_updated_and_only_its_new_text_is_embedded(tmp_path, corpus):
    index(tmp_path / "idx", FakeEmbedder(), corpus)
    article = next(corpus.glob("003_*.txt"))
    old = article.read_text()
    article.write_text(old.rstrip() + "\n\nCorrectie: het gesprek duurde twee uur en vijf minuten.\n")
    embedder = FakeEmbedder()
    report = index(tmp_path / "idx", embedder, corpus)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 4)
    # The new paragraph changes at most the last passage (and adds one sentence); the rest of the
    # article's passages and sentences keep their vectors.
    assert 1 <= embedder.documents_embedded <= 3
    assert report.reused > 10  # the changed article's other texts; the rest were not even read
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), embedder)
    hit = searcher.search("Correctie gesprek twee uur en vijf minuten", mode="keyword").hits[0]
    assert hit.doc_id == article.stem and "Correctie" in hit.text


def test_the_result_equals_an_uninterrupted_full_build(tmp_path, corpus):
    files = sorted(corpus.glob("*.txt"))
    index(tmp_path / "step", FakeEmbedder(), *files[:2])
    index(tmp_path / "step", FakeEmbedder(), *files[1:4])
    files[0].write_text(files[0].read_text().replace("Biden", "president Biden", 1))
    index(tmp_path / "step", FakeEmbedder(), *files)
    index(tmp_path / "full", FakeEmbedder(), *files)
    assert snapshot(tmp_path / "step") == snapshot(tmp_path / "full")


def test_metadata_changes_update_the_article_without_embedding(tmp_path):
    write(tmp_path / "a.jsonl", json.dumps({"id": "a", "text": "Rutte sprak in Den Haag.", "date": "2021-05"}))
    index(tmp_path / "idx", FakeEmbedder(), tmp_path / "a.jsonl")
    write(tmp_path / "a.jsonl", json.dumps({"id": "a", "text": "Rutte sprak in Den Haag.", "date": "2021-06",
                                            "title": "Rutte"}))
    embedder = FakeEmbedder()
    report = index(tmp_path / "idx", embedder, tmp_path / "a.jsonl")
    assert report.updated == 1 and embedder.documents_embedded == 0 and report.published
    hit = Searcher(IndexDirectory(tmp_path / "idx"), embedder).search("Rutte").hits[0]
    assert (hit.date, hit.title) == ("2021-06", "Rutte")


def test_the_same_text_is_embedded_once_even_in_two_articles(tmp_path):
    wire = "Het ANP meldt dat de Tweede Kamer morgen stemt over de begroting."
    write(tmp_path / "a.jsonl", "\n".join(json.dumps({"id": i, "text": wire}) for i in ("a", "b", "c")))
    embedder = FakeEmbedder()
    report = index(tmp_path / "idx", embedder, tmp_path / "a.jsonl")
    assert report.chunks == 3 and embedder.documents_embedded == 1


def test_prune_removes_articles_whose_file_is_gone_and_nothing_else(tmp_path, corpus):
    other = tmp_path / "other"
    write(other / "extra.jsonl", json.dumps({"id": "x1", "text": "Een artikel uit een andere map."}))
    index(tmp_path / "idx", FakeEmbedder(), corpus, other)
    gone = next(corpus.glob("002_*.txt"))
    gone.unlink()
    without_prune = index(tmp_path / "idx", FakeEmbedder(), corpus)
    assert (without_prune.removed, without_prune.kept, without_prune.articles) == (0, 2, 6)
    report = index(tmp_path / "idx", FakeEmbedder(), corpus, prune_under=[corpus])
    assert report.removed == 1 and report.articles == 5
    store_ids = {d.document.doc_id for d in _documents(tmp_path / "idx")}
    assert gone.stem not in store_ids and "x1" in store_ids


def test_prune_keeps_the_articles_of_a_file_that_cannot_be_read_this_time(tmp_path, corpus):
    index(tmp_path / "idx", FakeEmbedder(), corpus)
    broken = next(corpus.glob("004_*.txt"))
    broken.write_bytes(b"\xff\xfe not utf-8 any more")
    report = index(tmp_path / "idx", FakeEmbedder(), corpus, prune_under=[corpus])
    assert report.removed == 0 and report.articles == 5
    assert [p.path for p in report.problems] == [str(broken)]


def test_remove_by_id_needs_no_model_and_reports_unknown_ids(tmp_path, corpus):
    index(tmp_path / "idx", FakeEmbedder(), corpus)
    doomed = next(corpus.glob("001_*.txt")).stem
    report = update_index(IndexDirectory(tmp_path / "idx"), None, None,
                          remove=[doomed, "no-such-article"])
    assert (report.removed, report.unknown, report.articles) == (1, ["no-such-article"], 4)
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), FakeEmbedder())
    assert all(h.doc_id != doomed for h in searcher.search("Biden Poetin Genève", k=10).hits)


def test_a_new_chunk_budget_rechunks_everything_and_reuses_what_it_can(tmp_path, corpus):
    index(tmp_path / "idx", FakeEmbedder(), corpus, max_tokens=64)
    embedder = FakeEmbedder()
    report = index(tmp_path / "idx", embedder, corpus, max_tokens=128)
    assert report.unchanged == 5 and report.published
    assert report.reused > 0  # sentences keep their vectors; new, longer passages are embedded
    index(tmp_path / "fresh", FakeEmbedder(), corpus, max_tokens=128)
    assert snapshot(tmp_path / "idx") == snapshot(tmp_path / "fresh")
    assert IndexDirectory(tmp_path / "idx").manifest().chunker["max_tokens"] == 128


def test_removing_from_an_index_that_does_not_exist_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="there is no index at"):
        update_index(IndexDirectory(tmp_path / "nothing"), None, None, remove=["a"])


def _documents(root):
    with IndexVersion.open(IndexDirectory(root).current_version(), vectors=False,
                           keywords=False) as version:
        return version.store.documents()


def test_cli_index_prune_remove_and_backup(run, fake_model, tmp_path, corpus):
    idx = tmp_path / "idx"
    assert run("index", corpus, "--index", idx, "--model", fake_model).exit_code == 0
    result = run("index", corpus, "--index", idx, "--model", fake_model)
    assert result.exit_code == 0 and "Nothing changed (0 added, 0 updated, 5 unchanged, 0 removed)" in result.stdout
    next(corpus.glob("000_*.txt")).unlink()
    data = json.loads(run("index", corpus, "--index", idx, "--model", fake_model, "--prune", "--json").stdout)
    assert (data["removed"], data["unchanged"], data["articles"], data["embedded"]) == (1, 4, 4, 0)

    doomed = next(corpus.glob("001_*.txt")).stem
    result = run("remove", doomed, "ghost", "--index", idx)
    assert result.exit_code == 3
    assert "0 added, 0 updated, 0 unchanged, 1 removed" in result.stdout
    assert "Not in the index (1): ghost" in result.stderr
    result = run("remove", "ghost", "--index", idx, "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["unknown"] == ["ghost"]
    result = run("remove", "x", "--index", tmp_path / "nowhere")
    assert result.exit_code == 1 and "there is no index at" in result.stderr
    assert "Traceback" not in result.output

    result = run("backup", tmp_path / "copy", "--index", idx)
    assert result.exit_code == 0 and "(3 articles," in result.stdout
    searched = run("search", "Poetin", "--index", tmp_path / "copy", "--json")
    assert searched.exit_code == 0 and json.loads(searched.stdout)["results"]
    result = run("backup", tmp_path / "copy", "--index", idx)
    assert result.exit_code == 1 and "already exists" in result.stderr


FLOOD = {"id": "knmi-2021-07", "date": "2021-07",
         "text": "Het KNMI meldt dat juli 2021 in Zuid-Limburg de natste julimaand ooit was. De Maas "
                 "trad buiten haar oevers en in Valkenburg stond het water meters hoog in de straten."}


@pytest.mark.model
def test_incremental_updates_with_the_real_model(run, use_real_embedder, tmp_path, corpus):
    idx = tmp_path / "idx"
    first = json.loads(run("index", corpus, "--index", idx, "--json").stdout)
    assert first["added"] == 5 and first["embedded"] > 100
    write(corpus / "extra.jsonl", json.dumps(FLOOD) + "\n")
    second = json.loads(run("index", corpus, "--index", idx, "--json").stdout)
    assert (second["added"], second["unchanged"], second["articles"]) == (1, 5, 6)
    assert 1 <= second["embedded"] <= 3  # the new passage and its sentences, nothing else

    english = json.loads(run("search", "flooding of the Meuse in Limburg", "--index", idx, "--json").stdout)
    assert english["results"][0]["doc_id"] == "knmi-2021-07"
    assert json.loads(run("search", "Wat zei Poetin over Navalny?", "--index", idx,
                          "--json").stdout)["results"][0]["doc_id"] == "001_2bed4d3526be678e"

    assert run("remove", "knmi-2021-07", "--index", idx).exit_code == 0
    after = json.loads(run("search", "flooding of the Meuse in Limburg", "--index", idx, "--json").stdout)
    assert all(hit["doc_id"] != "knmi-2021-07" for hit in after["results"])


def test_an_unchanged_folder_or_a_removal_never_loads_the_model(run, fake_model, tmp_path, corpus,
                                                                monkeypatch):
    loads = []
    monkeypatch.setattr("indexer.embedders.load_embedder",
                        lambda spec, *_: loads.append(spec) or FakeEmbedder(spec=spec))
    assert run("index", corpus, "--index", tmp_path / "idx", "--model", fake_model).exit_code == 0
    assert len(loads) == 1
    assert run("index", corpus, "--index", tmp_path / "idx", "--model", fake_model).exit_code == 0
    assert run("remove", next(corpus.glob("000_*.txt")).stem, "--index", tmp_path / "idx").exit_code == 0
    assert len(loads) == 1
    write(corpus / "new.jsonl", json.dumps({"id": "n1", "text": "Een nieuw artikel."}))
    result = run("index", corpus, "--index", tmp_path / "idx", "--model", fake_model, "--json")
    assert json.loads(result.stdout)["added"] == 2 and len(loads) == 2  # the removed one comes back


def test_a_version_with_a_corrupt_file_is_a_clear_error_not_a_traceback(run, fake_model, tmp_path, corpus):
    assert run("index", corpus, "--index", tmp_path / "idx", "--model", fake_model).exit_code == 0
    segment_file(IndexDirectory(tmp_path / "idx").current_version(), "vectors.faiss").write_bytes(b"not faiss")
    write(corpus / "new.jsonl", json.dumps({"id": "n1", "text": "Een nieuw artikel."}))
    result = run("index", corpus, "--index", tmp_path / "idx", "--model", fake_model)
    assert result.exit_code == 1 and "is damaged and cannot be built on" in result.stderr
    assert "Traceback" not in result.output


def test_a_removed_article_that_comes_back_is_not_embedded_again(tmp_path, corpus):
    index(tmp_path / "idx", FakeEmbedder(), corpus)
    doomed = next(corpus.glob("001_*.txt"))
    update_index(IndexDirectory(tmp_path / "idx"), None, None, remove=[doomed.stem])
    embedder = FakeEmbedder()
    report = index(tmp_path / "idx", embedder, corpus)
    assert report.added == 1 and embedder.documents_embedded == 0 and report.embedded == 0
    article = next(corpus.glob("003_*.txt"))
    original = article.read_text()
    article.write_text(original + "\n\nEen correctie die later weer verdwijnt.\n")
    index(tmp_path / "idx", FakeEmbedder(), corpus)
    article.write_text(original)  # the correction is reverted: its old passages come back
    embedder = FakeEmbedder()
    assert index(tmp_path / "idx", embedder, corpus).updated == 1 and embedder.documents_embedded == 0
    fresh = FakeEmbedder()
    index(tmp_path / "fresh", fresh, corpus)
    assert snapshot(tmp_path / "idx") == snapshot(tmp_path / "fresh")
