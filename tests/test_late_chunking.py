"""How passage and sentence vectors are made: separately (the default), late chunking (pooled
from the passage's own pass) and passages from sentences; the pooling, the pipeline's keys and
reuse, a change of method on an existing index, and the real model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexer.embedders.late_chunking import pool, sentence_token_masks
from indexer.index.directory import IndexDirectory
from indexer.index.manifest import MANIFEST
from indexer.write.chunking import ParagraphChunker, sentence_spans
from indexer.write.pipeline import load_for_index, update_index
from indexer.write.sentence_vectors import (FROM_SENTENCES, LATE, SEPARATE, method_of,
                                            passage_key, sentence_key, with_method)
from search.searcher import Searcher
from tests.conftest import SAMPLE_DIR, write
from tests.fakes import FakeEmbedder

PROMPT = "passage: "


def test_tokens_belong_to_the_sentence_their_characters_are_in():
    text = "Een zin hier. Nog een zin."
    # (start, end) of each token in PROMPT + text; specials and padding are (0, 0)
    words = [(0, 7), (7, 8)] + [(len(PROMPT) + s, len(PROMPT) + e) for s, e in
                                ((0, 3), (4, 7), (8, 13), (14, 17), (18, 21), (22, 26))]
    offsets = np.array([(0, 0)] + words + [(0, 0), (0, 0)])
    masks = sentence_token_masks(offsets, [(0, 13), (14, 26)], len(PROMPT))
    assert masks.tolist() == [[False] * 3 + [True] * 3 + [False] * 5,
                              [False] * 6 + [True] * 3 + [False] * 2]


def test_leading_whitespace_the_model_never_saw_shifts_the_offsets():
    # The passage "  Ab cd." is read stripped: "Ab cd." at PROMPT's end.
    offsets = np.array([(0, 0), (len(PROMPT), len(PROMPT) + 2), (len(PROMPT) + 3, len(PROMPT) + 6)])
    masks = sentence_token_masks(offsets, [(2, 8)], len(PROMPT) - 2)
    assert masks.tolist() == [[False, True, True]]


def test_pooling_means_the_tokens_in_fp32_and_normalises():
    tokens = np.array([[1, 0], [0, 2], [0, 4], [9, 9]], dtype=np.float32)
    attention = np.array([1, 1, 1, 0])
    masks = np.array([[False, True, True, False], [False, False, False, False]])
    passage, sentences = pool(tokens, attention, masks)
    assert np.allclose(passage, np.array([1, 6]) / np.linalg.norm([1, 6]))
    assert np.allclose(sentences[0], [0, 1])
    # a sentence the model's length limit cut off gets the passage's vector, not zeros
    assert np.allclose(sentences[1], passage)
    assert passage.dtype == sentences.dtype == np.float32


def test_keys_late_sentences_by_passage_and_place_separate_ones_by_text():
    a = sentence_key(LATE, "passage-1", "Zin.", 0, 4)
    assert a != sentence_key(LATE, "passage-2", "Zin.", 0, 4) != sentence_key(LATE, "passage-1", "Zin.", 5, 9)
    assert sentence_key(SEPARATE, "passage-1", "Zin.", 0, 4) == sentence_key(SEPARATE, "p2", "Zin.", 9, 13)
    assert method_of({"name": "paragraph"}) == SEPARATE and method_of({"sentence_vectors": LATE}) == LATE
    # a passage made from its sentences is not the model's vector of its text
    assert passage_key(FROM_SENTENCES, "Zin.") != passage_key(SEPARATE, "Zin.") == passage_key(LATE, "Zin.")
    # the default records nothing, so indexes made before keep their settings
    assert with_method({"name": "paragraph"}, SEPARATE) == {"name": "paragraph"}
    assert with_method({"name": "paragraph"}, LATE) == {"name": "paragraph", "sentence_vectors": LATE}


def build(root, embedder, paths=(SAMPLE_DIR,), method=LATE):
    return update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder, 64),
                        load_for_index(list(paths)), sentence_vectors=method)


def test_the_model_reads_each_passage_once_and_no_sentence(tmp_path):
    embedder = FakeEmbedder()
    report = build(tmp_path / "idx", embedder)
    manifest = IndexDirectory(tmp_path / "idx").manifest()
    assert manifest.chunker["sentence_vectors"] == LATE
    assert report.sentences > report.chunks
    assert embedder.documents_embedded == report.embedded <= report.chunks


def test_sentence_vectors_are_the_passage_pass_s(tmp_path):
    embedder = FakeEmbedder()
    build(tmp_path / "idx", embedder)
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), embedder)
    conn = searcher.store._conn
    rows = conn.execute('SELECT s.id, s.chunk_id, s.start, s."end", c.text, c.start FROM sentences s '
                        "JOIN chunks c ON c.id = s.chunk_id ORDER BY s.id").fetchall()
    stored = searcher.dense.sentences.vectors(np.array([r[0] for r in rows], np.int64))
    for (_, _, s, e, text, start), vector in zip(rows, stored):
        own = embedder.embed_passages([text], [[(s - start, e - start)]])[1][0][0]
        assert float(own @ vector) == pytest.approx(1.0, abs=1e-5)
    searcher.close()


def test_an_unchanged_passage_keeps_its_vectors_and_a_changed_one_is_read_again(tmp_path):
    corpus = tmp_path / "in"
    for path in SAMPLE_DIR.glob("*.txt"):
        write(corpus / path.name, path.read_text())
    build(tmp_path / "idx", FakeEmbedder(), [corpus])
    first = next(corpus.glob("*.txt"))
    write(first, first.read_text() + "\n\nEen nieuwe alinea van vijf woorden erbij.")
    again = FakeEmbedder()
    report = build(tmp_path / "idx", again, [corpus])
    assert report.updated == 1 and 1 <= again.documents_embedded <= 2 and report.reused > 0


def test_an_index_of_separate_sentences_searches_and_a_change_of_method_re_embeds_it(tmp_path):
    """An index of sentences embedded on their own (every index made before, no method in its
    manifest) opens and searches as it is, and the default run leaves it be; a run with another
    method re-splits and re-embeds it all, as a chunker change does, so two kinds of sentence
    vectors never share a version."""
    build(tmp_path / "idx", FakeEmbedder(), method=SEPARATE)
    path = IndexDirectory(tmp_path / "idx").current_version() / MANIFEST
    assert "sentence_vectors" not in json.loads(path.read_text())["chunker"]  # as before
    again = FakeEmbedder()
    assert not update_index(IndexDirectory(tmp_path / "idx"), again, ParagraphChunker(again, 64),
                            load_for_index([SAMPLE_DIR])).published  # the default: nothing to redo
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), FakeEmbedder())
    assert searcher.search("Poetin Navalny", k=3).hits
    searcher.close()

    embedder = FakeEmbedder()
    report = build(tmp_path / "idx", embedder)
    assert report.published and report.added == 0 and report.updated == 0
    assert embedder.documents_embedded == report.embedded > 0  # every passage read again
    directory = IndexDirectory(tmp_path / "idx")
    assert directory.manifest().chunker["sentence_vectors"] == LATE
    searcher = Searcher(directory, embedder)
    conn = searcher.store._conn
    chunk_id, s, e, text, start = conn.execute(
        'SELECT s.chunk_id, s.start, s."end", c.text, c.start FROM sentences s '
        "JOIN chunks c ON c.id = s.chunk_id ORDER BY s.id LIMIT 1").fetchone()
    stored = searcher.dense.sentences.vectors(np.array([0], np.int64))[0]
    late = embedder.embed_passages([text], [[(s - start, e - start)]])[1][0][0]
    assert float(stored @ late) == pytest.approx(1.0, abs=1e-5)  # the late kind, not the old one
    searcher.close()


def test_the_default_embeds_every_passage_and_every_sentence(tmp_path):
    embedder = FakeEmbedder()
    report = update_index(IndexDirectory(tmp_path / "idx"), embedder, ParagraphChunker(embedder, 64),
                          load_for_index([SAMPLE_DIR]))
    assert report.embedded > report.chunks and embedder.documents_embedded == report.embedded
    assert method_of(IndexDirectory(tmp_path / "idx").manifest().chunker) == SEPARATE


def test_passages_from_sentences_read_only_sentences_and_average_them(tmp_path):
    embedder = FakeEmbedder()
    report = build(tmp_path / "idx", embedder, method=FROM_SENTENCES)
    assert embedder.documents_embedded == report.embedded < report.sentences + report.chunks
    assert IndexDirectory(tmp_path / "idx").manifest().chunker["sentence_vectors"] == FROM_SENTENCES
    searcher = Searcher(IndexDirectory(tmp_path / "idx"), embedder)
    conn = searcher.store._conn
    chunk_id, text, start = conn.execute("SELECT id, text, start FROM chunks ORDER BY id LIMIT 1").fetchone()
    spans = [(s - start, e - start) for s, e in conn.execute(
        'SELECT start, "end" FROM sentences WHERE chunk_id = ? ORDER BY id', (chunk_id,))]
    sentences = embedder.embed_documents([text[s:e] for s, e in spans])
    mean = np.average(sentences, axis=0, weights=[e - s for s, e in spans])
    stored = searcher.dense.passages.vectors(np.array([chunk_id], np.int64))[0]
    assert float(stored @ (mean / np.linalg.norm(mean))) == pytest.approx(1.0, abs=1e-5)
    searcher.close()


@pytest.mark.model
def test_the_real_model_pools_passages_as_sentence_transformers_does(real_embedder):
    texts = [p.read_text().split("\n", 1)[1][:700] for p in sorted(SAMPLE_DIR.glob("*.txt"))[:3]]
    spans = [sentence_spans(t, 0, len(t)) for t in texts]
    passages, sentences = real_embedder.embed_passages(texts, spans)
    reference = real_embedder._model.encode_document([t.strip() for t in texts],
                                                     normalize_embeddings=True, convert_to_numpy=True)
    assert np.min(np.sum(passages * reference, axis=1)) > 0.99999
    for text, own, vectors, passage in zip(texts, spans, sentences, passages):
        assert vectors.shape == (len(own), 384)
        alone = real_embedder.embed_documents([text[s:e] for s, e in own])
        # in its passage's context: like the sentence read alone, and like its passage
        assert np.all(np.sum(vectors * alone, axis=1) > 0.75) and np.all(vectors @ passage > 0.75)
        assert not np.allclose(vectors, passage, atol=1e-3)
