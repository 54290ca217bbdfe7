"""The index directory, the write path and the read path, on the fake model (fast)."""

import json

import pytest

from indexer.write.chunking import ParagraphChunker
from indexer.errors import (IndexBusyError, IndexFormatError, IndexNotFoundError, IndexWriteError,
                            InputError, ModelMismatchError, QueryError, VraagbaakError)
from indexer.index.manifest import FORMAT_VERSION, MANIFEST
from indexer.index.directory import VERSIONS, IndexDirectory
from indexer.write.pipeline import load_for_index, update_index
from indexer.index.vectors.flat import FlatIPIndex
from indexer.index.vectors import load_vector_index
from search.searcher import Searcher
from tests.index_state import segment_file
from tests.conftest import SAMPLE_DIR, write
from tests.fakes import FakeEmbedder


def build(root, embedder, paths=(SAMPLE_DIR,), max_tokens=64):
    return update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder, max_tokens),
                        load_for_index(list(paths)))


def test_index_directory_describes_itself(tmp_path, fake_embedder):
    report = build(tmp_path / "idx", fake_embedder)
    directory = IndexDirectory(tmp_path / "idx")
    manifest = directory.manifest()
    assert manifest.format_version == FORMAT_VERSION == 4
    assert manifest.language == "nl" and manifest.sentences > manifest.chunks
    assert manifest.keyword_index["language"] == "nl"
    assert manifest.model == {"model_id": "test/fake", "kind": "folder",
                              "location": "/nonexistent/fake", "fingerprint": "fp-fake-64"}
    assert manifest.dim == 64
    assert manifest.chunker == {"name": "paragraph", "max_tokens": 64, "dedupe_paragraphs": True}
    assert (manifest.articles, manifest.chunks) == (5, report.chunks) and report.chunks > 5
    assert manifest.tokens == report.tokens
    version = directory.current_version()
    assert sorted(p.name for p in version.iterdir()) == [
        "keywords", "keywords-articles", "manifest.json", "segments", "tombstones.json"]
    assert manifest.article_index == {"kind": "tantivy", "articles": 5}
    (segment,) = manifest.segments  # one build, one segment
    assert sorted(p.name for p in (version / "segments" / segment["name"]).iterdir()) == [
        "chunks.sqlite", "names.json", "sentences.faiss", "vectors.faiss"]
    assert manifest.files() == ["manifest.json", "tombstones.json", "keywords", "keywords-articles"] + [
        f"segments/{segment['name']}/{f}" for f in ("chunks.sqlite", "vectors.faiss", "sentences.faiss")]
    assert len(load_vector_index(version / "segments" / segment["name"] / "vectors.faiss")) == report.chunks
    assert manifest.next_ids == {"articles": 5, "chunks": report.chunks,
                                 "sentences": report.sentences}


def test_dense_search_matches_a_brute_force_oracle(tmp_path, fake_embedder):
    """Dense score = 0.5 * passage cosine + 0.5 * best sentence cosine, over every passage."""
    build(tmp_path / "idx", fake_embedder, max_tokens=48)
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), fake_embedder)
    (segment,) = searcher.opened.segments
    conn = segment.store._conn
    chunks = conn.execute("SELECT id, text, start FROM chunks ORDER BY id").fetchall()
    articles = dict(conn.execute("SELECT doc_id, text FROM documents"))
    owner = dict(conn.execute("SELECT id, doc_id FROM chunks"))
    sentences = conn.execute('SELECT chunk_id, start, "end" FROM sentences ORDER BY id').fetchall()
    for question in ["Poetin Navalny opsluiting", "cyberveiligheid zestien systemen", "Genève"]:
        q = fake_embedder.embed_queries([question])[0]
        best_sentence = {}
        for chunk_id, s, e in sentences:
            cos = float(fake_embedder.embed_documents([articles[owner[chunk_id]][s:e]])[0] @ q)
            best_sentence[chunk_id] = max(best_sentence.get(chunk_id, -1.0), cos)
        expected = sorted(((0.5 * float(fake_embedder.embed_documents([t])[0] @ q)
                            + 0.5 * best_sentence[i], i) for i, t, _ in chunks), reverse=True)[:7]
        hits = searcher.search(question, k=7, mode="dense", group=False).hits
        assert [h.dense_score for h in hits] == pytest.approx([round(sc, 4) for sc, _ in expected],
                                                              abs=1e-4)
        assert [h.rank for h in hits] == list(range(1, 8))


def test_hits_carry_article_metadata_and_exact_offsets(tmp_path, fake_embedder):
    build(tmp_path / "idx", fake_embedder)
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), fake_embedder)
    for hit in searcher.search("Villa La Grange Genève", k=5).hits:
        doc = searcher.store.get_document(hit.doc_id)
        assert doc.text[hit.start:hit.end] == hit.text
        assert hit.date == doc.date and hit.chunk_id.startswith(hit.doc_id + "#")
    assert set(searcher.search("Biden", k=1).as_dict()["results"][0]) >= {
        "rank", "score", "doc_id", "chunk_id", "date", "title", "text", "start", "end",
        "snippet", "snippet_start", "snippet_end", "highlights"}


def test_k_larger_than_the_index_returns_what_there_is(tmp_path, fake_embedder):
    write(tmp_path / "one.txt", "Eén korte alinea.")
    build(tmp_path / "idx", fake_embedder, paths=[tmp_path / "one.txt"])
    hits = Searcher(IndexDirectory(tmp_path / "idx"), fake_embedder).search("alinea", k=50).hits
    assert len(hits) == 1


@pytest.mark.parametrize("query, k, message", [
    ("", 5, "the question is empty"), ("   \n ", 5, "the question is empty"),
    ("x" * 2001, 5, "2001 characters long"), ("vraag", 0, "k must be between 1 and 100"),
    ("vraag", 101, "k must be between 1 and 100"),
])
def test_bad_questions_are_refused(tmp_path, fake_embedder, query, k, message):
    build(tmp_path / "idx", fake_embedder)
    with pytest.raises(QueryError, match=message):
        Searcher(IndexDirectory(tmp_path / "idx"), fake_embedder).search(query, k=k)


def test_bad_files_are_reported_and_good_ones_indexed(tmp_path, fake_embedder):
    write(tmp_path / "in" / "good.txt", " date 2021-06 Goed.")
    write(tmp_path / "in" / "bad.txt", b"\xff\xfe\x00b\x00i\x00n")
    report = build(tmp_path / "idx", fake_embedder, paths=[tmp_path / "in", tmp_path / "nope"])
    assert report.articles == 1
    assert [p.message for p in report.problems] == [
        "looks like a binary file (it holds NUL bytes), not text", "no such file or directory"]


def test_nothing_to_index_is_an_error_and_the_old_index_stays(tmp_path, fake_embedder):
    build(tmp_path / "idx", fake_embedder)
    before = IndexDirectory(tmp_path / "idx").current_version()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="nothing to index") as info:
        build(tmp_path / "idx", fake_embedder, paths=[tmp_path / "empty"])
    assert "folder holds no .txt or .jsonl files" in info.value.hint
    assert IndexDirectory(tmp_path / "idx").current_version() == before


def test_each_change_is_a_new_version_and_only_the_one_before_is_kept(tmp_path, fake_embedder):
    build(tmp_path / "idx", fake_embedder)
    directory = IndexDirectory(tmp_path / "idx")
    names = [directory.current_version().name]
    for n in range(3):
        write(tmp_path / f"new{n}.txt", f"Nieuw artikel nummer {n}.")
        build(tmp_path / "idx", fake_embedder, paths=[tmp_path / f"new{n}.txt"])
        names.append(directory.current_version().name)
    assert directory.manifest().articles == 8  # added to, not replaced
    assert len(set(names)) == 4
    assert sorted(p.name for p in (tmp_path / "idx" / VERSIONS).iterdir()) == sorted(names[-2:])
    assert (tmp_path / "idx" / "PREVIOUS").read_text().strip() == names[-2]


def test_a_failed_write_leaves_the_previous_version_intact(tmp_path, fake_embedder, monkeypatch):
    build(tmp_path / "idx", fake_embedder)
    directory = IndexDirectory(tmp_path / "idx")
    before = directory.current_version()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(FlatIPIndex, "save", crash)
    write(tmp_path / "new.txt", "Een nieuw artikel, dat niet meer past.")
    with pytest.raises(IndexWriteError, match="failed .*disk full.*the previous version is unchanged"):
        build(tmp_path / "idx", fake_embedder, paths=[tmp_path / "new.txt"])
    assert directory.current_version() == before
    assert list((tmp_path / "idx" / VERSIONS).iterdir()) == [before]
    assert Searcher(directory, fake_embedder).search("Poetin").hits


def test_leftovers_of_an_interrupted_run_are_never_taken_for_an_index(tmp_path, fake_embedder):
    root = tmp_path / "idx"
    (root / VERSIONS / "v-half-written").mkdir(parents=True)
    write(root / VERSIONS / "v-half-written" / "chunks.sqlite", b"")
    with pytest.raises(IndexNotFoundError, match=f"there is no index at {root}"):
        IndexDirectory(root).current_version()
    build(root, fake_embedder)  # the next run cleans up and publishes
    assert not (root / VERSIONS / "v-half-written").exists()


def test_a_damaged_index_is_reported(tmp_path, fake_embedder):
    build(tmp_path / "idx", fake_embedder)
    directory = IndexDirectory(tmp_path / "idx")
    segment_file(directory.current_version(), "vectors.faiss").unlink()
    with pytest.raises(IndexFormatError, match="damaged.*vectors.faiss"):
        directory.current_version()


def test_a_damaged_index_can_be_rebuilt(tmp_path, fake_embedder):
    build(tmp_path / "idx", fake_embedder)
    (IndexDirectory(tmp_path / "idx").current_version() / MANIFEST).write_text("{garbage")
    with pytest.raises(IndexFormatError, match="cannot be read"):
        IndexDirectory(tmp_path / "idx").manifest()
    build(tmp_path / "idx", fake_embedder)
    assert IndexDirectory(tmp_path / "idx").manifest().articles == 5


def test_an_unknown_format_version_is_refused(tmp_path, fake_embedder):
    build(tmp_path / "idx", fake_embedder)
    path = IndexDirectory(tmp_path / "idx").current_version() / MANIFEST
    path.write_text(json.dumps(json.loads(path.read_text()) | {"format_version": 99}))
    with pytest.raises(IndexFormatError, match="format 99"):
        IndexDirectory(tmp_path / "idx").manifest()


def test_a_folder_that_is_not_an_index_is_never_overwritten(tmp_path, fake_embedder):
    write(tmp_path / "articles" / "mine.txt", "Mijn eigen bestand.")
    with pytest.raises(VraagbaakError, match="not empty and is not a vraagbaak index"):
        build(tmp_path / "articles", fake_embedder)
    assert (tmp_path / "articles" / "mine.txt").read_text() == "Mijn eigen bestand."


def test_two_writers_at_once_the_second_is_refused(tmp_path, fake_embedder):
    build(tmp_path / "idx", fake_embedder)
    with IndexDirectory(tmp_path / "idx").writer():
        with pytest.raises(IndexBusyError, match="another vraagbaak run is writing"):
            build(tmp_path / "idx", fake_embedder)


def test_embeddings_of_different_models_are_never_mixed(tmp_path, fake_embedder):
    build(tmp_path / "idx", fake_embedder)
    other = FakeEmbedder(name="other")
    with pytest.raises(ModelMismatchError, match="built with the model 'test/fake'.*not with 'test/other'"):
        build(tmp_path / "idx", other)
    with pytest.raises(ModelMismatchError, match="'test/fake'.*'test/other'"):
        Searcher(IndexDirectory(tmp_path / "idx"), other)


def test_no_index_yet(tmp_path, fake_embedder):
    with pytest.raises(IndexNotFoundError) as info:
        Searcher(IndexDirectory(tmp_path / "nowhere"), fake_embedder)
    assert "vraagbaak index PATH... --index" in info.value.hint


def test_search_many_matches_single_searches(tmp_path, fake_embedder):
    build(tmp_path / "idx", fake_embedder)
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), fake_embedder)
    questions = ["Poetin", "Biden cyber", "Afghanistan troepen"]
    assert searcher.search_many(questions, k=3) == [searcher.search(q, k=3) for q in questions]
